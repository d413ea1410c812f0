"""Benchmark: our engines against backtrader, backtesting.py and vectorbt; Dask and Ray sweeps; ticks.

What is measured, in one run:
- bars/s on the same SMA crossover (fast 10, slow 30) and the same generated minute bars, for
  backtrader (runonce, default broker), backtesting.py, vectorbt (when installed), the
  event-driven engine and the vectorised path, interleaved with ``side_by_side``; the
  ``same_fills`` column checks that the candidates' fills are identical to the vectorised
  path's, on the very bars timed; ``first_call_s`` is the untimed first call (imports, and
  vectorbt's compile), kept out of the rate;
- a sweep of ``runs`` parameter sets, the same tasks on 1 and on 2 workers, of a Dask
  LocalCluster and of a local Ray when installed (startup reported, not counted; one warm-up
  sweep first so that every worker has read the data and compiled); for Dask, ``busy`` is the
  share of the wall time the workers spent computing and ``tail_s`` the time from the first
  worker going idle to the end: with busy near 1 and a short tail the 2-worker figure is not
  limited by scheduling but by the cores (the driver and the scheduler share them);
- tick-level fills: market events/s (CPU time) with the market maker quoting, on Lab 02's
  matching engine and on Lab 11's compiled ones (Cython, Numba), whose fills must be the same;
- the out-of-core run: ``--stream-ticks`` ticks (100 M at ``LAB_SCALE=full``) generated once as
  partitioned Parquet under ``build/backtest/`` and reused, then streamed into bars, with the
  peak RSS (trace written next to the report) and ticks/s.
Targets (from the lab's brief): event >= 10x backtrader, vectorised >= 100x, 2 workers >= 1.7x
1 worker, >= 1 M ticks/s per worker, 100 M ticks streamed under 2 GiB RSS. Misses are printed,
not hidden.

    python -m labsupport.backtest.bench [--bars N] [--runs R] [--events E] [--repeats K]
        [--no-sweep] [--stream-ticks T]
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from .. import cli
from ..measure import BenchReport, build_dir, display_path, scaled, side_by_side
from . import peers
from .engine import EventEngine
from .sources import generate_dataset, sample_bars
from .strategies import make_strategy
from .sweep import local_client, make_tasks, run_sweep
from .ticks import run_market_maker
from .vector import VectorEngine


def engine_rates(n_bars: int, repeats: int = 3) -> list[dict]:
    """bars/s per engine on one series of about ``n_bars`` minute bars."""
    days = max(1, n_bars // 390)
    bars = sample_bars(seed=12, days=days, ticks_per_day=8_000)["ACME"]
    strat = make_strategy("sma_cross", {"fast": 10, "slow": 30})
    want = peers.our_fills(VectorEngine().run(strat, bars))
    runs = {"vector": lambda: peers.our_fills(VectorEngine().run(strat, bars)),
            "event": lambda: peers.our_fills(EventEngine().run(strat, bars))}
    have = peers.available()
    if have["backtrader"]:
        runs["backtrader"] = lambda: peers.run_backtrader(bars, 10, 30).fills
    if have["backtesting.py"]:
        runs["backtesting.py"] = lambda: peers.run_backtesting(bars, 10, 30).fills
    if have["vectorbt"]:
        runs["vectorbt"] = lambda: peers.run_vectorbt(bars, 10, 30).fills
    else:
        print("vectorbt: skipped: not installed (pip install vectorbt, the heavy extra)")
    same, first = {}, {}
    for name, fn in runs.items():  # the first call: imports, and vectorbt's numba compile
        t0 = time.perf_counter()
        same[name] = fn() == want
        first[name] = time.perf_counter() - t0
    timing = side_by_side(runs, repeats=repeats, number=1, baseline="backtrader" if have["backtrader"] else "event")
    rows = []
    for name in runs:
        s = float(np.median(timing.per_call_ns[name])) / 1e9
        rows.append({"name": name, "bars": len(bars), "bars_per_s": len(bars) / s, "same_fills": same[name],
                     "first_call_s": first[name]})
    base = next((r["bars_per_s"] for r in rows if r["name"] == "backtrader"), None)
    for r in rows:
        r["x_backtrader"] = r["bars_per_s"] / base if base else float("nan")
    return rows


def _grid(runs: int) -> dict[str, list[int]]:
    fast = list(range(2, 2 + max(1, runs // 25)))
    return {"fast": fast, "slow": list(range(max(fast) + 1, max(fast) + 26))}


def _timed_dask(client, tasks) -> dict:
    """One sweep on ``client`` with Dask's task stream on: wall time, the workers' busy share
    of it, and the tail (from the first worker going idle for good to the end)."""
    from distributed import get_task_stream

    with get_task_stream(client) as ts:
        t0 = time.perf_counter()
        res = run_sweep(tasks, client)
        s = time.perf_counter() - t0
    spans: dict[str, list[tuple[float, float]]] = {}
    for rec in ts.data:
        for ss in rec["startstops"]:
            if ss["action"] == "compute":
                spans.setdefault(rec["worker"], []).append((ss["start"], ss["stop"]))
    busy = sum(b - a for v in spans.values() for a, b in v)
    ends = [max(b for _, b in v) for v in spans.values()]
    return {"runs": len(res), "seconds": s, "busy": busy / (s * len(spans)) if spans else float("nan"),
            "tail_s": max(ends) - min(ends) if ends else float("nan")}


def ray_rows(tasks, at_once: tuple[int, ...] = (1, 2)) -> list[dict]:
    """The same sweep on one local Ray of ``max(at_once)`` CPUs, running 1 then 2 tasks at a
    time (startup and a warm-up sweep reported, not counted); [] with a message without Ray
    or when it did not start."""
    from .rayrun import RayPool, RayStartError, ray_available
    from .sweep import children_rss

    if not ray_available():
        print("ray sweep: skipped: not installed (pip install ray, the heavy extra)")
        return []
    before = children_rss()  # a Dask cluster of this process is not Ray's
    try:
        pool = RayPool(max(at_once))
    except RayStartError as exc:  # its raylet has 30 s to register: a loaded machine misses it
        print(f"ray sweep: skipped: {exc}")
        return []
    out = []
    with pool:
        run_sweep(tasks, pool)  # warm-up: worker processes, imports, numba, the data read
        rss = (children_rss() - before) / 2**20
        for n in at_once:
            pool.at_once = n
            t0 = time.perf_counter()
            res = run_sweep(tasks, pool)
            s = time.perf_counter() - t0
            out.append({"name": f"ray sweep, {n} at once", "runs": len(res), "seconds": s,
                        "tasks": len(tasks), "runs_per_s": len(res) / s, "startup_s": pool.startup_s,
                        "cluster_rss_MiB": rss})
    if len(out) > 1:
        out[-1]["speedup"] = out[0]["seconds"] / out[-1]["seconds"]
    return out


def sweep_scaling(runs: int, ticks: int = 400_000, ray: bool = True) -> list[dict]:
    """Seconds for the same sweep (the same tasks, cut for 2 workers) on a Dask LocalCluster of
    1 and of 2 workers and, when installed, on a local Ray running 1 then 2 tasks at once;
    startup and a warm-up sweep (imports, numba, the data read once per worker) not counted
    but reported."""
    from .sweep import children_rss

    out = []
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as d:
        generate_dataset(d, ticks, n_symbols=1, days=10, seed=5)
        tasks = make_tasks(d, "sma_cross", _grid(runs), workers=2)
        for workers in (1, 2):
            t0 = time.perf_counter()
            client = local_client(workers)
            startup = time.perf_counter() - t0
            try:
                run_sweep(tasks, client)  # warm-up
                rss = children_rss() / 2**20
                row = _timed_dask(client, tasks)
            finally:
                cluster = client.cluster
                client.close()
                cluster.close()
            out.append({"name": f"dask sweep, {workers} worker(s)", **row, "tasks": len(tasks),
                        "runs_per_s": row["runs"] / row["seconds"], "startup_s": startup,
                        "cluster_rss_MiB": rss})
        out[1]["speedup"] = out[0]["seconds"] / out[1]["seconds"]
        if ray:
            out += ray_rows(tasks)
    return out


def tick_rates(events: int, engines: tuple[str, ...] = ("python", "cython", "numba")) -> list[dict]:
    """Market events/s (CPU time) through each book engine with the market maker quoting;
    ``same_fills``: the run's fills, marks and PnL equal the Lab 02 run's."""
    from ..fastbook import cython_available
    from ..marketdata import OrderFlowConfig, generate_order_flow

    flow = generate_order_flow(OrderFlowConfig(n_events=events, n_symbols=1, seed=4))
    out, ref = [], None
    for name in engines:
        if name == "cython" and not cython_available():
            continue
        run_market_maker(flow.events[:2_000], 0, engine=name)  # compile / warm
        t0 = time.process_time()
        r = run_market_maker(flow.events, 0, engine=name)
        s = time.process_time() - t0
        key = (r.fills, r.shares, r.position, r.realized_pnl, r.pnl.tolist())
        ref = ref or key
        out.append({"name": f"market maker on {name} book", "events": r.events,
                    "ticks_per_s": r.events / s, "maker_fills": r.fills, "same_fills": key == ref})
    return out


def stream_rows(n_ticks: int) -> list[dict]:
    """The out-of-core run: ``n_ticks`` generated once under build/ (reused), streamed into bars;
    its RSS trace goes next to the report."""
    from .outofcore import stream_run

    row, trace = stream_run(n_ticks)
    path = build_dir() / "bench" / f"backtest-stream-{n_ticks}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    trace.to_csv(path, index=False)
    print(f"RSS over time: {display_path(path)}")
    return [{"name": f"stream {n_ticks:,} ticks into bars", **row}]


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.backtest.bench", description=__doc__.split("\n")[0])
    p.add_argument("--bars", type=int, default=scaled(2_000, 20_000, 200_000))
    p.add_argument("--runs", type=int, default=scaled(50, 1_000, 1_000))
    p.add_argument("--events", type=int, default=scaled(50_000, 500_000, 2_000_000))
    p.add_argument("--repeats", type=int, default=scaled(2, 5, 7))
    p.add_argument("--no-sweep", action="store_true", help="skip the cluster part")
    p.add_argument("--stream-ticks", type=int, default=scaled(200_000, 2_000_000, 100_000_000),
                   help="ticks of the out-of-core run (generated once under build/; 0 skips it)")
    return p


@cli.entry("python -m labsupport.backtest.bench")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = BenchReport("backtest")
    rows = engine_rates(args.bars, args.repeats)
    for r in rows:
        report.add(r.pop("name"), section="SMA crossover, bars/s", **r)
    if not args.no_sweep:
        for r in sweep_scaling(args.runs):
            report.add(r.pop("name"), section="sweep scaling", **r)
    ticks = tick_rates(args.events)
    for t in ticks:
        report.add(t.pop("name"), section="tick-level fills, CPU time", **t)
    streamed = stream_rows(args.stream_ticks) if args.stream_ticks > 0 else []
    for r in streamed:
        report.add(r.pop("name"), section="out-of-core stream, wall time", **r)
    report.print()
    rates = {r["name"]: r for r in report.rows}
    misses = []
    bt = rates.get("backtrader")
    if bt:
        for name, need in (("event", 10), ("vector", 100)):
            if rates[name]["x_backtrader"] < need:
                misses.append(f"{name} is {rates[name]['x_backtrader']:.1f}x backtrader (target {need}x)")
    sw = rates.get("dask sweep, 2 worker(s)")
    if sw and sw["speedup"] < 1.7:
        misses.append(f"2 workers are {sw['speedup']:.2f}x 1 worker (target 1.7x; {os.cpu_count()} CPUs here)")
    for r in streamed:
        if r["ticks"] >= 100_000_000 and r["rss_peak_MiB"] >= 2048:
            misses.append(f"streaming {r['ticks']:,} ticks peaked at {r['rss_peak_MiB']:,.0f} MiB RSS (target < 2 GiB)")
    if streamed and streamed[0]["ticks"] < 100_000_000:
        misses.append(f"the stream had {streamed[0]['ticks']:,} ticks, not the 100 M of the target "
                      "(LAB_SCALE=full or --stream-ticks 100000000)")
    fastest = max(ticks[1:] or ticks, key=lambda t: t["ticks_per_s"])
    if fastest["ticks_per_s"] < 1e6:
        misses.append(f"tick-level fills at {fastest['ticks_per_s']:,.0f} ticks/s (target 1 M/s)")
    print("\nmisses: " + ("; ".join(misses) if misses else "none"))
    print(f"report: {report.write()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
