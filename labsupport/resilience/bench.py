"""Benchmark of Lab 14: seeded runs per second, simulated vs real time, kill-switch latency.

=============================  ===================================================================
row                            what is measured
=============================  ===================================================================
fault matrix                   ``--runs`` seeded runs over every fault x component cell: runs per
                               CPU second, simulated seconds per CPU second (the speed-up over
                               real time), and the number of runs with a violation (must be 0)
sabotage                       each sabotage switch over its catching cell: runs caught
kill switch, simulated         trigger to last cancel of a manual kill under a partition of the
                               desk, over ``--kill-seeds`` seeds: p50, p99, max (simulated time)
kill switch, live              the same with real processes (``live --faults kill-oms,delay,
                               kill-switch``), ``--live-runs`` runs, wall-clock times
=============================  ===================================================================

CPU time is ``time.process_time`` (a loaded machine slows it less than wall time). Targets: at
least 100x real time, kill switch p99 at most 1 ms simulated and 20 ms live.
``python -m labsupport.resilience.bench [--runs N] [--kill-seeds N] [--live-runs N]``
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labsupport import cli
from labsupport.measure.report import BenchReport
from labsupport.measure.scale import scaled

from .checker import kill_latencies_ns
from .history import History
from .nemesis import COMPONENTS, FAULTS
from .scenario import kill_latencies, run_matrix

__all__ = ["main", "matrix_speed", "sabotage_caught", "live_kill_latencies"]

CATCHING = {"no-idempotency": ("delay", "oms"), "no-journal": ("crash", "oms"),
            "ack-before-journal": ("crash", "oms"), "no-resend": ("loss", "exchange"),
            "no-reconcile": ("crash", "oms")}


def matrix_speed(runs: int, seed: int = 0) -> dict[str, float]:
    cpu0 = time.process_time()
    results = list(run_matrix(runs, seed, FAULTS, COMPONENTS))
    cpu = time.process_time() - cpu0
    simulated = sum((r.spec.trade_ns + r.spec.settle_ns) / 1e9 for r in results)
    return {"runs": runs, "runs_per_cpu_s": runs / cpu, "sim_x_real": simulated / cpu,
            "violating_runs": sum(bool(r.violations) for r in results)}


def sabotage_caught(runs: int) -> dict[str, int]:
    return {name: sum(bool(r.violations) for r in run_matrix(runs, 0, [f], [c], name))
            for name, (f, c) in CATCHING.items()}


def live_kill_latencies(n: int) -> list[int]:
    from .live import run_live
    out = []
    for i in range(n):
        with tempfile.TemporaryDirectory() as tmp:
            run_live("kill-oms,delay,kill-switch", 3.0, Path(tmp) / "live", seed=i)
            out += kill_latencies_ns(History.merge(sorted((Path(tmp) / "live" / "history")
                                                          .glob("*.jsonl"))))
    return out


def _pcts(ns: list[int]) -> dict[str, float]:
    a = np.asarray(ns, dtype=float) / 1e6
    return {"count": len(a), "p50_ms": float(np.percentile(a, 50)),
            "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.resilience.bench", description=__doc__)
    p.add_argument("--runs", type=int, default=scaled(60, 1200, 3000))
    p.add_argument("--kill-seeds", type=int, default=scaled(20, 200, 1000))
    p.add_argument("--live-runs", type=int, default=scaled(0, 3, 10))
    return p


@cli.entry("python -m labsupport.resilience.bench")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.runs < 1 or args.kill_seeds < 1 or args.live_runs < 0:
        raise cli.InputError("--runs and --kill-seeds must be at least 1, --live-runs >= 0")
    report = BenchReport("resilience")
    report.add("fault matrix", section="simulation", **matrix_speed(args.runs))
    for name, caught in sabotage_caught(max(2, args.runs // 60)).items():
        report.add(name, section="sabotage", caught_runs=caught)
    report.add("kill switch, simulated", section="kill switch",
               **_pcts(kill_latencies(range(args.kill_seeds))))
    if args.live_runs:
        report.add("kill switch, live", section="kill switch",
                   **_pcts(live_kill_latencies(args.live_runs)))
    report.print()
    print(f"wrote {report.write().name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
