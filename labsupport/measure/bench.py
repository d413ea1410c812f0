"""Benchmark of the instruments themselves: what one recorded sample costs.

A recorder that is expensive distorts what it measures. This times ``LatencyRecorder.record``
in a tight loop and subtracts the cost of the same loop calling a no-op method, giving the
recorder's own cost per sample, and compares it with the usual alternatives (``list.append``,
``array.array.append``). ``python -m labsupport.measure.bench``
"""

from __future__ import annotations

import argparse
import array
import time
from collections.abc import Callable, Sequence

import numpy as np

from .recorder import LatencyRecorder
from .report import BenchReport
from .scale import scaled


class _Null:
    __slots__ = ()

    def record(self, ns: int) -> None:
        pass


def _loop_ns(record: Callable[[int], None], n: int) -> float:
    """Per-iteration time of a loop that calls ``record`` with a fresh int each time."""
    perf = time.perf_counter_ns
    t0 = perf()
    for i in range(n):
        record(i)
    return (perf() - t0) / n


def recorder_overhead(n: int, repeats: int = 7) -> dict[str, float]:
    """Median ns per call of each way to keep a sample, and the recorder's net cost."""
    results: dict[str, list[float]] = {"empty method": [], "LatencyRecorder.record": [],
                                       "list.append": [], "array('q').append": []}
    for _ in range(repeats):  # interleaved rounds, fresh containers each round
        results["empty method"].append(_loop_ns(_Null().record, n))
        results["LatencyRecorder.record"].append(_loop_ns(LatencyRecorder("b", n).record, n))
        results["list.append"].append(_loop_ns([].append, n))
        results["array('q').append"].append(_loop_ns(array.array("q").append, n))
    return {k: float(np.median(v)) for k, v in results.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labsupport.measure.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=scaled(200_000, 1_000_000, 5_000_000))
    args = parser.parse_args(argv)
    medians = recorder_overhead(args.samples)
    base = medians["empty method"]
    report = BenchReport("measure")
    for name, ns in medians.items():
        report.add(name, ns_per_call=round(ns, 1), net_ns_over_empty_call=round(ns - base, 1))
    report.print()
    print(f"wrote {report.write().name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
