"""Lab 14 units: the order state machine, the session layer, the journal, backoff, the checker."""

from __future__ import annotations

import random

import pytest

from labsupport.resilience import (
    INVARIANTS,
    Backoff,
    History,
    IllegalTransition,
    Journal,
    JournalError,
    Order,
    PositionKeeper,
    Session,
    check,
)
from labsupport.resilience.journal import FileDisk
from labsupport.resilience.orders import (
    CANCELLED,
    FILLED,
    NEW,
    PARTIAL,
    PENDING_CANCEL,
    PENDING_NEW,
    REJECTED,
    STATES,
    TRANSITIONS,
)
from labsupport.resilience.session import Frame, GapFill, Heartbeat, ResendRequest
from labsupport.sim import SimDisk

# -- the order state machine ---------------------------------------------------------------------
LEGAL = [(PENDING_NEW, NEW), (PENDING_NEW, REJECTED), (NEW, PARTIAL), (NEW, FILLED),
         (NEW, PENDING_CANCEL), (NEW, CANCELLED), (PARTIAL, PARTIAL), (PARTIAL, FILLED),
         (PENDING_CANCEL, CANCELLED), (PENDING_CANCEL, FILLED), (PENDING_CANCEL, NEW)]
ILLEGAL = [(FILLED, NEW), (FILLED, CANCELLED), (CANCELLED, NEW), (REJECTED, NEW),
           (PENDING_NEW, FILLED), (PENDING_NEW, PENDING_CANCEL), (NEW, PENDING_NEW),
           (NEW, REJECTED), (PARTIAL, NEW)]


def _order_in(state: str) -> Order:
    o = Order("c1", 1, 5, 100)
    o.state = state
    return o


@pytest.mark.parametrize("old,new", LEGAL)
def test_order_legal_transitions(old, new):
    o = _order_in(old)
    o.transition(new)
    assert o.state == new and o.history == [old]


@pytest.mark.parametrize("old,new", ILLEGAL)
def test_order_illegal_transitions_raise(old, new):
    o = _order_in(old)
    with pytest.raises(IllegalTransition, match=f"{old} -> {new}"):
        o.transition(new)
    assert o.state == old


def test_order_table_is_complete_and_terminal_states_have_no_exit():
    assert set(TRANSITIONS) == set(STATES)
    for state in (FILLED, CANCELLED, REJECTED):
        assert not TRANSITIONS[state]


@pytest.mark.parametrize("start,status,end", [
    (PENDING_NEW, FILLED, FILLED), (PENDING_NEW, NEW, NEW), (PENDING_NEW, CANCELLED, CANCELLED),
    (PARTIAL, NEW, PARTIAL),  # stale report: no step back
    (PENDING_CANCEL, PARTIAL, PENDING_CANCEL), (PENDING_CANCEL, CANCELLED, CANCELLED),
    (FILLED, FILLED, FILLED)])
def test_order_reach_walks_legal_edges(start, status, end):
    o = _order_in(start)
    o.reach(status)
    assert o.state == end


def test_order_reach_from_terminal_raises():
    with pytest.raises(IllegalTransition):
        _order_in(FILLED).reach(NEW)


def test_fills_and_positions_count_each_execution_once():
    o, keeper = Order("c", 1, 5, 100), PositionKeeper()
    assert o.apply_fill(7, 2) and not o.apply_fill(7, 2)
    assert keeper.apply(7, 2) and not keeper.apply(7, 2)
    assert o.cum_qty == 2 and keeper.position == 2


# -- the session layer ---------------------------------------------------------------------------
def _pair(resend: bool = True) -> tuple[Session, Session]:
    a, b = Session("b", 1, resend=resend), Session("a", 1, resend=resend)
    b.receive(a.heartbeat(), 0)
    a.receive(b.heartbeat(), 0)
    return a, b


def test_session_queues_until_peer_known_then_numbers_from_one():
    a = Session("b", 1)
    assert a.send("x") == []
    got = a.receive(Heartbeat(4, 0, 1), 0)
    assert got.up and not got.restarted
    assert [type(r) for r in got.replies] == [Frame, Heartbeat]
    assert got.replies[0] == Frame(1, 4, 1, "x")


def test_session_in_order_dedup_and_gap_resend():
    a, b = _pair()
    f1, f2, f3 = (a.send(p)[0] for p in "xyz")
    assert b.receive(f1, 1).payloads == ["x"]
    got = b.receive(f3, 2)  # f2 lost
    assert got.payloads == [] and got.replies == [ResendRequest(1, 1, 2, 2)]
    resent = a.receive(got.replies[0], 3).replies
    assert resent == [f2]
    assert b.receive(resent[0], 4).payloads == ["y", "z"]
    assert b.receive(f2, 5).payloads == []  # a network duplicate


def test_session_heartbeat_reveals_a_lost_tail():
    a, b = _pair()
    a.send("x")  # lost
    got = b.receive(a.heartbeat(), 10)
    assert got.replies == [ResendRequest(1, 1, 1, 1)]


def test_session_gap_fill_for_messages_no_longer_kept():
    a, b = Session("b", 1, keep=2), Session("a", 1)
    b.receive(a.heartbeat(), 0)
    a.receive(b.heartbeat(), 0)
    frames = [a.send(i)[0] for i in range(5)]
    got = b.receive(frames[4], 1)
    replies = a.receive(got.replies[0], 2).replies
    assert replies[0] == GapFill(1, 1, 1, 4)
    out = [p for r in replies for p in b.receive(r, 3).payloads]
    assert out == [3, 4]


def test_session_peer_restart_resets_both_directions():
    a, b = _pair()
    a.send("x")
    a.send("y")
    got = a.receive(Heartbeat(2, 0, 1), 5)  # b's second incarnation
    assert got.up and got.restarted and a.next_out == 1 and a.store == {}
    assert a.receive(Frame(1, 1, 9, "stale"), 6).payloads == []  # the dead incarnation


def test_session_without_resend_skips_gaps():
    a, b = _pair(resend=False)
    f1, _f2, f3 = (a.send(p)[0] for p in "xyz")
    b.receive(f1, 0)
    got = b.receive(f3, 1)
    assert got.payloads == ["z"] and got.replies == []


def test_session_failure_detection():
    a, b = _pair()
    b.receive(a.heartbeat(), 100)
    assert b.alive(150, 60) and not b.alive(200, 60)


# -- the journal ---------------------------------------------------------------------------------
def test_journal_drops_torn_tail_and_rewrites(tmp_path):
    for disk in (SimDisk(random.Random(1)), FileDisk(tmp_path)):
        j = Journal(disk, "j")
        j.append(["a", 1])
        j.append(["b", 2])
        disk.append("j", b"\x00\x01torn")
        assert j.recover() == [["a", 1], ["b", 2]] and j.torn == 1
        j.append(["c", 3])
        assert Journal(disk, "j").recover() == [["a", 1], ["b", 2], ["c", 3]]


def test_journal_corruption_in_the_middle_is_an_error():
    disk = SimDisk(random.Random(1))
    disk.append("j", b"garbage!")
    Journal(disk, "j").append(["ok"])
    with pytest.raises(JournalError, match="record 1 of 2"):
        Journal(disk, "j").recover()


def test_journal_loses_unsynced_records_on_crash():
    disk = SimDisk(random.Random(2), unsynced="lose")
    j = Journal(disk, "j")
    j.append([1])
    j.append([2], sync=False)
    disk.crash()
    assert j.recover() == [[1]]


# -- backoff -------------------------------------------------------------------------------------
def test_backoff_grows_is_jittered_and_bounded():
    b = Backoff(base_ns=10, factor=2, cap_ns=50, max_attempts=5)
    rng = random.Random(0)
    delays = [b.delay_ns(i, rng) for i in range(5)]
    assert delays[-1] is None
    for i, d in enumerate(delays[:-1]):
        ceiling = min(50, 10 * 2 ** i)
        assert ceiling // 2 <= d <= ceiling
    assert len({b.delay_ns(3, random.Random(s)) for s in range(20)}) > 1  # jitter


# -- the checker on hand-made histories ----------------------------------------------------------
def _clean() -> History:
    h = History(meta={"limits": (5, 10), "seed": 0})
    h.finals = {"exchange": {"orders": {"c1": ["c1", FILLED, 2], "c2": ["c2", NEW, 0]},
                             "position": 2, "fills": [[1, "c1", 2]], "blocked": False},
                "oms": {"orders": {"c1": [FILLED, 2], "c2": [NEW, 0]}, "position": 2,
                        "fills": [1]},
                "dropcopy": {"position": 2, "fills": [1]}}
    h.record(1, "exchange", "accept", "c1", "c1", 1, 2, 100)
    h.record(2, "exchange", "fill", 1, "c1", "c1", 1, 2, 100, 2)
    return h


def _break(kind: str) -> History:
    h = _clean()
    ex, oms = h.finals["exchange"], h.finals["oms"]
    if kind == "state-machine":
        h.record(3, "oms", "illegal", "c1", FILLED, NEW)
    elif kind == "unique-order":
        ex["orders"]["c1#2"] = ["c1", NEW, 0]
    elif kind == "fills-once":
        oms["fills"] = []
    elif kind == "positions-agree":
        h.finals["dropcopy"]["position"] = 3
    elif kind == "orders-resolved":
        oms["orders"]["c2"] = [CANCELLED, 0]
    elif kind == "kill-respected":
        h.record(3, "exchange", "kill", 1001, 0)
        h.record(4, "exchange", "accept", "c3", "c3", 1, 1, 100)
    elif kind == "risk-limits":
        h.record(5, "exchange", "accept", "c4", "c4", 1, 6, 100)
    return h


def test_checker_passes_a_clean_history():
    assert check(_clean()) == []


@pytest.mark.parametrize("invariant", INVARIANTS)
def test_checker_catches_each_invariant(invariant):
    found = {v.invariant for v in check(_break(invariant))}
    assert invariant in found
