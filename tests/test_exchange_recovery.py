"""A matcher killed with -9 after journaling an input and before publishing what it produced:
restarted, it publishes those outputs again, and every receiver (the gateway, market data, risk
and the drop copy) takes each exactly once, deduplicating by journal number."""

from __future__ import annotations

import time

import pytest

from labsupport.exchange.bus import Dedup
from labsupport.exchange.client import FixClient, FixClientError
from labsupport.exchange.mdclient import L2Subscriber
from labsupport.exchange.runs import rpc
from labsupport.exchange.system import Cluster


def test_dedup_drops_what_a_batch_repeats_and_keeps_one_inputs_outputs_together() -> None:
    d = Dedup()
    first = [{"jseq": 1, "part": 0, "x": "new"}, {"jseq": 2, "part": 0, "x": "new"},
             {"jseq": 2, "part": 0, "x": "fill"}, {"k": "er", "x": "rej"}]
    assert d.fresh(first) == first  # two outputs of input 2 in one batch: both new
    again = [{"jseq": 2, "part": 0, "x": "new"}, {"jseq": 2, "part": 0, "x": "fill"},
             {"jseq": 3, "part": 0, "x": "new"}, {"jseq": 1, "part": 1, "x": "new"}]
    assert d.fresh(again) == again[2:]
    assert d.dropped == 2 and d.last == {0: 3, 1: 1}


def _reports(c: FixClient, quiet_s: float = 1.5, expect: int = 0) -> list[dict[int, str]]:
    """Every ExecutionReport that arrives until the session has been quiet for ``quiet_s``;
    the first ``expect`` of them are waited for up to 30 s each (a loaded machine can pause
    longer than ``quiet_s`` before a resend), so only the check for extras relies on quiet."""
    out = []
    while True:
        try:
            wait = 30.0 if len(out) < expect else quiet_s
            out.append(c.recv(until=lambda m: m.get(35) == "8", timeout_s=wait))
        except FixClientError as exc:  # quiet for quiet_s
            assert "no message" in str(exc), exc
            return out


@pytest.mark.timeout(180)
def test_kill_between_journal_and_publish_delivers_every_report_exactly_once(tmp_path) -> None:
    with Cluster(tmp_path / "run", ["AAA"], 1,
                 faults={"match-0": {"kill_after_journal": 3}}) as venue:
        ports = venue.ports
        sub = L2Subscriber(ports["md_zmq"], ports["rpc"])
        sub.poll()
        a = FixClient("127.0.0.1", ports["fix"], "A", timeout_s=15)
        b = FixClient("127.0.0.1", ports["fix"], "B", timeout_s=15)
        a.logon()
        b.logon()
        a.new_order("s1", "AAA", "2", 10, "10.00")
        a.new_order("s2", "AAA", "2", 10, "10.01")
        assert [m[150] for m in a.reports(2)] == ["0", "0"]
        b.new_order("x1", "AAA", "1", 15, "10.01")  # input 3: journaled, then the matcher dies
        deadline = time.monotonic() + 30
        while venue.alive("match-0"):
            assert time.monotonic() < deadline, "the fault did not fire"
            time.sleep(0.05)
        assert _reports(b, 0.5) == []  # nothing was published before the kill
        venue.restart("match-0")
        got_b, got_a = _reports(b, expect=3), _reports(a, expect=2)
        assert [(m[150], m[32], m[14], m[151]) for m in got_b] == [
            ("0", "0", "0", "15"), ("F", "10", "10", "5"), ("F", "5", "15", "0")]
        assert [(m[11], m[150], m[32]) for m in got_a] == [("s1", "F", "10"), ("s2", "F", "5")]
        assert len({m[17] for m in got_a + got_b}) == 5  # distinct ExecIDs
        # trading goes on, and nothing of the resend comes twice
        b.new_order("x2", "AAA", "1", 5, "10.01")
        assert [(m[11], m[150], m[32]) for m in _reports(b, expect=2)] == [("x2", "0", "0"),
                                                                ("x2", "F", "5")]
        st = rpc(ports["services"]["match-0"], "Status")["parts"]["matchers"][0]
        assert st["replayed"] == 3 and st["resent"] > 0
        deadline = time.monotonic() + 10
        while rpc(ports["services"]["dropcopy"], "Positions")["fills"] < 3:
            assert time.monotonic() < deadline, "the drop copy missed fills"
            time.sleep(0.05)
        assert rpc(ports["services"]["dropcopy"], "Positions")["fills"] == 3
        snap = rpc(ports["rpc"], "Snapshot")
        sub.poll(10.0, until_seq=snap["seq"])
        assert sub.view("AAA") == rpc(ports["services"]["match-0"], "Book", {"symbol": "AAA"})
        assert sub.view("AAA") == {"bids": [], "asks": []}
        sub.close()
        a.logout()
        b.logout()


@pytest.mark.timeout(180)
def test_a_restarted_gateway_knows_its_orders_and_sessions_resume_their_numbers(tmp_path) -> None:
    with Cluster(tmp_path / "run", ["AAA"], 1) as venue:
        ports = venue.ports
        a = FixClient("127.0.0.1", ports["fix"], "A", timeout_s=15)
        a.logon()
        a.new_order("s1", "AAA", "2", 10, "10.00")
        a.new_order("s2", "AAA", "2", 10, "10.05")
        acks = a.reports(2)
        assert [m[150] for m in acks] == ["0", "0"]
        last_out = int(acks[-1][34])
        venue.kill("gateway")  # kill -9: whatever was in memory only is gone
        venue.restart("gateway")
        again = FixClient("127.0.0.1", ports["fix"], "A", timeout_s=15)
        again.next_seq, again.sent = a.next_seq, a.sent  # the same session, continued
        a.close()
        reply = again.logon(reset=False)
        assert int(reply[34]) == last_out + 1  # the venue's numbers continue
        b = FixClient("127.0.0.1", ports["fix"], "B", timeout_s=15)
        b.logon()
        b.new_order("x1", "AAA", "1", 10, "10.00")
        assert [m[150] for m in b.reports(2)] == ["0", "F"]
        (fill,) = again.reports(1)  # the resting order the gateway took before its restart
        assert (fill[11], fill[37], fill[150], fill[14], fill[151]) == ("s1", "1", "F", "10", "0")
        again.cancel("c2", "s2", "AAA", "2")  # known by its ClOrdID across the restart
        (cxl,) = again.reports(1)
        assert (cxl[150], cxl[41], cxl[11]) == ("4", "s2", "c2")
        # what was sent before the restart can still be resent
        again.send("2", [(7, 1), (16, last_out)])
        resent = [again.recv(admin=True, until=lambda m: m.get(43) == "Y" and m.get(35) == "8")
                  for _ in range(2)]
        assert [m[11] for m in resent] == ["s1", "s2"]
        assert not [m for m in again.session_messages if m.get(35) in ("2", "5")]
        again.logout()
        b.logout()
