"""Exercises of notebook 14: the mechanisms of a fault-tolerant workflow, written by the learner
and checked against the package's own.

- 14.1 apply an exchange's reported status to an order along the state machine's legal edges
  (:meth:`labsupport.resilience.Order.reach` as the model);
- 14.2 an in-order receiver: deliver each sequence number once and in order, asking for gaps
  again (the heart of :class:`labsupport.resilience.Session`), run over lossy, duplicating,
  reordering schedules;
- 14.3 the retry delay: exponential backoff with jitter, bounded (:class:`~labsupport.resilience.
  Backoff`);
- 14.4 a checker invariant, "every exchange fill is in the OMS exactly once", run on real
  histories of the simulator, sabotaged and not, against the package's checker.
"""

from __future__ import annotations

import random
from collections import Counter

from ..resilience import Backoff, IllegalTransition, Order, RunSpec, run
from ..resilience.orders import STATES
from . import Case, Property, exercise

_REPORTED = ("new", "partially-filled", "filled", "cancelled", "rejected")


def _outcome(fn, state: str, status: str) -> str:
    try:
        return fn(state, status)
    except Exception:  # the learner may raise any error for an impossible report
        return "illegal"


def _model_reach(state: str, status: str) -> str:
    o = Order("x", 1, 1, 1, state=state)
    try:
        o.reach(status)
    except IllegalTransition:
        return "illegal"
    return o.state


@exercise("14.1", "Apply an exchange status along the order state machine", attr="apply_status")
def _apply_status(apply_status):
    return [
        Case("an ack of a pending order", lambda: _outcome(apply_status, "pending-new", "new"),
             "new", input="pending-new + new"),
        Case("reported filled before the ack came: through new",
             lambda: _outcome(apply_status, "pending-new", "filled"), "filled",
             input="pending-new + filled"),
        Case("a stale 'new' after a fill changes nothing",
             lambda: _outcome(apply_status, "partially-filled", "new"), "partially-filled",
             input="partially-filled + new"),
        Case("a fill while a cancel is pending stays pending",
             lambda: _outcome(apply_status, "pending-cancel", "partially-filled"),
             "pending-cancel", input="pending-cancel + partially-filled"),
        Case("nothing leaves a terminal state", lambda: _outcome(apply_status, "filled", "new"),
             "illegal", input="filled + new"),
        Property("every (state, reported status) pair as the package does it",
                 lambda: [(s, r) for s in STATES for r in _REPORTED],
                 lambda p: _outcome(apply_status, *p), lambda p: _model_reach(*p),
                 show=lambda p: f"{p[0]} + {p[1]}"),
    ]


def _deliver(receiver_cls, n: int, seed: int) -> list:
    """Send 1..n over a lossy, duplicating, reordering link; answer resend requests; finally a
    heartbeat-like nudge (the sender's next number) makes the receiver ask for a lost tail."""
    rng = random.Random(seed)
    rx, got = receiver_cls(), []
    in_flight = [s for s in range(1, n + 1) if rng.random() > 0.2]
    in_flight += [s for s in in_flight if rng.random() < 0.2]  # duplicates
    rng.shuffle(in_flight)
    for _round in range(50):
        asked = []
        for seq in in_flight:
            delivered, missing = rx.receive(seq, f"m{seq}")
            got += delivered
            if missing:
                asked.append(missing)
        in_flight = []
        for begin, end in asked:
            in_flight += [s for s in range(begin, end + 1) if rng.random() > 0.2]
        if not in_flight:
            missing = rx.expect(n + 1)
            if missing is None:
                break
            in_flight = list(range(missing[0], missing[1] + 1))
    return got


@exercise("14.2", "An in-order receiver with gap detection and resend requests",
          attr="InOrderReceiver")
def _receiver(InOrderReceiver):
    def one(*arrivals):
        rx = InOrderReceiver()
        return [rx.receive(seq, f"m{seq}") for seq in arrivals]

    return [
        Case("in order: delivered at once", lambda: one(1, 2), [(["m1"], None), (["m2"], None)],
             input="1, 2"),
        Case("a gap: hold 3, ask for 2", lambda: one(1, 3)[1], ([], (2, 2)), input="1, 3"),
        Case("the gap filled: 2 and 3 come out together", lambda: one(1, 3, 2)[2],
             (["m2", "m3"], None), input="1, 3, 2"),
        Case("a duplicate is dropped", lambda: one(1, 1)[1], ([], None), input="1, 1"),
        Property("over lossy, duplicating, reordering links: each message once, in order",
                 lambda: [(n, s) for n in (1, 5, 40) for s in range(8)],
                 lambda p: _deliver(InOrderReceiver, *p),
                 lambda p: [f"m{i}" for i in range(1, p[0] + 1)],
                 show=lambda p: f"{p[0]} messages, seed {p[1]}"),
    ]


def _delays(retry_delay, seed: int) -> list:
    rng = random.Random(seed)
    return [retry_delay(i, rng) for i in range(7)]


def _within(delays) -> bool:
    model = Backoff()
    for i, d in enumerate(delays):
        if i + 1 >= model.max_attempts:
            if d is not None:
                return False
            continue
        ceiling = min(model.cap_ns, int(model.base_ns * model.factor ** i))
        if d is None or not ceiling // 2 <= d <= ceiling:
            return False
    return True


@exercise("14.3", "Exponential backoff with jitter, bounded", attr="retry_delay")
def _retry_delay(retry_delay):
    return [
        Case("the first retry waits 5-10 ms", lambda: 5_000_000 <= retry_delay(
            0, random.Random(1)) <= 10_000_000, True, input="attempt 0"),
        Case("the fourth waits 40-80 ms", lambda: 40_000_000 <= retry_delay(
            3, random.Random(1)) <= 80_000_000, True, input="attempt 3"),
        Case("after six sends: give up (None)", lambda: retry_delay(5, random.Random(1)), None,
             input="attempt 5"),
        Case("jittered: two clients do not retry together",
             lambda: len({retry_delay(2, random.Random(s)) for s in range(10)}) > 3, True,
             input="attempt 2, seeds 0-9"),
        Property("every attempt within [ceiling/2, ceiling], ceiling = min(200 ms, 10 ms x 2^n)",
                 lambda: range(20), lambda s: _within(_delays(retry_delay, s)), lambda s: True,
                 show=lambda s: f"rng seed {s}"),
    ]


def _model_fills(exchange_fills, oms_fills) -> list[int]:
    seen = Counter(oms_fills)
    bad = {e for e in exchange_fills if seen[e] != 1} | (set(seen) - set(exchange_fills))
    return sorted(bad)


def _histories():
    for sabotage, fault in ((None, "crash"), ("no-resend", "loss"), ("no-journal", "crash")):
        h = run(RunSpec(seed=2, fault=fault, component="oms", sabotage=sabotage)).history
        yield sabotage, [f[0] for f in h.finals["exchange"]["fills"]], h.finals["oms"]["fills"]


@exercise("14.4", "A checker invariant: every fill exactly once", attr="fills_not_once")
def _fills_not_once(fills_not_once):
    return [
        Case("all once: nothing to report", lambda: fills_not_once([1, 2, 3], [3, 1, 2]), [],
             input="exchange [1, 2, 3], OMS [3, 1, 2]"),
        Case("a lost fill", lambda: fills_not_once([1, 2, 3], [1, 3]), [2],
             input="exchange [1, 2, 3], OMS [1, 3]"),
        Case("a fill counted twice", lambda: fills_not_once([1, 2], [1, 2, 2]), [2],
             input="exchange [1, 2], OMS [1, 2, 2]"),
        Case("a fill the exchange never made", lambda: fills_not_once([1], [1, 9]), [9],
             input="exchange [1], OMS [1, 9]"),
        Property("on simulated runs, sabotaged or not, the package checker's answer",
                 lambda: list(_histories()), lambda p: sorted(fills_not_once(p[1], p[2])),
                 lambda p: _model_fills(p[1], p[2]), show=lambda p: f"sabotage {p[0]}"),
    ]
