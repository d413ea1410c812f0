"""Benchmark of the order book: throughput, per-operation latency, cost against depth.

Workloads (all seeded):

- ``flow``: the generator's realistic single-symbol flow (:mod:`labsupport.marketdata`,
  about 51 % limit adds, 40 % cancels, 6 % modifies, 3 % marketable orders), pre-converted
  to tuples and fed to :meth:`MatchingEngine.process_rows` end to end. Candidates: the
  engine with each price ladder, with PnL, with a listener receiving (and counting) every
  trade, execution report, reject and L2 update, and the naive reference (on a prefix: it is O(live orders) per event).
- ``latency``: the same flow replayed one call per event through ``add`` / ``cancel`` with
  ``perf_counter_ns`` around each call (timer overhead included, about 50-100 ns), split into
  resting adds, cancels and marketable orders; plus synthetic sweeps that take out ``k``
  levels at once.
- ``ids``: the same flow with every order id and account as text (``o17``, ``acc3``, each a
  fresh str object per row, as a parser produces them) against the integer ids: the cost of
  accepting FIX ClOrdIDs as they come.
- ``fifo``: one level's queue alone under adds, cancels anywhere and fills at the front: the
  deque with lazy deletion the book uses against an intrusive doubly-linked list
  (:mod:`.fifo_bench`).
- ``depth``: a synthetic book with D price levels per side (4 orders each) and a stream of
  adds at uniformly random prices among 2D (so levels are born and die at every depth) and
  cancels of random live orders: how the cost grows with depth, per ladder design; then the
  same at 20 levels with 1 to 1024 orders per level (how it grows with the number of live
  orders when the queues get long).

Throughput runs are repeated with the candidates interleaved; the table gives the median and
the best wall-clock rate and the median rate per CPU second of the replaying thread (robust to
neighbours on a shared machine). The machine is shared: run under the CPU lock,
``flock /tmp/lab-cpu.lock python -m labsupport.orderbook.bench``.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labsupport import cli
from labsupport.measure import BenchReport, LatencyRecorder, scaled

from .engine import MatchingEngine
from .fifo_bench import fifo_designs
from .levels import LADDERS
from .listener import CountingListener
from .reference import ReferenceEngine
from .types import BUY, LIMIT, MARKET, SELL, OrderBookError

PROG = "python -m labsupport.orderbook.bench"
Clock = Callable[[], int]

ROW_FIELDS = ["seq", "symbol", "action", "order_id", "side", "type", "price_ticks", "qty",
              "account"]


def flow_rows(n_events: int, seed: int = 7, n_symbols: int = 1) -> list[tuple]:
    """The generator's flow as tuples in :meth:`MatchingEngine.process_rows` order."""
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow

    flow = generate_order_flow(OrderFlowConfig(n_events=n_events, n_symbols=n_symbols, seed=seed))
    return flow.events[ROW_FIELDS].tolist()


def text_rows(rows: list[tuple]) -> list[tuple]:
    """The same rows with order ids and accounts as text tokens (``o17``, ``acc3``). Every row
    gets its own str objects, as a CSV or FIX parser would hand them over, so a cancel's id is
    equal to its add's id but not the same object (its hash is computed once more)."""
    return [(seq, sym, act, f"o{oid}", side, typ, price, qty, f"acc{acct}")
            for seq, sym, act, oid, side, typ, price, qty, acct in rows]


def replay(engine: MatchingEngine, rows: list[tuple]) -> int:
    """Replay rows through an engine (a named entry point for the line profiler)."""
    return engine.process_rows(rows)


class GcPaused:
    """Wraps an engine so the cyclic garbage collector is off during ``process_rows``. Safe
    because the engine leaves no reference cycles behind (a test checks it): every dead order
    and level is freed by reference counting alone."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine

    def process_rows(self, rows: list[tuple]) -> int:
        was_on = gc.isenabled()
        gc.disable()
        try:
            return self.engine.process_rows(rows)
        finally:
            if was_on:
                gc.enable()


def engine_candidates() -> dict[str, Callable[[], object]]:
    """Engine configurations, by name; each factory returns something with process_rows."""
    c: dict[str, Callable[[], object]] = {}
    for name in LADDERS:
        c[f"engine[{name}]"] = lambda name=name: MatchingEngine(ladder=name, pnl=False)
    c["engine+pnl"] = lambda: MatchingEngine(pnl=True)
    c["engine+pnl, gc paused"] = lambda: GcPaused(MatchingEngine(pnl=True))
    c["engine+pnl+listener"] = lambda: MatchingEngine(pnl=True, listener=CountingListener())
    return c


def _rates(factory: Callable[[], object], rows: list[tuple], clock: Clock = time.perf_counter_ns,
           cpu_clock: Clock = time.thread_time_ns) -> tuple[float, float, int]:
    """(events per wall second, events per CPU second of this thread, events the candidate
    reported processing) for one replay. The clocks are injected so a test can check the
    arithmetic."""
    engine = factory()
    gc.collect()
    c0, t0 = cpu_clock(), clock()
    n = engine.process_rows(rows)
    t1, c1 = clock(), cpu_clock()
    return n / (max(t1 - t0, 1) / 1e9), n / (max(c1 - c0, 1) / 1e9), n


def throughput(rows: list[tuple], candidates: dict[str, Callable[[], object]],
               repeats: int = 5, *, clock: Clock = time.perf_counter_ns,
               cpu_clock: Clock = time.thread_time_ns) -> dict[str, dict[str, float]]:
    """events/s of each candidate over ``rows``; interleaved repeats.

    ``median``/``best`` are per wall-clock second; ``cpu_median`` is per CPU second of the
    replaying thread, which does not count time the OS gave to other processes (on a shared
    2-core machine the wall-clock rate can halve when a neighbour runs; the CPU rate moves by
    a few percent). ``events`` is what the candidate's ``process_rows`` said it processed (the
    same in every run, or the run is refused)."""
    wall: dict[str, list[float]] = {k: [] for k in candidates}
    cpu: dict[str, list[float]] = {k: [] for k in candidates}
    events: dict[str, set[int]] = {k: set() for k in candidates}
    names = list(candidates)
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            w, c, n = _rates(candidates[name], rows, clock, cpu_clock)
            wall[name].append(w)
            cpu[name].append(c)
            events[name].add(n)
    for name, seen in events.items():
        if len(seen) != 1:
            raise RuntimeError(f"{name} processed {sorted(seen)} events in different runs")
    return {k: {"median": statistics.median(wall[k]), "best": max(wall[k]),
                "cpu_median": statistics.median(cpu[k]), "runs": len(wall[k]),
                "events": events[k].pop()}
            for k in candidates}


def reference_ratio(rows: list[tuple], repeats: int = 3, **clocks: Clock) -> dict[str, float]:
    """Engine against the naive reference on the same (short) prefix of the flow."""
    cands = {"engine": lambda: MatchingEngine(pnl=True),
             "reference": lambda: ReferenceEngine()}
    res = throughput(rows, cands, repeats, **clocks)
    return {"engine_ev_s": res["engine"]["median"], "reference_ev_s": res["reference"]["median"],
            "speedup": res["engine"]["median"] / res["reference"]["median"],
            "cpu_speedup": res["engine"]["cpu_median"] / res["reference"]["cpu_median"],
            "events": res["engine"]["events"]}


def id_kinds(rows: list[tuple], repeats: int = 3, **clocks: Clock) -> dict[str, float]:
    """The engine (with PnL) on the flow with integer ids and on the same flow with text ids
    (:func:`text_rows`), interleaved: what accepting ClOrdIDs as text costs per event."""
    trows = text_rows(rows)
    cands = {"int ids": lambda: MatchingEngine(pnl=True),
             "text ids": lambda: _Rows(MatchingEngine(pnl=True), trows)}
    res = throughput(rows, cands, repeats, **clocks)
    ints, texts = res["int ids"], res["text ids"]
    return {"int_ev_s": ints["median"], "text_ev_s": texts["median"],
            "int_ev_cpu_s": ints["cpu_median"], "text_ev_cpu_s": texts["cpu_median"],
            "text_vs_int": texts["cpu_median"] / ints["cpu_median"],
            "events": ints["events"], "text_events": texts["events"]}


class _Rows:
    """A candidate that replays its own rows (the text copy) whatever it is handed, so both
    kinds of ids go through one :func:`throughput` loop."""

    def __init__(self, engine: MatchingEngine, rows: list[tuple]) -> None:
        self.engine, self.rows = engine, rows

    def process_rows(self, _rows: list[tuple]) -> int:
        return self.engine.process_rows(self.rows)


def op_latencies(rows: list[tuple], sweeps: int = 2000, sweep_levels: int = 5,
                 ladder: str = "sorted-list") -> dict[str, LatencyRecorder]:
    """Per-call latency of resting adds, cancels, marketable orders and k-level sweeps."""
    recs = {k: LatencyRecorder(k, capacity=len(rows) + 1)
            for k in ("add (rests)", "cancel", "marketable order")}
    eng = MatchingEngine(ladder=ladder, pnl=True)
    add, cancel, modify = eng.add, eng.cancel, eng.modify
    clock = time.perf_counter_ns
    rec_add, rec_cancel, rec_mkt = (recs[k].record for k in recs)
    for seq, symbol, action, oid, side, otype, price, qty, account in rows:
        if action == 0:
            book = eng._books.get(symbol)
            crosses = otype != LIMIT or (book is not None and (
                price >= book.best_ask if side == BUY else price <= book.best_bid))
            t0 = clock()
            add(symbol, oid, side, otype, price, qty, account, seq)
            t1 = clock()
            (rec_mkt if crosses else rec_add)(t1 - t0)
        elif action == 1:
            t0 = clock()
            ok = cancel(oid, symbol, seq)
            t1 = clock()
            if ok:
                rec_cancel(t1 - t0)
        else:
            modify(oid, price, qty, symbol, seq)
    recs[f"sweep {sweep_levels} levels"] = sweep_latency(sweeps, sweep_levels, ladder)
    return recs


def sweep_latency(n: int, levels: int, ladder: str = "sorted-list") -> LatencyRecorder:
    """A market buy that takes out ``levels`` ask levels of 2 orders each, every time."""
    rec = LatencyRecorder(f"sweep {levels} levels", capacity=n)
    eng = MatchingEngine(ladder=ladder, pnl=True)
    oid = 1
    for p in range(9000, 9100):  # a resting bid side so the book is not one-sided
        eng.add(0, oid, BUY, LIMIT, p, 100, 1)
        oid += 1
    for _ in range(n):
        for lv in range(levels):
            for _k in range(2):
                eng.add(0, oid, SELL, LIMIT, 10000 + lv, 100, 2)
                oid += 1
        t0 = time.perf_counter_ns()
        eng.add(0, oid, BUY, MARKET, 0, 200 * levels, 3)
        rec.record(time.perf_counter_ns() - t0)
        oid += 1
    return rec


def depth_rows(depth: int, n_events: int, seed: int = 1,
               per_level: int = 4) -> tuple[list[tuple], list[tuple]]:
    """(prefill, stream) for a book of ``depth`` levels per side with ``per_level`` orders in
    each, see the module docstring."""
    rng = random.Random(seed)
    mid = 100_000
    prefill, live = [], []
    oid = 1
    for lv in range(depth):
        for side, price in ((BUY, mid - 1 - 2 * lv), (SELL, mid + 1 + 2 * lv)):
            for _ in range(per_level):
                prefill.append((oid, 0, 0, oid, side, LIMIT, price, 100, 1))
                live.append(oid)
                oid += 1
    stream = []
    for seq in range(n_events):
        if rng.random() < 0.5 or len(live) < 10:
            side = BUY if rng.random() < 0.5 else SELL
            off = rng.randrange(2 * depth)
            price = mid - 1 - off if side == BUY else mid + 1 + off
            stream.append((seq, 0, 0, oid, side, LIMIT, price, 100, 1))
            live.append(oid)
            oid += 1
        else:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            stream.append((seq, 0, 1, live.pop(), 0, 0, 0, 0, 0))
    return prefill, stream


def depth_scaling(depths: list[int], n_events: int, repeats: int = 3) -> list[dict]:
    """Median events/s (wall and CPU) of the depth workload, per depth and ladder design."""
    out = []
    for depth in depths:
        prefill, stream = depth_rows(depth, n_events)
        wall: dict[str, list[float]] = {k: [] for k in LADDERS}
        cpu: dict[str, list[float]] = {k: [] for k in LADDERS}
        for _ in range(repeats):
            for name in LADDERS:
                eng = MatchingEngine(ladder=name, pnl=False)
                eng.process_rows(prefill)
                w, c, _ = _rates(lambda eng=eng: eng, stream)
                wall[name].append(w)
                cpu[name].append(c)
        for name in LADDERS:
            out.append({"depth_levels": depth, "live_orders": 8 * depth, "ladder": name,
                        "ev_per_s": statistics.median(wall[name]),
                        "ev_per_cpu_s": statistics.median(cpu[name])})
    return out


def snapshot_latency(depth: int, n: int = 2000) -> dict[str, LatencyRecorder]:
    """Per ladder: latency of an L2 top-10 snapshot of a book ``depth`` levels deep. The heap
    has no ordered iteration, so it sorts its live prices for every snapshot (and FOK check)."""
    prefill, _ = depth_rows(depth, 0)
    out = {}
    for name in LADDERS:
        eng = MatchingEngine(ladder=name, pnl=False)
        eng.process_rows(prefill)
        rec = LatencyRecorder(f"L2 top-10 snapshot [{name}]", capacity=n)
        for _ in range(n):
            t0 = time.perf_counter_ns()
            eng.l2_snapshot(0, 10)
            rec.record(time.perf_counter_ns() - t0)
        out[name] = rec
    return out


def queue_scaling(per_level: list[int], n_events: int, depth: int = 20,
                  repeats: int = 3) -> list[dict]:
    """Events per CPU second of the depth workload at a fixed depth, as the queues at each
    level grow: a deque per level makes add and cancel O(1) whatever the queue length."""
    out = []
    for k in per_level:
        prefill, stream = depth_rows(depth, n_events, per_level=k)
        cpu = []
        for _ in range(repeats):
            eng = MatchingEngine(pnl=False)
            eng.process_rows(prefill)
            cpu.append(_rates(lambda eng=eng: eng, stream)[1])
        out.append({"orders_per_level": k, "live_orders": 2 * depth * k,
                    "ev_per_cpu_s": statistics.median(cpu)})
    return out


def _positive(text: str) -> int:
    """An argparse type: a positive integer (a usage error otherwise)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return n


@dataclass(frozen=True)
class BenchSizes:
    """How big each workload is. :meth:`for_scale` is what ``LAB_SCALE`` asks for; tests use
    tiny sizes to check what the report says without measuring anything seriously."""

    events: int = 100_000
    repeats: int = 3
    reference_events: int = 3_000
    sweeps: int = 1_000
    fifo_ops: int = 100_000
    snapshot_depth: int = 1_000
    snapshots: int = 2_000
    depths: list[int] = field(default_factory=lambda: [10, 100, 1000])
    depth_events: int = 50_000
    queue_lengths: list[int] = field(default_factory=lambda: [1, 16, 256])
    queue_events: int = 30_000

    @classmethod
    def for_scale(cls, events: int | None = None, repeats: int | None = None) -> BenchSizes:
        return cls(
            events=events or scaled(ci=100_000, default=500_000, full=2_000_000),
            repeats=repeats or scaled(ci=3, default=3, full=7),
            reference_events=scaled(ci=3_000, default=10_000, full=20_000),
            sweeps=scaled(ci=1000, default=5000, full=20000),
            fifo_ops=scaled(ci=100_000, default=300_000, full=1_000_000),
            snapshot_depth=scaled(ci=1000, default=1000, full=10000),
            depths=scaled(ci=[10, 100, 1000], default=[10, 100, 1000, 10000],
                          full=[10, 100, 1000, 10000, 30000]),
            depth_events=scaled(ci=50_000, default=100_000, full=500_000),
            queue_lengths=scaled(ci=[1, 16, 256], default=[1, 4, 16, 64, 256, 1024],
                                 full=[1, 4, 16, 64, 256, 1024, 4096]),
            queue_events=scaled(ci=30_000, default=100_000, full=300_000))


def build_report(sizes: BenchSizes) -> BenchReport:
    """Run every workload at ``sizes`` and return the report (one row per measurement)."""
    report = BenchReport("orderbook")
    rows = flow_rows(sizes.events)
    section = "throughput on generated flow"
    for name, r in throughput(rows, engine_candidates(), sizes.repeats).items():
        report.add(f"flow {name}", section=section, events=r["events"],
                   ev_per_s_median=round(r["median"]), ev_per_s_best=round(r["best"]),
                   ev_per_cpu_s=round(r["cpu_median"]))
    ids = id_kinds(rows, sizes.repeats)
    report.add("flow engine+pnl, text ids vs int ids", section="order ids: text against int",
               events=ids["events"], int_ev_per_cpu_s=round(ids["int_ev_cpu_s"]),
               text_ev_per_cpu_s=round(ids["text_ev_cpu_s"]),
               text_vs_int=round(ids["text_vs_int"], 3))
    ref = reference_ratio(rows[:sizes.reference_events])
    report.add("flow engine vs reference", section="against the naive reference",
               events=ref["events"], ev_per_s_median=round(ref["engine_ev_s"]),
               reference_ev_s=round(ref["reference_ev_s"]), speedup=round(ref["speedup"], 1),
               cpu_speedup=round(ref["cpu_speedup"], 1))
    for name, rec in op_latencies(rows, sweeps=sizes.sweeps).items():
        s = rec.summary()
        report.add(f"latency {name}", section="per-operation latency", count=s.count,
                   p50_ns=round(s.p50_ns), p99_ns=round(s.p99_ns), p999_ns=round(s.p999_ns))
    for name, ns in fifo_designs(sizes.fifo_ops).items():
        report.add(f"level FIFO: {name}", section="queue inside a level", ns_per_op=round(ns, 1))
    for rec in snapshot_latency(sizes.snapshot_depth, sizes.snapshots).values():
        s = rec.summary()
        report.add(f"{rec.name} depth {sizes.snapshot_depth}", section="L2 snapshot cost",
                   count=s.count, p50_ns=round(s.p50_ns), p99_ns=round(s.p99_ns))
    for r in depth_scaling(sizes.depths, sizes.depth_events):
        report.add(f"depth {r['depth_levels']} {r['ladder']}", section="cost against book depth",
                   live_orders=r["live_orders"], ev_per_s_median=round(r["ev_per_s"]),
                   ev_per_cpu_s=round(r["ev_per_cpu_s"]))
    for r in queue_scaling(sizes.queue_lengths, sizes.queue_events):
        report.add(f"queue {r['orders_per_level']} per level",
                   section="cost against queue length", live_orders=r["live_orders"],
                   ev_per_cpu_s=round(r["ev_per_cpu_s"]))
    return report


@cli.entry(PROG, input_errors=(OrderBookError,))
def main(argv: list[str] | None = None) -> int:
    """Command line entry (``python -m labsupport.orderbook.bench``); returns the exit status."""
    run(argv)
    return 0


def run(argv: list[str] | None = None) -> BenchReport:
    """Run every workload, print the table, write ``build/bench/orderbook.json``."""
    ap = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=_positive, default=None, help="events of generated flow "
                    "(default: by LAB_SCALE, 100 k at ci)")
    ap.add_argument("--repeats", type=_positive, default=None)
    ap.add_argument("--no-write", action="store_true", help="do not write build/bench JSON")
    args = ap.parse_args(argv)
    report = build_report(BenchSizes.for_scale(args.events, args.repeats))
    report.print()
    if not args.no_write:
        print(f"wrote {report.write()}")
    return report


if __name__ == "__main__":
    raise SystemExit(main())
