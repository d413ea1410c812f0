"""Benchmark: our engines against backtrader and backtesting.py, sweep scaling, tick-level fills.

What is measured, in one run:
- bars/s on the same SMA crossover (fast 10, slow 30) and the same generated minute bars, for
  backtrader (runonce, default broker), backtesting.py, the event-driven engine and the
  vectorised path, interleaved with ``side_by_side``; the ``same_fills`` column checks that the
  candidates' fills are identical to the vectorised path's, on the very bars timed;
- a sweep of ``runs`` parameter sets on a LocalCluster of 1 and of 2 worker processes (startup
  excluded; one warm-up sweep first so that both clusters have read the data and compiled);
- tick-level fills: market events/s (CPU time) with the market maker quoting, on Lab 02's
  matching engine and on Lab 11's compiled ones (Cython, Numba), whose fills must be the same.
Targets (from the lab's brief): event >= 10x backtrader, vectorised >= 100x, 2 workers >= 1.7x
1 worker, >= 1 M ticks/s per worker. Misses are printed, not hidden.

    python -m labsupport.backtest.bench [--bars N] [--runs R] [--events E] [--repeats K]
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from .. import cli
from ..measure import BenchReport, scaled, side_by_side
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
    same = {name: fn() == want for name, fn in runs.items()}
    timing = side_by_side(runs, repeats=repeats, number=1, baseline="backtrader" if have["backtrader"] else "event")
    rows = []
    for name in runs:
        s = float(np.median(timing.per_call_ns[name])) / 1e9
        rows.append({"name": name, "bars": len(bars), "bars_per_s": len(bars) / s, "same_fills": same[name]})
    base = next((r["bars_per_s"] for r in rows if r["name"] == "backtrader"), None)
    for r in rows:
        r["x_backtrader"] = r["bars_per_s"] / base if base else float("nan")
    return rows


def sweep_scaling(runs: int, ticks: int = 400_000) -> list[dict]:
    """Seconds for the same sweep on 1 and 2 LocalCluster workers (the startup not counted)."""
    fast = list(range(2, 2 + max(1, runs // 25)))
    grid = {"fast": fast, "slow": list(range(max(fast) + 1, max(fast) + 26))}
    out = []
    with tempfile.TemporaryDirectory(prefix="bt-bench-") as d:
        generate_dataset(d, ticks, n_symbols=1, days=10, seed=5)
        for workers in (1, 2):
            client = local_client(workers)
            try:
                tasks = make_tasks(d, "sma_cross", grid, workers=workers)
                run_sweep(tasks, client)  # warm-up: imports, numba, the data read once per worker
                t0 = time.perf_counter()
                res = run_sweep(tasks, client)
                s = time.perf_counter() - t0
            finally:
                cluster = client.cluster
                client.close()
                cluster.close()
            out.append({"name": f"sweep, {workers} worker(s)", "runs": len(res), "tasks": len(tasks),
                        "seconds": s, "runs_per_s": len(res) / s})
    out[1]["speedup"] = out[0]["seconds"] / out[1]["seconds"]
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


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.backtest.bench", description=__doc__.split("\n")[0])
    p.add_argument("--bars", type=int, default=scaled(2_000, 20_000, 200_000))
    p.add_argument("--runs", type=int, default=scaled(50, 1_000, 1_000))
    p.add_argument("--events", type=int, default=scaled(50_000, 500_000, 2_000_000))
    p.add_argument("--repeats", type=int, default=scaled(2, 5, 7))
    p.add_argument("--no-sweep", action="store_true", help="skip the cluster part")
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
    report.print()
    rates = {r["name"]: r for r in report.rows}
    misses = []
    bt = rates.get("backtrader")
    if bt:
        for name, need in (("event", 10), ("vector", 100)):
            if rates[name]["x_backtrader"] < need:
                misses.append(f"{name} is {rates[name]['x_backtrader']:.1f}x backtrader (target {need}x)")
    sw = rates.get("sweep, 2 worker(s)")
    if sw and sw["speedup"] < 1.7:
        misses.append(f"2 workers are {sw['speedup']:.2f}x 1 worker (target 1.7x; {os.cpu_count()} CPUs here)")
    fastest = max(ticks[1:] or ticks, key=lambda t: t["ticks_per_s"])
    if fastest["ticks_per_s"] < 1e6:
        misses.append(f"tick-level fills at {fastest['ticks_per_s']:,.0f} ticks/s (target 1 M/s)")
    print("\nmisses: " + ("; ".join(misses) if misses else "none"))
    print(f"report: {report.write()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
