"""Reference solutions of notebook 00's exercises (CI checks that they pass)."""

import math


def percentile(samples, p):
    ordered = sorted(samples)
    # 1-based rank of the nearest sample; rounded first, since 1000 * 99.9 / 100 is 999.0000000000001
    rank = max(1, math.ceil(round(len(ordered) * p / 100, 9)))
    return ordered[rank - 1]


def open_loop_latencies(costs_ns, interval_ns):
    out, free_at = [], 0
    for i, cost in enumerate(costs_ns):
        intended = i * interval_ns
        free_at = max(intended, free_at) + int(cost)
        out.append(free_at - intended)
    return out


def interleaved_order(names, rounds):
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(rounds)]
