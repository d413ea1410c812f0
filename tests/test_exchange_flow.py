"""The exchange end to end in one process (``--mode monolith``), driven by real FIX clients
(simplefix) over loopback TCP, with both market-data feeds read by real subscribers."""

from __future__ import annotations

import random

import pytest

from labsupport.exchange import Monolith
from labsupport.exchange.client import FixClient
from labsupport.exchange.mdclient import ItchSubscriber, L2Subscriber
from labsupport.exchange.scenario import check_reports, run_engine, run_fix, script
from labsupport.orderbook import ReferenceEngine

SYMBOLS = ("AAA", "BBB")


@pytest.fixture
def venue():
    with Monolith(SYMBOLS, matchers=2) as ex:  # the default engine (Lab 02's)
        yield ex


@pytest.fixture(params=["lab02", "lab11"])
def venue_any(request):
    """The venue on each matching engine (Lab 02's is the reference)."""
    with Monolith(SYMBOLS, matchers=2, engine=request.param) as ex:
        yield ex


def client(ex: Monolith, name: str) -> FixClient:
    c = FixClient("127.0.0.1", ex.ports["fix"], name)
    c.logon()
    return c


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [3, 11])
def test_scripted_flow_matches_lab02_and_the_naive_reference(venue_any, seed) -> None:
    print("seed", seed)
    venue = venue_any
    steps = script(seed=seed, n=120, symbols=SYMBOLS)
    got = run_fix("127.0.0.1", venue.ports["fix"], steps, settle_s=0.3)
    trades, books = run_engine(steps, symbols=SYMBOLS)
    ref_trades, ref_books = run_engine(steps, ReferenceEngine, symbols=SYMBOLS)
    assert trades and got.trades == trades == ref_trades
    assert {s: venue.core.matcher_for(s).l2(s) for s in SYMBOLS} == books == ref_books
    for name, reports in got.reports.items():
        assert check_reports(reports) == [], name
    # the drop copy saw the same fills
    assert [(f[1], f[2], f[3]) for f in venue.core.dropcopy.fills] == [t[:3] for t in trades]


def test_execution_report_fields_and_statuses(venue) -> None:
    a, b = client(venue, "A"), client(venue, "B")
    a.new_order("a1", "AAA", "1", 100, "10.00", account="acc1")
    (ack,) = a.reports(1)
    assert (ack[150], ack[39], ack[14], ack[151], ack[6], ack[1], ack[11]) == (
        "0", "0", "0", "100", "0", "acc1", "a1")
    b.new_order("b1", "AAA", "2", 30, "9.90")
    b.new_order("b2", "AAA", "2", 20, "10.00")
    rb = b.reports(4)
    assert [(m[11], m[150], m[39], m[32], m[31], m[14], m[151]) for m in rb] == [
        ("b1", "0", "0", "0", "0", "0", "30"), ("b1", "F", "2", "30", "10", "30", "0"),
        ("b2", "0", "0", "0", "0", "0", "20"), ("b2", "F", "2", "20", "10", "20", "0")]
    ra = a.reports(2)
    assert [(m[150], m[39], m[32], m[14], m[151], m[6]) for m in ra] == [
        ("F", "1", "30", "30", "70", "10"), ("F", "1", "20", "50", "50", "10")]
    # replace: new total 80 at 10.05 (30 left to fill), then cancel
    a.replace("a2", "a1", "AAA", "1", 80, "10.05")
    (rpl,) = a.reports(1)
    assert (rpl[150], rpl[39], rpl[11], rpl[41], rpl[38], rpl[151], rpl[14]) == (
        "5", "1", "a2", "a1", "80", "30", "50")
    b.new_order("b3", "AAA", "2", 10, "10.01", tif="3")  # IOC: fills 10 at 10.05
    assert [m[150] for m in b.reports(2)] == ["0", "F"]
    fill = a.reports(1)[0]
    assert (fill[31], fill[14], fill[151], fill[6]) == ("10.05", "60", "20", "10.008333")
    a.cancel("a3", "a2", "AAA", "1")
    (cxl,) = a.reports(1)
    assert (cxl[150], cxl[39], cxl[11], cxl[41], cxl[151], cxl[14]) == (
        "4", "4", "a3", "a2", "0", "60")
    a.cancel("a4", "a2", "AAA", "1")  # no longer live
    (rej,) = a.reports(1)
    assert (rej[35], rej[434], rej[39]) == ("9", "1", "4")
    # IOC and FOK remainders are Canceled
    a.new_order("a5", "BBB", "1", 10, "5.00", tif="3")
    assert [(m[150], m[39], m[151]) for m in a.reports(2)] == [("0", "0", "10"), ("4", "4", "0")]
    a.new_order("a6", "BBB", "1", 10, "5.00", tif="4")
    assert [(m[150], m[39]) for m in a.reports(2)] == [("0", "0"), ("4", "4")]
    a.logout()
    b.logout()


def test_risk_rejects_reach_the_client_with_the_reason(venue) -> None:
    c = client(venue, "R")
    c.new_order("big", "AAA", "1", 50_000, "10.00")
    c.new_order("mkt", "BBB", "1", 10)  # market order, nothing has traded: no price to check
    c.new_order("far", "AAA", "1", 10, "10.00")
    reps = c.reports(3)
    assert [(m[150], m[39], m.get(58)) for m in reps[:2]] == [
        ("8", "8", "risk: max_order_qty"), ("8", "8", "risk: no_price")]
    assert reps[2][150] == "0"
    assert venue.core.risk.rejected == 2
    c.logout()


def test_unknown_symbol_and_malformed_fix_keep_the_session(venue) -> None:
    c = client(venue, "M")
    c.new_order("u1", "NOPE", "1", 10, "1.00")
    (rej,) = c.reports(1)
    assert (rej[150], rej[58]) == ("8", "unknown symbol")
    c.send("D", [(11, "m1"), (55, "AAA"), (38, 5), (40, "2"), (44, "1.00")])  # no Side
    r = c.recv(until=lambda m: m.get(35) == "3")
    assert (r[373], r[371]) == ("1", "54")
    c.send_raw(b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")  # garbled: dropped, no answer
    c.new_order("ok", "AAA", "1", 1, "1.00")
    assert c.reports(1)[0][150] == "0"
    assert venue.core.gateway.counts["dropped"] == 1
    c.logout()


def test_sequence_gap_is_recovered_with_resend_request(venue) -> None:
    c = client(venue, "G")
    c.skip_seq()  # message 2 "lost" on the way
    c.new_order("g1", "AAA", "1", 5, "1.00")  # arrives as 3: parked, ResendRequest 2..0
    rr = c.recv(admin=True, until=lambda m: m.get(35) == "2")  # the client resends 2 and 3
    assert (rr[7], rr[16]) == ("2", "0")
    assert c.reports(1)[0][11] == "g1"  # processed once the gap is filled
    session = venue.core.gateway.session_for("G")
    assert session is not None and session.resend_requests_sent == 1
    assert session.store.next_in == 4
    c.logout()


@pytest.mark.timeout(60)
def test_subscribers_books_equal_the_matchers_after_every_update(venue_any) -> None:
    venue = venue_any
    seed = 5
    print("seed", seed)
    rng = random.Random(seed)
    md = venue.core.md
    rpc = venue.ports["rpc"]
    subs = {"l2": L2Subscriber(venue.ports["md_zmq"], rpc),
            "itch": ItchSubscriber(venue.ports["md_udp"], rpc),
            "lossy": ItchSubscriber(venue.ports["md_udp"], rpc, drop=lambda i: rng.random() < 0.15)}
    steps = script(seed=seed, n=100, symbols=SYMBOLS)
    checked = []

    def after(i: int) -> None:
        if i == 50:  # a late joiner: starts from a snapshot
            subs["late_l2"] = L2Subscriber(venue.ports["md_zmq"], rpc)
            subs["late_itch"] = ItchSubscriber(venue.ports["md_udp"], rpc)
        for name, sub in subs.items():
            until = md.seq if isinstance(sub, L2Subscriber) else md.mold_seq
            sub.poll(0.3 if name == "lossy" else 3.0, until_seq=until)
            for s in SYMBOLS:
                assert sub.view(s) == venue.core.matcher_for(s).l2(s), (name, i, s)
        checked.append(i)

    try:
        run_fix("127.0.0.1", venue.ports["fix"], steps, settle_s=0.2, after=after)
    finally:
        for sub in subs.values():
            sub.close()
    assert len(checked) == len(steps)
    assert subs["lossy"].dropped > 0 and subs["lossy"].gaps > 0
    assert subs["lossy"].recoveries == subs["lossy"].gaps + 1
    assert subs["late_l2"].recoveries >= 1 and subs["late_itch"].recoveries >= 1
