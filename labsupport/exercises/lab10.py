"""Exercises of notebook 10: the rules a microservice exchange lives by, plugged into its code.

- 10.1 the MsgSeqNum rule of a FIX session: the learner's answer is compared with what the
  exchange's :class:`~labsupport.exchange.FixSession` really does with such a message;
- 10.2 snapshot recovery: which buffered feed updates to apply after a snapshot, or "gap";
- 10.3 per-hop latency: the time each hop took, from a message's hop stamps.
"""

from __future__ import annotations

import random

from ..exchange.latency import hop_breakdown
from ..exchange.session import FixSession, SessionStore
from ..protocols.fix import encode
from . import Case, Property, exercise


def _session_does(expected: int, received: int, poss_dup: bool) -> str:
    """Feed a real session, expecting ``expected``, one Heartbeat numbered ``received``."""
    store = SessionStore()
    s = FixSession(lambda comp: store, clock=lambda: 0, wall=lambda: 0.0)
    s.receive(encode("A", [(49, "C"), (56, "LABX"), (34, 1), (52, "x"), (98, 0), (108, 30)]))
    store.next_in = expected
    s.take_output()
    extra = [(43, "Y")] if poss_dup else []
    s.receive(encode("0", [(49, "C"), (56, "LABX"), (34, received), (52, "x"), *extra]))
    sent = s.take_output()
    if s.closed:
        return "logout"
    if b"35=2\x01" in sent:
        return "resend"
    return "process" if store.next_in == expected + 1 else "ignore"


@exercise("10.1", "The MsgSeqNum rule", attr="seq_action")
def _seq_action(seq_action):
    def inputs():
        rng = random.Random(101)
        for _ in range(80):
            expected = rng.randint(2, 40)
            yield expected, expected + rng.randint(-3, 3), rng.random() < 0.5

    return [
        Case("the expected number is processed", lambda: seq_action(5, 5, False), "process",
             input="(5, 5, False)"),
        Case("a number too high asks for a resend", lambda: seq_action(5, 8, False), "resend",
             input="(5, 8, False)"),
        Case("too low without PossDupFlag ends the session", lambda: seq_action(5, 3, False),
             "logout", input="(5, 3, False)"),
        Case("a possible duplicate is ignored", lambda: seq_action(5, 3, True), "ignore",
             input="(5, 3, True)"),
        Property("agrees with the exchange's session", inputs, lambda a: seq_action(*a),
                 lambda a: _session_does(*a),
                 show=lambda a: f"expected {a[0]}, received {a[1]}, PossDup {a[2]}"),
    ]


def _after_snapshot(snapshot_seq, seqs):
    out = []
    nxt = snapshot_seq + 1
    for s in seqs:
        if s < nxt:
            continue
        if s != nxt:
            return None
        out.append(s)
        nxt += 1
    return out


@exercise("10.2", "Applying updates after a snapshot", attr="after_snapshot")
def _after(after_snapshot):
    def inputs():
        rng = random.Random(102)
        for _ in range(100):
            start = rng.randint(1, 20)
            seqs = list(range(start, start + rng.randint(0, 12)))
            if seqs and rng.random() < 0.3:
                seqs.pop(rng.randrange(len(seqs)))
            yield start + rng.randint(-2, 6), seqs

    return [
        Case("older updates are skipped", lambda: after_snapshot(10, [9, 10, 11, 12]), [11, 12],
             input="(10, [9, 10, 11, 12])"),
        Case("a hole means another snapshot", lambda: after_snapshot(10, [11, 13]), None,
             input="(10, [11, 13])"),
        Case("nothing new", lambda: after_snapshot(10, [8, 9]), [], input="(10, [8, 9])"),
        Property("any buffer", inputs, lambda a: after_snapshot(*a), lambda a: _after_snapshot(*a),
                 show=lambda a: f"snapshot {a[0]}, buffered {a[1]}"),
    ]


@exercise("10.3", "Per-hop latency", attr="hops")
def _hops(hops):
    def inputs():
        rng = random.Random(103)
        names = ["gateway_in", "risk_in", "risk_out", "match_in", "match_out", "publish"]
        for _ in range(60):
            t = rng.randint(0, 10**9)
            stamps = []
            for name in names[: rng.randint(1, len(names))]:
                t += rng.randint(0, 50_000)
                stamps.append([name, t])
            yield stamps

    return [
        Case("two hops", lambda: hops([["a", 10], ["b", 25], ["c", 27]]),
             {"a->b": 15, "b->c": 2}, input='[["a", 10], ["b", 25], ["c", 27]]'),
        Case("one stamp: no hop", lambda: hops([["a", 10]]), {}, input='[["a", 10]]'),
        Property("the exchange's own breakdown", inputs, lambda a: hops(a), hop_breakdown,
                 show=lambda a: str(a)),
    ]
