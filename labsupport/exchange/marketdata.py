"""The market-data service and the book a subscriber rebuilds from it, sans-IO.

What it mirrors: a venue's public feeds. Two at once, as real venues publish several:

- an incremental L2 feed (price level -> quantity, order count) with trades, one message per
  matching event, each numbered (``seq``), published over ZeroMQ PUB (what a vendor or an
  internal bus carries);
- an order-level feed in NASDAQ TotalView-ITCH 5.0 messages (A add, E executed, D delete,
  U replace) framed in MoldUDP64 packets over UDP, numbered per message, packed with Lab 13's
  layout structs (``STRUCTS``, the ones its parser unpacks with; the same bytes as its
  validating ``encode_tuple``, a tenth of the cost, which the tests check) and framed with
  its ``encode_moldudp64`` (what a co-located trading firm consumes).

Recovery. A subscriber that joins late or sees a gap asks for a snapshot over RPC: the L2
books with the L2 ``seq`` they include, and the live orders of the ITCH book with the
MoldUDP64 sequence number they include. It then applies only what comes after. A quiet feed
sends a heartbeat (:meth:`MarketData.heartbeat`: ``{"seq": last, "hb": 1}`` on the L2 feed, a
MoldUDP64 packet of no messages carrying the next number on UDP, as MoldUDP64 specifies), so a
subscriber that lost the *last* messages before a pause sees the gap within one heartbeat
instead of waiting for traffic that may never come. (ZeroMQ's PUB drops a subscriber's
messages once ``PUB_HWM`` wait for it, as a real feed drops a slow consumer; the services set
it well above ZeroMQ's default of 1 000, which fifty subscribers on two loaded cores reach.) The service
keeps both views current by applying every update it publishes to its own copy (a
:class:`L2Book` per symbol, one Lab 13 :class:`~labsupport.protocols.itch.ItchBook`).

Prices: the L2 feed carries Lab 02 ticks (cents); ITCH Price(4) is 1/10 000, hence ``x 100``.
Stock locate codes are the symbol's position in the venue's list plus one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgpack

from labsupport.orderbook import BUY
from labsupport.protocols.itch import STRUCTS, ItchBook, encode_moldudp64

__all__ = ["ITCH_PRICE_PER_TICK", "L2Book", "MarketData", "MOLD_SESSION", "PUB_HWM"]

ITCH_PRICE_PER_TICK = 100
MOLD_SESSION = "LABX000001"
PUB_HWM = 100_000  # L2 messages queued per subscriber before ZeroMQ drops (its default: 1 000)
_A, _E, _D, _U = (STRUCTS[k].pack for k in "AEDU")


class L2Book:
    """Price levels of one symbol: ``bids``/``asks`` map price -> (qty, orders)."""

    __slots__ = ("bids", "asks")

    def __init__(self) -> None:
        self.bids: dict[int, tuple[int, int]] = {}
        self.asks: dict[int, tuple[int, int]] = {}

    def apply(self, side: int, price: int, qty: int, orders: int) -> None:
        levels = self.bids if side == BUY else self.asks
        if qty == 0:
            levels.pop(price, None)
        else:
            levels[price] = (qty, orders)

    def view(self) -> dict:
        """``{"bids": [[px, qty, n], ...best first], "asks": [...]}`` (the matcher's form)."""
        return {"bids": [[p, *self.bids[p]] for p in sorted(self.bids, reverse=True)],
                "asks": [[p, *self.asks[p]] for p in sorted(self.asks)]}

    @classmethod
    def from_view(cls, view: dict) -> L2Book:
        book = cls()
        for p, q, n in view["bids"]:
            book.bids[p] = (q, n)
        for p, q, n in view["asks"]:
            book.asks[p] = (q, n)
        return book


def itch_view(book: ItchBook, locate: int) -> dict:
    """An ITCH book's levels of one stock in the L2 feed's form and units (ticks)."""
    snap = book.l2(locate)
    return {"bids": [[lv.price_ticks // ITCH_PRICE_PER_TICK, lv.qty, lv.orders] for lv in snap.bids],
            "asks": [[lv.price_ticks // ITCH_PRICE_PER_TICK, lv.qty, lv.orders] for lv in snap.asks]}


class MarketData:
    """Sequences and encodes both feeds. ``publish(topic_bytes, payload)`` sends one L2
    message; ``datagram(packet)`` sends one MoldUDP64 packet to every UDP subscriber."""

    def __init__(self, symbols: list[str] | tuple[str, ...], *,
                 publish: Callable[[bytes], None] | None = None,
                 datagram: Callable[[bytes], None] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.symbols = tuple(symbols)
        self.locate = {s: i + 1 for i, s in enumerate(self.symbols)}
        self._stock = {s: s.encode("ascii").ljust(8, b" ") for s in self.symbols}  # Alpha(8)
        self.books = {s: L2Book() for s in self.symbols}
        self.itch = ItchBook()
        for s, loc in self.locate.items():
            self.itch.symbols[loc] = s
        self.publish = publish or (lambda payload: None)
        self.datagram = datagram or (lambda packet: None)
        self.clock, self.wall_ns = clock, wall_ns
        self.seq = 0  # L2 feed: last message number
        self.mold_seq = 0  # ITCH feed: last message number
        self.trades = 0

    def _itch_messages(self, sym: str, ops: list[list]) -> list[bytes]:
        """ITCH 5.0 A/E/D/U messages packed with Lab 13's structs: type, locate, tracking
        number 0, the 6-byte timestamp as its high 16 and low 32 bits, then the body."""
        loc = self.locate[sym]
        ts = self.wall_ns() % 86_400_000_000_000  # nanoseconds since midnight
        hi, lo = ts >> 32, ts & 0xFFFF_FFFF
        out = []
        for op in ops:
            k = op[0]
            if k == "A":
                out.append(_A(b"A", loc, 0, hi, lo, op[1], b"B" if op[2] == BUY else b"S", op[4],
                              self._stock[sym], op[3] * ITCH_PRICE_PER_TICK))
            elif k == "E":
                out.append(_E(b"E", loc, 0, hi, lo, op[1], op[2], op[3]))
            elif k == "D":
                out.append(_D(b"D", loc, 0, hi, lo, op[1]))
            else:  # U
                out.append(_U(b"U", loc, 0, hi, lo, op[1], op[2], op[3],
                              op[4] * ITCH_PRICE_PER_TICK))
        return out

    def handle(self, msg: dict) -> None:
        """One matching event's market data: update own books, publish both feeds."""
        sym = msg["sym"]
        book = self.books[sym]
        for side, price, qty, n in msg["l2"]:
            book.apply(side, price, qty, n)
        self.seq += 1
        self.trades += len(msg["trades"])
        stamps = msg.get("ts") or []
        self.publish(msgpack.packb({"seq": self.seq, "jseq": msg["jseq"], "part": msg["part"],
                                    "sym": sym, "l2": msg["l2"],
                                    "trades": [t[:3] for t in msg["trades"]],
                                    "ts": stamps + [["publish", self.clock()]]}))
        if msg["itch"]:
            messages = self._itch_messages(sym, msg["itch"])
            loc = self.locate[sym]
            for op in msg["itch"]:
                self.itch.apply(_tuple(loc, op))
            self.datagram(encode_moldudp64(MOLD_SESSION, self.mold_seq + 1, messages))
            self.mold_seq += len(messages)

    def heartbeat(self) -> None:
        """Say where both feeds are (the service calls this when it has been idle for a while)."""
        self.publish(msgpack.packb({"seq": self.seq, "hb": 1}))
        self.datagram(encode_moldudp64(MOLD_SESSION, self.mold_seq + 1, []))

    def snapshot(self) -> dict:
        """Both feeds' recovery state (see the module docstring)."""
        orders = [[ref, o[0], o[1], o[2], o[3]] for ref, o in self.itch.orders.items()]
        return {"seq": self.seq, "mold_seq": self.mold_seq, "locate": self.locate,
                "books": {s: b.view() for s, b in self.books.items()}, "orders": orders}

    def status(self) -> dict:
        return {"seq": self.seq, "mold_seq": self.mold_seq, "trades": self.trades}


def _tuple(locate: int, op: list) -> tuple:
    """An order-level change in the ITCH parser's tuple form (what :class:`ItchBook` applies)."""
    k = op[0]
    if k == "A":
        return ("A", locate, 0, 0, op[1], b"B" if op[2] == BUY else b"S", op[4], b"",
                op[3] * ITCH_PRICE_PER_TICK)
    if k == "E":
        return ("E", locate, 0, 0, op[1], op[2], op[3])
    if k == "D":
        return ("D", locate, 0, 0, op[1])
    return ("U", locate, 0, 0, op[1], op[2], op[3], op[4] * ITCH_PRICE_PER_TICK)
