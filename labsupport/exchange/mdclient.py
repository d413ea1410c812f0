"""Market-data subscribers that rebuild the book from the feed, recover from gaps, and check.

What they mirror: a trading firm's feed handlers. :class:`L2Subscriber` reads the ZeroMQ L2
feed; :class:`ItchSubscriber` reads the MoldUDP64/ITCH feed over UDP and rebuilds the book
order by order with Lab 13's :class:`~labsupport.protocols.itch.ItchBook`. Both follow the
same recovery rule, the one real feeds use: subscribe first, then ask for a snapshot (over
Lab 07's RPC), apply only updates numbered after it, and on any gap (a number skipped) throw
the book away and ask for a new snapshot. ``drop`` makes an ITCH subscriber lose packets on
purpose (a seeded predicate), to show the recovery working.

:func:`reference_books` replays a matcher's journal through a fresh Lab 02 engine and gives
the matcher's L2 book after every input: what a subscriber's book must equal after the update
with that journal number (the L2 feed carries it as ``jseq``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Iterator

import msgpack
import zmq

from .control import PATH
from .marketdata import L2Book

__all__ = ["ItchSubscriber", "L2Subscriber", "reference_books"]


def _snapshot(rpc_port: int) -> dict:
    from labsupport.rpc.threaded import BlockingChannel

    with BlockingChannel("127.0.0.1", rpc_port) as ch:
        return ch.unary(PATH + "Snapshot", {}, timeout=5.0)


class L2Subscriber:
    """The L2 feed's book builder. ``record=True`` keeps ``(part, jseq, sym, view)`` per update."""

    def __init__(self, md_port: int, rpc_port: int, *, record: bool = False,
                 snapshot: Callable[[], dict] | None = None) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.connect(f"tcp://127.0.0.1:{md_port}")
        self.get_snapshot = snapshot or (lambda: _snapshot(rpc_port))
        self.books: dict[str, L2Book] = {}
        self.seq = -1  # -1: no snapshot yet
        self.record = record
        self.history: list[tuple[int, int, str, dict]] = []
        self.gaps = self.recoveries = self.updates = 0
        self.latencies_ns: list[int] = []

    def recover(self) -> None:
        snap = self.get_snapshot()
        self.books = {s: L2Book.from_view(v) for s, v in snap["books"].items()}
        self.seq = snap["seq"]
        self.recoveries += 1

    def _apply(self, msg: dict) -> None:
        seq = msg["seq"]
        if self.seq < 0:
            self.recover()
        if "hb" in msg:  # the feed's heartbeat: its last number; behind it means a lost tail
            if seq > self.seq:
                self.gaps += 1
                self.recover()
            return
        if seq <= self.seq:
            return  # already in the snapshot
        if seq != self.seq + 1:
            self.gaps += 1
            self.recover()
            if seq <= self.seq:
                return
            if seq != self.seq + 1:  # the snapshot is older than what arrives: wait for more
                self.seq = -1
                return
        book = self.books.setdefault(msg["sym"], L2Book())
        for side, price, qty, n in msg["l2"]:
            book.apply(side, price, qty, n)
        self.seq = seq
        self.updates += 1
        if msg.get("ts"):
            self.latencies_ns.append(time.monotonic_ns() - msg["ts"][-1][1])
        if self.record:
            self.history.append((msg["part"], msg["jseq"], msg["sym"], book.view()))

    def poll(self, timeout_s: float = 0.0, until_seq: int | None = None) -> int:
        """Apply what has arrived. ``until_seq`` is the feed's latest number when the caller
        knows it (what a feed's heartbeat would say): wait up to ``timeout_s`` for it, and if
        it still has not arrived the tail was lost: recover from a snapshot."""
        if self.seq < 0:
            self.recover()  # subscribed first, now the snapshot
        deadline = time.monotonic() + timeout_s
        n = 0
        while True:
            try:
                self._apply(msgpack.unpackb(self.sock.recv(zmq.NOBLOCK)))
                n += 1
                continue
            except zmq.Again:
                pass
            if until_seq is None or self.seq >= until_seq:
                return n
            if time.monotonic() >= deadline:
                self.gaps += 1
                self.recover()
                return n
            self.sock.poll(10)

    def view(self, symbol: str) -> dict:
        return self.books.get(symbol, L2Book()).view()

    def close(self) -> None:
        self.sock.close()
        self.ctx.term()


class ItchSubscriber:
    """The MoldUDP64/ITCH feed's book builder (UDP on the loopback)."""

    def __init__(self, udp_port: int, rpc_port: int, *, drop: Callable[[int], bool] | None = None,
                 snapshot: Callable[[], dict] | None = None) -> None:
        from labsupport.protocols.itch import ItchBook

        self._book_class = ItchBook
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.feed = ("127.0.0.1", udp_port)
        self.sock.sendto(b"JOIN", self.feed)
        self.get_snapshot = snapshot or (lambda: _snapshot(rpc_port))
        self.drop = drop or (lambda i: False)
        self.book = ItchBook()
        self.locate: dict[str, int] = {}
        self.next_seq = 0  # 0: no snapshot yet
        self.packets = self.dropped = self.gaps = self.recoveries = 0

    def recover(self) -> None:
        snap = self.get_snapshot()
        book = self._book_class()
        self.locate = dict(snap["locate"])
        for sym, loc in self.locate.items():
            book.symbols[loc] = sym
        for ref, loc, side, price, shares in snap["orders"]:
            book.apply(("A", loc, 0, 0, ref, b"B" if side > 0 else b"S", shares, b"", price))
        self.book = book
        self.next_seq = snap["mold_seq"] + 1
        self.recoveries += 1

    def _packet(self, data: bytes) -> None:
        from labsupport.protocols.itch import parse_moldudp64

        self.packets += 1
        if self.drop(self.packets):
            self.dropped += 1
            return
        pkt = parse_moldudp64(data)
        if self.next_seq == 0:
            self.recover()
        first, msgs = pkt.sequence_number, pkt.messages
        if first > self.next_seq:
            self.gaps += 1
            self.recover()
            if first > self.next_seq:  # the snapshot predates this packet: start over
                self.next_seq = 0
                return
        skip = self.next_seq - first
        if skip >= len(msgs):
            return
        for t in msgs[max(skip, 0):]:
            self.book.apply(t)
        self.next_seq = first + len(msgs)

    def poll(self, timeout_s: float = 0.0, until_seq: int | None = None) -> int:
        """Apply what has arrived; as :meth:`L2Subscriber.poll`, ``until_seq`` is the last
        message number the feed has sent (a lost tail is recovered from a snapshot)."""
        if self.next_seq == 0:
            self.recover()
        deadline = time.monotonic() + timeout_s
        n = 0
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                if until_seq is None or self.next_seq > until_seq:
                    return n
                if time.monotonic() >= deadline:
                    self.gaps += 1
                    self.recover()
                    return n
                time.sleep(0.001)
                continue
            self._packet(data)
            n += 1

    def view(self, symbol: str) -> dict:
        from .marketdata import itch_view

        return itch_view(self.book, self.locate[symbol]) if symbol in self.locate else \
            {"bids": [], "asks": []}

    def close(self) -> None:
        try:
            self.sock.sendto(b"LEAVE", self.feed)
        finally:
            self.sock.close()


def reference_books(records: Iterable[dict], symbols: list[str] | tuple[str, ...]
                    ) -> Iterator[tuple[int, str, dict]]:
    """Replay journal records through a fresh matcher; yields ``(jseq, symbol, l2 view)``
    after each input."""
    from .matching import Matcher

    m = Matcher(symbols, engine="lab02")
    for rec in records:
        m.handle(dict(rec))
        yield m.jseq, rec["sym"], m.l2(rec["sym"])
