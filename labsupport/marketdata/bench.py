"""Benchmark of the market-data generator: events (and ticks, and CSV rows) per second.

The target is at least a million order events a second on one core, so that a lab can draw
a fresh stream of realistic size in well under a second. Each candidate is run once to warm
up (the first run also pays the page faults of fresh memory) and then ``repeats`` times,
interleaved; the table reports the median and best wall-clock rate and the median rate per
CPU-second of this process (robust to other programs sharing the cores).

    flock /tmp/lab-cpu.lock python -m labsupport.marketdata.bench [--events N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..measure import BenchReport, scaled
from .config import OrderFlowConfig
from .flow import generate_order_flow
from .io import write_events_csv
from .tape import generate_ticks


def _rates(
    jobs: dict[str, tuple[Callable[[], object], int]], repeats: int
) -> dict[str, dict[str, float]]:
    """Run each job once to warm up, then ``repeats`` interleaved rounds; items per second.

    Both clocks are kept: wall time (what a user waits) and this process's CPU time, which
    other programs competing for the cores inflate much less than the wall time.
    """
    wall: dict[str, list[float]] = {name: [] for name in jobs}
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    for fn, _ in jobs.values():
        fn()
    for _ in range(repeats):
        for name, (fn, _) in jobs.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    out = {}
    for name, (_, items) in jobs.items():
        t, c = np.array(wall[name]), np.array(cpu[name])
        out[name] = {
            "items": items,
            "median_s": float(np.median(t)),
            "median_per_s": items / float(np.median(t)),
            "best_per_s": items / float(t.min()),
            "median_per_cpu_s": items / max(float(np.median(c)), 1e-9),
        }
    return out


def generation_rates(
    n_events: int, n_symbols: int = 8, repeats: int = 5, csv: bool = True
) -> dict[str, dict[str, float]]:
    """Rates of ``generate_order_flow``, ``generate_ticks`` and (optionally) the CSV writer."""
    cfg = OrderFlowConfig(n_events=n_events, n_symbols=n_symbols, seed=1)
    jobs: dict[str, tuple[Callable[[], object], int]] = {
        "generate_order_flow (events)": (lambda: generate_order_flow(cfg), n_events),
        "generate_ticks (ticks)": (
            lambda: generate_ticks(n_events, n_symbols, seed=1, as_frame=False),
            n_events,
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        if csv:
            flow = generate_order_flow(cfg)
            path = os.path.join(tmp, "events.csv")
            jobs["write_events_csv (rows)"] = (lambda: write_events_csv(flow, path), n_events)
        return _rates(jobs, repeats)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labsupport.marketdata.bench",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--events", type=int, default=scaled(200_000, 1_000_000, 5_000_000),
                        help="events per generated stream (default by LAB_SCALE)")  # fmt: skip
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-csv", action="store_true", help="skip the CSV writer")
    args = parser.parse_args(argv)
    rates = generation_rates(args.events, args.symbols, args.repeats, csv=not args.no_csv)
    report = BenchReport("marketdata")
    for name, r in rates.items():
        report.add(name, n=r["items"], median_s=round(r["median_s"], 4),
                   median_per_s=round(r["median_per_s"]), best_per_s=round(r["best_per_s"]),
                   median_per_cpu_s=round(r["median_per_cpu_s"]))  # fmt: skip
    report.print()
    print(f"wrote {report.write().name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
