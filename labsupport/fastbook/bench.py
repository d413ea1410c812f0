"""Benchmark of the three engines: batch throughput, single-call latency, compile time, memory.

Workloads (all seeded, the same flow for every engine):

- ``flow``: the generator's realistic flow (:mod:`labsupport.marketdata`, 4 symbols, 1 M events
  at default scale), through Lab 02's :meth:`MatchingEngine.process_array` and through each
  compiled engine's batch path: ``process_array`` end to end (encoding included), and the kernel
  alone on pre-encoded int64 rows (``process_events``); PnL on and off (the compiled engines
  keep the PnL inside the kernel, Lab 02 in its ``PositionBook``). Repeats interleave the
  candidates; the table gives the median wall-clock rate and the median rate per CPU second of
  the replaying thread (robust to neighbours on a shared machine).
- ``depth``: the same kernel on Lab 02's synthetic depth workload (D levels per side, adds at
  random depths and cancels of random live orders): how the rate changes with book depth.
- ``mix``: the flow with the share of marketable orders scaled up: how it changes with the mix.
- ``latency``: one call per event from Python (``add``/``cancel``/``modify`` with Python objects)
  for each engine, and each compiled kernel's lean entry point (``engine.kernel.add`` ... with
  ints: book index, id key; no Python object made on the way in or out), ``perf_counter_ns``
  around each call (its own 30-100 ns included).
- ``compile``: Numba's compile of the kernel in a fresh process with an empty cache, then the
  load from the cache it wrote.
- ``memory``: bytes per resting order with N orders resting (tracemalloc for Lab 02's objects;
  the pool and id table for the compiled engines, whose levels cost per book, not per order).

Run it alone on a quiet machine: ``python -m labsupport.fastbook.bench`` (LAB_SCALE=ci for a
smoke run). Writes ``build/bench/fastbook.json``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass

from labsupport import cli
from labsupport.measure import BenchReport, LatencyRecorder, scaled

from ..orderbook.engine import MatchingEngine
from ..orderbook.types import ADD, BUY, CANCEL, LIMIT, SELL
from .backends import FastBookError, cython_available
from .engine import FastEngine

PROG = "python -m labsupport.fastbook.bench"


@dataclass(frozen=True)
class BenchSizes:
    events: int
    repeats: int
    latency_events: int
    resting: int
    depths: tuple[int, ...]
    depth_events: int

    @classmethod
    def for_scale(cls, events: int | None = None, repeats: int | None = None) -> BenchSizes:
        return cls(events=events or scaled(ci=100_000, default=1_000_000, full=4_000_000),
                   repeats=repeats or scaled(ci=2, default=5, full=7),
                   latency_events=scaled(ci=20_000, default=100_000, full=200_000),
                   resting=scaled(ci=20_000, default=100_000, full=500_000),
                   depths=scaled(ci=(10, 1000), default=(10, 100, 1000, 10_000)),
                   depth_events=scaled(ci=50_000, default=200_000, full=500_000))


def fast_backends() -> list[str]:
    return ["numba", "cython"] if cython_available() else ["numba"]


def generated_flow(n_events: int, seed: int = 7, n_symbols: int = 4, **overrides):
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow

    return generate_order_flow(OrderFlowConfig(n_events=n_events, n_symbols=n_symbols,
                                               seed=seed, **overrides))


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - w, time.thread_time() - c


def flow_candidates(flow) -> dict[str, callable]:
    """name -> a function that builds a fresh engine, replays ``flow`` and returns the count
    (encoding done outside the timed part only for the ``kernel`` rows)."""
    ev, syms = flow.events, flow.symbols
    out = {
        "python (Lab 02) pnl": lambda: MatchingEngine().process_array(ev, syms),
        "python (Lab 02) no pnl": lambda: MatchingEngine(pnl=False).process_array(ev, syms),
    }
    for b in fast_backends():
        out[f"{b} process_array pnl"] = lambda b=b: FastEngine(b).process_array(ev, syms)
        out[f"{b} process_array no pnl"] = \
            lambda b=b: FastEngine(b, pnl=False).process_array(ev, syms)
        out[f"{b} kernel pnl"] = ("kernel", b, True)
        out[f"{b} kernel no pnl"] = ("kernel", b, False)
    return out


def throughput(flow, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU rates of every candidate, repeats interleaved."""
    n = len(flow.events)
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for b in fast_backends():  # compile / load from the cache outside the timing
        FastEngine(b).process_array(flow.events[:100], flow.symbols)
    cands = flow_candidates(flow)
    for _ in range(repeats):
        for name, fn in cands.items():
            if isinstance(fn, tuple):
                eng = FastEngine(fn[1], pnl=fn[2])
                rows = eng.encode_array(flow.events, flow.symbols)
                w, c = _timed(lambda eng=eng, rows=rows: eng.process_events(rows))
            else:
                w, c = _timed(fn)
            walls.setdefault(name, []).append(n / w)
            cpus.setdefault(name, []).append(n / c if c > 0 else float("nan"))
    return {k: {"events": n, "ev_per_s": statistics.median(walls[k]),
                "ev_per_cpu_s": statistics.median(cpus[k])} for k in walls}


def depth_scaling(depths, n_events: int) -> list[dict]:
    from ..orderbook.bench import depth_rows

    out = []
    for d in depths:
        prefill, stream = depth_rows(d, n_events)
        for b in fast_backends():
            eng = FastEngine(b, pnl=False)
            eng.process_rows(prefill)
            rows = eng.encode_rows(stream)
            w, c = _timed(lambda eng=eng, rows=rows: eng.process_events(rows))
            out.append({"engine": b, "depth": d, "live": eng.live_order_count,
                        "ev_per_s": len(rows) / w, "ev_per_cpu_s": len(rows) / max(c, 1e-9)})
        eng = MatchingEngine(pnl=False)
        eng.process_rows(prefill)
        w, c = _timed(lambda eng=eng, stream=stream: eng.process_rows(stream))
        out.append({"engine": "python", "depth": d, "live": eng.live_order_count,
                    "ev_per_s": len(stream) / w, "ev_per_cpu_s": len(stream) / max(c, 1e-9)})
    return out


def mix_scaling(n_events: int, factors=(1, 2, 3)) -> list[dict]:
    """Rates when the marketable share (market, IOC, FOK, through-the-touch limits) grows."""
    base = dict(frac_market=0.012, frac_ioc=0.016, frac_fok=0.002, frac_limit_through=0.010)
    out = []
    for f in factors:
        flow = generated_flow(n_events, **{k: v * f for k, v in base.items()})
        for kind in ["python", *fast_backends()]:
            if kind == "python":
                eng = MatchingEngine(pnl=False)
                w, c = _timed(lambda eng=eng, flow=flow: eng.process_array(flow.events, flow.symbols))
            else:
                eng = FastEngine(kind, pnl=False)
                rows = eng.encode_array(flow.events, flow.symbols)
                w, c = _timed(lambda eng=eng, rows=rows: eng.process_events(rows))
            out.append({"engine": kind, "marketable": round(sum(base.values()) * f, 3),
                        "trades": eng.trade_count, "ev_per_s": n_events / w,
                        "ev_per_cpu_s": n_events / max(c, 1e-9)})
    return out


def single_call_latency(flow, n_events: int) -> dict[str, LatencyRecorder]:
    """Per-call latency of ``add``/``cancel``/``modify`` called from Python, per engine."""
    rows = flow.events[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks",
                        "qty", "account"]][:n_events].tolist()
    out = {}
    clock = time.perf_counter_ns
    for kind in ["python", *fast_backends()]:
        eng = MatchingEngine(pnl=False) if kind == "python" else FastEngine(kind, pnl=False)
        rec = LatencyRecorder(f"{kind} single call", capacity=len(rows))
        add, cancel, modify = eng.add, eng.cancel, eng.modify
        for seq, sym, action, oid, side, otype, price, qty, acct in rows:
            t = clock()
            if action == ADD:
                add(sym, oid, side, otype, price, qty, acct, seq)
            elif action == CANCEL:
                cancel(oid, None, seq)
            else:
                modify(oid, price, qty, None, seq)
            rec.record(clock() - t)
        out[kind] = rec
    for b in fast_backends():
        out[f"{b} kernel"] = lean_call_latency(rows, b)
    return out


def lean_call_latency(rows: list[tuple], backend: str) -> LatencyRecorder:
    """Per-call latency of the kernel's lean entry point (``engine.kernel.add``/``cancel``/
    ``modify`` with ints), PnL on: what one event costs from Python with no boundary objects."""
    eng = FastEngine(backend)
    books = {sym: eng.book_index(sym) for sym in sorted({r[1] for r in rows})}
    k = eng.kernel
    add, cancel, modify = k.add, k.cancel, k.modify
    rec = LatencyRecorder(f"{backend} kernel lean call (ints)", capacity=len(rows))
    clock = time.perf_counter_ns
    for seq, sym, action, oid, side, otype, price, qty, acct in rows:
        b = books[sym]
        t = clock()
        if action == ADD:
            add(b, oid, side, otype, price, qty, acct, seq)
        elif action == CANCEL:
            cancel(-1, oid, seq)
        else:
            modify(-1, oid, price, qty, seq)
        rec.record(clock() - t)
    return rec


_COMPILE_SNIPPET = (
    "import time; t = time.perf_counter(); "
    "from labsupport.fastbook import _nbcore; _nbcore.warm_up(); "
    "print(time.perf_counter() - t)")


def numba_compile_seconds() -> dict[str, float]:
    """Seconds to get the Numba kernel ready in a fresh process: with an empty cache (the
    compile) and again with the cache that run wrote (the load)."""
    with tempfile.TemporaryDirectory(prefix="fastbook-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = {}
        for name in ("cold_compile_s", "cached_load_s"):
            r = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env, check=True,
                               capture_output=True, text=True, timeout=900)
            out[name] = float(r.stdout.strip().splitlines()[-1])
        return out


def resting_book_rows(n: int) -> list[tuple]:
    """``n`` resting limit orders over 200 levels per side of one book (nothing crosses)."""
    rows = []
    for i in range(n):
        side = BUY if i % 2 else SELL
        off = 1 + (i // 2) % 200
        rows.append((i, "M", ADD, i + 1, side, LIMIT, 50_000 - off if side == BUY else
                     50_000 + off, 100, 1 + i % 50))
    return rows


def memory_per_order(n: int) -> dict[str, float]:
    """Bytes per resting order with ``n`` orders resting, per engine."""
    rows = resting_book_rows(n)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    eng = MatchingEngine(pnl=False)
    eng.process_rows(rows)
    python = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    out = {"python": python}
    for b in fast_backends():
        fe = FastEngine(b, pnl=False)
        fe.process_rows(rows)
        m = fe.memory_bytes()
        out[b] = (m["pool"] + m["table"]) / fe.live_order_count
        out[f"{b} slot"] = m["pool"] / fe.pool.shape[1]
    return out


def build_report(sizes: BenchSizes, *, compile_time: bool = True) -> BenchReport:
    report = BenchReport("fastbook")
    flow = generated_flow(sizes.events)
    for name, r in throughput(flow, sizes.repeats).items():
        report.add(f"flow {name}", section="throughput on the same generated flow",
                   events=r["events"], ev_per_s_median=round(r["ev_per_s"]),
                   ev_per_cpu_s=round(r["ev_per_cpu_s"]))
    for r in depth_scaling(sizes.depths, sizes.depth_events):
        report.add(f"depth {r['depth']} {r['engine']}", section="rate against book depth",
                   live_orders=r["live"], ev_per_s=round(r["ev_per_s"]),
                   ev_per_cpu_s=round(r["ev_per_cpu_s"]))
    for r in mix_scaling(min(sizes.events, scaled(ci=50_000, default=300_000))):
        report.add(f"mix x{r['marketable']} {r['engine']}", section="rate against order mix",
                   marketable_share=r["marketable"], trades=r["trades"],
                   ev_per_s=round(r["ev_per_s"]), ev_per_cpu_s=round(r["ev_per_cpu_s"]))
    for name, rec in single_call_latency(flow, sizes.latency_events).items():
        s = rec.summary()
        report.add(f"latency {name}", section="single event called from Python", count=s.count,
                   p50_ns=round(s.p50_ns), p99_ns=round(s.p99_ns), p999_ns=round(s.p999_ns))
    if compile_time:
        c = numba_compile_seconds()
        report.add("numba kernel", section="numba compile time",
                   cold_compile_s=round(c["cold_compile_s"], 2),
                   cached_load_s=round(c["cached_load_s"], 2))
    mem = memory_per_order(sizes.resting)
    for name, v in mem.items():
        report.add(f"memory {name}", section="bytes per resting order", resting=sizes.resting,
                   bytes=round(v, 1))
    return report


def _positive(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return v


def run(argv: list[str] | None = None) -> BenchReport:
    ap = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=_positive, default=None,
                    help="events of generated flow (default: by LAB_SCALE, 1 M by default)")
    ap.add_argument("--repeats", type=_positive, default=None)
    ap.add_argument("--no-compile", action="store_true",
                    help="skip the Numba cold-compile measurement (two fresh processes)")
    ap.add_argument("--no-write", action="store_true", help="do not write build/bench JSON")
    args = ap.parse_args(argv)
    sizes = BenchSizes.for_scale(args.events, args.repeats)
    report = build_report(sizes, compile_time=not args.no_compile)
    report.print()
    if not args.no_write:
        print(f"wrote {report.write()}")
    return report


@cli.entry(PROG, input_errors=(FastBookError,))
def main(argv: list[str] | None = None) -> int:
    """Command line entry (``python -m labsupport.fastbook.bench``); returns the exit status."""
    run(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def phase_times(flow, backend: str) -> dict[str, float]:
    """Seconds of each phase of ``process_array``: encoding the structured array (numpy), the
    kernel without PnL, and what the PnL adds inside the kernel (run with PnL minus without)."""
    eng = FastEngine(backend, pnl=False)
    t0 = time.perf_counter()
    rows = eng.encode_array(flow.events, flow.symbols)
    t1 = time.perf_counter()
    eng.process_events(rows)
    t2 = time.perf_counter()
    with_pnl = FastEngine(backend)
    rows = with_pnl.encode_array(flow.events, flow.symbols)
    t3 = time.perf_counter()
    with_pnl.process_events(rows)
    t4 = time.perf_counter()
    return {"encode": t1 - t0, "kernel": t2 - t1, "pnl in kernel": max(0.0, (t4 - t3) - (t2 - t1))}


def typed_dict_vs_dict(n: int = 20_000) -> dict[str, float]:
    """ns per insert from the interpreter: a Python dict, a ``numba.typed.Dict``, and the
    typed Dict filled inside compiled code."""
    from numba import njit, typed, types

    @njit
    def fill(d, n):
        for i in range(n):
            d[i] = i

    d = {}
    t = time.perf_counter()
    for i in range(n):
        d[i] = i
    py = time.perf_counter() - t
    td = typed.Dict.empty(types.int64, types.int64)
    fill(typed.Dict.empty(types.int64, types.int64), 10)  # compile outside the timing
    t = time.perf_counter()
    for i in range(n):
        td[i] = i
    interp = time.perf_counter() - t
    td2 = typed.Dict.empty(types.int64, types.int64)
    t = time.perf_counter()
    fill(td2, n)
    inside = time.perf_counter() - t
    return {"python dict": py / n * 1e9, "typed.Dict from Python": interp / n * 1e9,
            "typed.Dict inside @njit": inside / n * 1e9}


def batch_latency(flow, backend: str, chunk: int = 256) -> LatencyRecorder:
    """The batch path cut into chunks of ``chunk`` events: ns per event of each chunk (the
    cost of one event amortised over its chunk, boundary crossing included)."""
    eng = FastEngine(backend, pnl=False)
    rows = eng.encode_array(flow.events, flow.symbols)
    rec = LatencyRecorder(f"{backend} batch of {chunk}", capacity=len(rows) // chunk + 1)
    clock = time.perf_counter_ns
    for i in range(0, len(rows), chunk):
        part = rows[i:i + chunk]
        t = clock()
        eng.process_events(part)
        rec.record((clock() - t) // len(part))
    return rec
