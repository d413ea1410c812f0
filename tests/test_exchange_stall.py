"""Nothing in a measurement run waits forever: a subscriber that lost the feed's tail recovers at
the next heartbeat, catching up has one deadline and names who is behind, and a load run whose
orders are never acknowledged ends with an error that says which sessions still wait."""

from __future__ import annotations

import time

import pytest
import zmq

from labsupport.exchange import ExchangeError, MarketData, Matcher, Monolith
from labsupport.exchange.bots import run_load
from labsupport.exchange.mdclient import ItchSubscriber, L2Subscriber
from labsupport.exchange.net import UdpFanout
from labsupport.exchange.runs import _complete, catch_up
from labsupport.orderbook import BUY, LIMIT, SELL


def _feed(lose: dict) -> tuple[zmq.Context, int, MarketData, Matcher]:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    md = MarketData(["AAA"], publish=lambda b: None if lose["on"] else pub.send(b))
    md.pub = pub  # closed by the test
    matcher = Matcher(["AAA"], send=lambda dest, msg: md.handle(msg) if dest == "md" else None)
    return ctx, port, md, matcher


def _order(matcher: Matcher, oid: int, side: int, px: int, qty: int) -> None:
    matcher.handle({"k": "new", "oid": oid, "sym": "AAA", "side": side, "ot": LIMIT, "px": px,
                    "qty": qty, "acct": "A"})


@pytest.mark.timeout(30)
def test_a_lost_tail_is_recovered_at_the_next_heartbeat() -> None:
    lose = {"on": False}
    ctx, port, md, matcher = _feed(lose)
    sub = L2Subscriber(port, 0, snapshot=md.snapshot)
    try:
        deadline = time.monotonic() + 10
        while not sub.sock.poll(20):  # a slow joiner: beat until one is heard
            md.heartbeat()
            assert time.monotonic() < deadline, "the subscription never came up"
        sub.poll()
        for i in range(5):
            _order(matcher, i + 1, BUY if i % 2 else SELL, 1000 + (1 if i % 2 else 5) + i, 10)
            sub.sock.poll(200)
            sub.poll()
        assert sub.seq == md.seq and sub.gaps == 0
        lose["on"] = True  # the last two updates before a pause never reach the subscriber
        _order(matcher, 6, BUY, 990, 3)
        _order(matcher, 7, SELL, 1100, 4)
        lose["on"] = False
        time.sleep(0.1)
        assert sub.poll() == 0 and sub.seq < md.seq  # nothing else arrives to show the gap
        md.heartbeat()
        deadline = time.monotonic() + 5
        while sub.seq < md.seq:
            sub.sock.poll(50)
            sub.poll()
            assert time.monotonic() < deadline, "the heartbeat did not reveal the lost tail"
        assert sub.gaps == 1
        assert sub.view("AAA") == matcher.l2("AAA") == md.books["AAA"].view()
    finally:
        sub.close()
        md.pub.close()
        ctx.term()


def test_the_itch_feeds_heartbeat_packet_reveals_a_lost_tail() -> None:
    packets: list[bytes] = []
    md = MarketData(["AAA"], datagram=packets.append)
    matcher = Matcher(["AAA"], send=lambda dest, msg: md.handle(msg) if dest == "md" else None)
    feed = UdpFanout(0)  # where the subscriber says JOIN; the packets are handed over here
    sub = ItchSubscriber(feed.port, 0, snapshot=md.snapshot)
    try:
        _order(matcher, 1, BUY, 1000, 5)
        sub._packet(packets.pop())
        _order(matcher, 2, SELL, 1010, 5)
        packets.pop()  # lost
        md.heartbeat()
        sub._packet(packets.pop())  # a MoldUDP64 packet of no messages: the next number
        assert sub.gaps == 1 and sub.next_seq == md.mold_seq + 1
        assert sub.view("AAA") == matcher.l2("AAA")
    finally:
        sub.close()
        feed.close()


class _Stuck:
    def __init__(self, seq: int) -> None:
        self.seq = seq

    def poll(self, *args: object, **kw: object) -> int:
        return 0


def test_catch_up_has_one_deadline_and_names_who_is_behind() -> None:
    lines: list[str] = []
    t = time.monotonic()
    with pytest.raises(ExchangeError, match=r"2 of 3 subscribers still below L2 seq 10"):
        catch_up([_Stuck(10), _Stuck(4), _Stuck(7)], 10, timeout_s=0.3, progress=lines.append)
    assert time.monotonic() - t < 5  # one deadline for all, not one per subscriber


@pytest.mark.timeout(60)
def test_a_load_whose_orders_are_dropped_ends_naming_the_waiting_sessions() -> None:
    with Monolith(["AAPL"]) as ex:
        ex.core.bus.handlers["risk"] = lambda msg: None  # every order vanishes behind the gateway
        lines: list[str] = []
        res = run_load("127.0.0.1", ex.ports["fix"], sessions=2, rate=500, orders=20,
                       timeout_s=1.0, prefix="LOST", progress=lines.append)
    assert res.acks == 0 and res.sent > 0
    assert sum(res.unacked.values()) == res.sent
    with pytest.raises(ExchangeError, match=r"orders not acknowledged.*LOST0: \d+"):
        _complete(res, "load")
