"""Exercises of notebook 00: the instruments every lab measures with.

- 00.1 a nearest-rank percentile, the definition every summary in the labs uses;
- 00.2 coordinated omission: latencies from the intended send times of a constant-rate client;
- 00.3 the interleaved order in which the side-by-side runner times its candidates.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..measure.explore import StallModel, open_loop_latencies
from . import Case, Property, exercise


@exercise("00.1", "Nearest-rank percentile", attr="percentile")
def _percentile(percentile):
    def reference(args):  # exact rank: ceil(n * p / 100) in rational arithmetic
        samples, p = args
        rank = max(1, math.ceil(Fraction(str(p)) * len(samples) / 100))
        return sorted(samples)[rank - 1]

    def inputs():
        rng = np.random.default_rng(1)
        for n in (1, 2, 3, 10, 101, 1000):
            for p in (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
                yield rng.integers(0, 10_000, n).tolist(), p

    return [
        Case("median of four is the second", lambda: percentile([4, 1, 3, 2], 50), 2,
             input="[4, 1, 3, 2], p=50"),
        Case("p100 is the maximum", lambda: percentile([5, 9, 1], 100), 9, input="[5, 9, 1], p=100"),
        Case("p0 is the minimum", lambda: percentile([5, 9, 1], 0), 1, input="[5, 9, 1], p=0"),
        Case("p99 of 1..100 is 99", lambda: percentile(list(range(1, 101)), 99), 99,
             input="1..100, p=99"),
        Property("equals the exact nearest rank", inputs, lambda a: percentile(*a), reference,
                 show=lambda a: f"{len(a[0])} samples, p={a[1]}"),
    ]


@exercise("00.2", "Latency from the intended send time", attr="open_loop_latencies")
def _open_loop(solution):
    def run(costs, interval):
        return [int(x) for x in solution(np.asarray(costs, dtype=np.int64), interval)]

    def inputs():
        rng = np.random.default_rng(2)
        for _ in range(40):
            n = int(rng.integers(1, 300))
            costs = rng.integers(1, 2_000, n)
            costs[rng.random(n) < 0.02] = 50_000  # a few stalls
            yield costs.tolist(), int(rng.integers(100, 3_000))

    stalled = StallModel(service_ns=10, stall_every=5, stall_ns=1_000, requests=12).costs().tolist()
    return [
        Case("an idle server: latency is the service time", lambda: run([10, 10, 10], 100),
             [10, 10, 10], input="costs [10, 10, 10], interval 100"),
        Case("requests queue behind a stall", lambda: run([500, 10, 10, 10], 100),
             [500, 410, 320, 230], input="costs [500, 10, 10, 10], interval 100"),
        Case("every fifth request stalls", lambda: run(stalled, 100),
             [int(x) for x in open_loop_latencies(np.asarray(stalled), 100)],
             input=f"costs {stalled}, interval 100"),
        Property("equals the queue recurrence", inputs, lambda a: run(*a),
                 lambda a: [int(x) for x in open_loop_latencies(np.asarray(a[0]), a[1])],
                 show=lambda a: f"{len(a[0])} costs, interval {a[1]}"),
    ]


@exercise("00.3", "Interleaved, rotated order of candidates", attr="interleaved_order")
def _rotation(interleaved_order):
    def reference(args):
        names, rounds = args
        return [[names[(r + i) % len(names)] for i in range(len(names))] for r in range(rounds)]

    def inputs():
        for n in range(1, 6):
            for rounds in (1, n, 2 * n + 1):
                yield [f"c{i}" for i in range(n)], rounds

    def as_lists(x):
        return [list(r) for r in x]

    return [
        Case("three candidates, three rounds",
             lambda: as_lists(interleaved_order(["a", "b", "c"], 3)),
             [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]], input="['a', 'b', 'c'], 3 rounds"),
        Case("each candidate goes first equally often",
             lambda: sorted(r[0] for r in interleaved_order(["x", "y"], 4)),
             ["x", "x", "y", "y"], input="['x', 'y'], 4 rounds"),
        Property("round r starts with candidate r", inputs,
                 lambda a: as_lists(interleaved_order(*a)), reference),
    ]
