"""Exercises of notebook 03: pieces of the stream processor, checked against the package.

- 03.1 the outlier rule: ``is_outlier(window, accepted, price, max_dev_pct)`` must agree with the
  cleaner's rule (numpy's median of the last accepted prices, only after 5 accepted, strictly
  more than the threshold) on boundary cases and seeded windows;
- 03.2 the worker's admission rule: ``admit(mark, prev_line, lines)`` decides which lines of a
  message a worker that has handled its partition up to ``mark`` should process; replayed over
  seeded delivery schedules with losses, duplicates and resends, every line must be processed
  exactly once and in order;
- 03.3 the vectorised late rule: ``late_mask(newest_ts, ts, late_ns)`` with numpy must equal a
  tick-by-tick loop on seeded runs.
"""

from __future__ import annotations

import random

import numpy as np

from ..stream.clean import is_outlier as _is_outlier
from ..stream.vector import late_mask as _late_mask
from . import Case, Property, exercise

SEED = 3


def _windows():
    rng = random.Random(SEED)
    for _ in range(300):
        k = rng.randrange(0, 21)
        w = [round(rng.uniform(90, 110), 2) for _ in range(k)]
        accepted = k if k < 20 else rng.randrange(20, 100)
        m = float(np.median(w)) if w else 100.0
        price = rng.choice([m * 1.1, m * 0.9, m * 1.2, m, round(rng.uniform(80, 125), 2)])
        yield w, accepted, price, rng.choice([10.0, 5.0, 1.0])


@exercise("03.1", "The outlier rule", attr="is_outlier")
def check_is_outlier(is_outlier):
    five = [100.0, 100.0, 100.0, 100.0, 500.0]
    return [
        Case("fewer than 5 accepted: never an outlier", lambda: is_outlier([100.0] * 4, 4, 900.0, 10.0),
             False, input="window [100]*4, 4 accepted, price 900"),
        Case("the median, not the mean (median 100, mean 180)",
             lambda: is_outlier(five, 5, 175.0, 10.0), True, input=f"window {five}, price 175"),
        Case("exactly 10% away is not more than 10%", lambda: is_outlier([100.0] * 5, 5, 110.0, 10.0),
             False, input="window [100]*5, price 110, 10%"),
        Case("an even window: the mean of the two middle prices",
             lambda: is_outlier([100.0, 100.0, 120.0, 120.0, 100.0, 120.0], 6, 121.0, 10.0), False,
             input="window [100,100,120,120,100,120] (median 110), price 121"),
        Property("agrees with the cleaner's rule", _windows, lambda a: bool(is_outlier(*a)),
                 lambda a: _is_outlier(*a),
                 show=lambda a: f"window of {len(a[0])}, {a[1]} accepted, price {a[2]:.4f}, {a[3]}%"),
    ]


def _schedules():
    """(partition lines, the deliveries a worker sees: (prev_line, lines) with losses and repeats)."""
    rng = random.Random(SEED + 1)
    for _ in range(60):
        lines = sorted(rng.sample(range(2, 400), rng.randrange(1, 60)))
        msgs, a = [], 0
        while a < len(lines):  # consecutive chunks, each knowing the line before it
            b = min(len(lines), a + rng.randrange(1, 8))
            msgs.append((lines[a - 1] if a else 0, lines[a:b]))
            a = b
        seen, out = [], list(msgs)
        for m in msgs:  # a transport: some lost, some twice, then everything sent again
            if rng.random() < 0.15:
                continue
            seen.append(m)
            if rng.random() < 0.2:
                seen.append(m)
        yield lines, seen + out


def _replay(admit, schedule):
    lines, deliveries = schedule
    mark, done = 0, []
    for prev, ls in deliveries:
        mask = admit(mark, prev, np.array(ls, dtype=np.int64))
        if mask is None:
            continue
        take = [x for x, k in zip(ls, np.asarray(mask).tolist()) if k]
        done.extend(take)
        if take:
            mark = max(mark, ls[-1])
    return done


@exercise("03.2", "The worker's admission rule: exactly once", attr="admit")
def check_admit(admit):
    arr = lambda *x: np.array(x, dtype=np.int64)  # noqa: E731
    as_list = lambda m: None if m is None else np.asarray(m).tolist()  # noqa: E731
    return [
        Case("the next message: all of it", lambda: as_list(admit(10, 10, arr(12, 15))), [True, True],
             input="mark 10, prev_line 10, lines [12, 15]"),
        Case("a redelivery: none of it", lambda: as_list(admit(15, 10, arr(12, 15))), [False, False],
             input="mark 15, prev_line 10, lines [12, 15]"),
        Case("overlapping a resend: only the new part",
             lambda: as_list(admit(12, 10, arr(12, 15, 20))), [False, True, True],
             input="mark 12, prev_line 10, lines [12, 15, 20]"),
        Case("a gap (a lost message before it): refuse", lambda: as_list(admit(10, 15, arr(20))), None,
             input="mark 10, prev_line 15, lines [20]"),
        Property("every line once, in order, over lossy schedules", _schedules,
                 lambda s: _replay(admit, s), lambda s: s[0],
                 show=lambda s: f"{len(s[0])} lines, {len(s[1])} deliveries"),
    ]


def _runs():
    rng = random.Random(SEED + 2)
    for _ in range(200):
        n = rng.randrange(0, 40)
        ts = [rng.randrange(0, 5000) for _ in range(n)]
        yield rng.choice([None, rng.randrange(0, 5000)]), ts, rng.choice([0, 100, 1000])


def _loop(newest, ts, late_ns):
    out = []
    for t in ts:
        out.append(newest is not None and newest - t > late_ns)
        newest = t if newest is None else max(newest, t)
    return out


@exercise("03.3", "The late rule, vectorised", attr="late_mask")
def check_late_mask(late_mask):
    run = lambda newest, ts, late: np.asarray(  # noqa: E731
        late_mask(newest, np.array(ts, dtype=np.int64), late)).astype(bool).tolist()
    return [
        Case("nothing accepted yet: the first is never late", lambda: run(None, [5, 0], 1), [False, True],
             input="newest None, ts [5, 0], late_ns 1"),
        Case("strictly more than late_ns", lambda: run(100, [90, 89], 10), [False, True],
             input="newest 100, ts [90, 89], late_ns 10"),
        Case("the newest so far, not the previous tick", lambda: run(0, [50, 10, 45], 20),
             [False, True, False], input="newest 0, ts [50, 10, 45], late_ns 20"),
        Property("equals the tick-by-tick loop", _runs, lambda a: run(*a),
                 lambda a: _loop(*a), show=lambda a: f"newest {a[0]}, ts {a[1]}, late_ns {a[2]}"),
        Case("the package's own rule agrees on a sample", lambda: run(3, [1, 9, 2], 5),
             _late_mask(3, np.array([1, 9, 2], dtype=np.int64), 5).tolist(), input="newest 3, ts [1, 9, 2]"),
    ]
