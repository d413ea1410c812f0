"""Your solutions to notebook 00's exercises. Check them with `python -m labsupport check 00`."""


def percentile(samples, p):
    """00.1: the nearest-rank p-th percentile (0 <= p <= 100) of a list of integers: the smallest
    sample such that at least p% of the samples are at or below it (p=0 gives the minimum)."""
    ordered = sorted(samples)
    return ordered[int(len(ordered) * p / 100)]  # a first try: right only sometimes


def open_loop_latencies(costs_ns, interval_ns):
    """00.2: request i is meant to be sent at i * interval_ns and takes costs_ns[i] to serve; the
    server serves one request at a time, in order. Return each request's latency measured from its
    intended send time (a list or array of ints)."""
    return list(costs_ns)  # what a closed-loop client records: the stall is counted once


def interleaved_order(names, rounds):
    """00.3: the order in which to time the candidates `names` in each of `rounds` rounds: every
    candidate once per round, round r rotated left by r (round 0 is `names` as given)."""
    return [list(names) for _ in range(rounds)]  # the same order every round: position bias
