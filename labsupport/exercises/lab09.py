"""Exercises of notebook 09: code that plugs into the replay engine, checked against it.

- 09.1 an absolute schedule: ``due_times(ts, start_ns, speed)`` must give exactly the
  scheduler's due times (``Replayer.due``), at speeds that do not divide the gaps, with no drift
  over 100,000 messages;
- 09.2 a bounded reorder window: ``reorder(events, window)`` must release what
  ``sources.ordered(events, "reorder", window=...)`` releases, on seeded shuffles;
- 09.3 the hybrid wait: ``wait_until(clock, due_ns, margin_ns)`` on a :class:`FakeClock` whose
  sleeps wake late must end within a few clock reads after the deadline, never before it, and
  sleep once when the deadline is far.
"""

from __future__ import annotations

import random

from ..replay import FakeClock, NullSink, Replayer, ordered
from . import Case, Property, exercise

SEED = 9


def _scheduler_due(ts: list[int], start_ns: int, speed: float) -> list[int]:
    r = Replayer([], NullSink(FakeClock()), speed=speed)
    r.anchor_ts, r.anchor_wall = (ts[0] if ts else 0), start_ns
    return [r.due(t) for t in ts]


def _schedules():
    rng = random.Random(SEED)
    for _ in range(30):
        n = rng.randrange(1, 200)
        ts = [rng.randrange(0, 10**6)]
        for _ in range(n - 1):
            ts.append(ts[-1] + rng.choice([0, 1, 2, 7, 333, rng.randrange(1, 10**5)]))
        yield ts, rng.randrange(0, 10**12), rng.choice([1.0, 3.0, 0.7, 2.5, 10.0, 1 / 3])


@exercise("09.1", "An absolute schedule", attr="due_times")
def check_due_times(due_times):
    long = list(range(0, 100_000 * 10, 10))  # 10 ns apart, replayed 3x faster: 3.33 ns gaps
    return [
        Case("speed 1: due = start + (ts - ts0)", lambda: due_times([5, 10, 10, 30], 1_000, 1.0),
             [1_000, 1_005, 1_005, 1_025], input="ts [5, 10, 10, 30], start 1000, speed 1"),
        Case("speed 2 halves every interval", lambda: due_times([0, 3, 1_000], 0, 2.0), [0, 2, 500],
             input="ts [0, 3, 1000], start 0, speed 2"),
        Case("no messages", lambda: due_times([], 7, 1.0), [], input="[]"),
        Case("no drift over 100,000 messages (last due time at speed 3)",
             lambda: due_times(long, 0, 3.0)[-1], round(long[-1] / 3.0),
             input="ts 0, 10, 20, ... 999990, speed 3"),
        Property("equals the scheduler's due times", _schedules, lambda a: due_times(*a),
                 lambda a: _scheduler_due(*a),
                 show=lambda a: f"{len(a[0])} timestamps from {a[0][0]}, start {a[1]}, speed {a[2]:.3g}"),
    ]


def _shuffles():
    rng = random.Random(SEED + 1)
    for _ in range(40):
        n = rng.randrange(0, 60)
        ts = sorted(rng.randrange(0, 500) for _ in range(n))
        events = [(t, f"m{i}") for i, t in enumerate(ts)]
        for _ in range(rng.randrange(0, 8)):  # displace a few messages by up to 6 places
            if len(events) > 1:
                i = rng.randrange(len(events))
                j = min(len(events) - 1, i + rng.randrange(1, 7))
                events.insert(j, events.pop(i))
        yield events, rng.choice([1, 2, 4, 8, 64])


@exercise("09.2", "A bounded reorder window", attr="reorder")
def check_reorder(reorder):
    late = [(10, "a"), (20, "b"), (15, "c"), (30, "d"), (5, "e"), (40, "f")]
    return [
        Case("in order: unchanged", lambda: reorder([(1, "x"), (2, "y"), (2, "z")], 4),
             [(1, "x"), (2, "y"), (2, "z")], input="[(1,x), (2,y), (2,z)], window 4"),
        Case("one place late, window 2: put back", lambda: reorder(late[:4], 2),
             [(10, "a"), (15, "c"), (20, "b"), (30, "d")], input=f"{late[:4]}, window 2"),
        Case("too late for the window: clamped", lambda: reorder(late, 2),
             [(10, "a"), (15, "c"), (15, "e"), (20, "b"), (30, "d"), (40, "f")], input=f"{late}, window 2"),
        Case("a wide window sorts everything", lambda: [m for _, m in reorder(late, 8)], list("eacbdf"),
             input=f"{late}, window 8"),
        Property("equals ordered(events, 'reorder', window)", _shuffles, lambda a: reorder(*a),
                 lambda a: list(ordered(a[0], "reorder", window=a[1])),
                 show=lambda a: f"{a[0]}, window {a[1]}"),
    ]


def _waits(wait_until, oversleep: int, margin: int, distance: int) -> tuple[bool, int, int]:
    clock = FakeClock(1_000_000, oversleep_ns=oversleep, read_cost_ns=100)
    due = clock.t + distance
    wait_until(clock, due, margin)
    late = clock.t - due
    return late >= 0, late, clock.sleeps


@exercise("09.3", "The hybrid wait", attr="wait_until")
def check_wait_until(wait_until):
    ok = lambda got, want: got[0] and got[1] <= 300 and got[2] == want  # noqa: E731
    return [
        Case("far deadline, sleeps that wake 40 µs late, 60 µs margin: on time, one sleep",
             lambda: _waits(wait_until, 40_000, 60_000, 10_000_000), 1, compare=ok,
             input="oversleep 40 µs, margin 60 µs, due in 10 ms"),
        Case("deadline inside the margin: no sleep at all", lambda: _waits(wait_until, 40_000, 60_000, 30_000),
             0, compare=ok, input="oversleep 40 µs, margin 60 µs, due in 30 µs"),
        Case("deadline already passed: returns at once", lambda: _waits(wait_until, 40_000, 60_000, -5_000)[2],
             0, input="due 5 µs ago"),
        Case("margin 0 is a plain sleep, never early", lambda: _waits(wait_until, 0, 0, 1_000_000)[:2],
             (True, 0), compare=lambda g, w: g[0] and g[1] <= 300, input="oversleep 0, margin 0, due in 1 ms"),
    ]
