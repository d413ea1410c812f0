"""Sinks: where a replay's messages go, each recording when it really sent them.

Every sink reads its clock immediately before handing a batch to its destination (the
callback, the ``sendto`` system call, the ZeroMQ socket) and logs that instant beside each
message's intended time in a :class:`SendLog`, so the error distribution is measured where it
happens. The scheduler calls ``emit(batch)`` with a list of ``(due_ns, ts_ns, message)``;
``due_ns`` is ``None`` in as-fast-as-possible mode (then the send time is the intended time).

* :class:`CallbackSink`: an in-process function per message (Lab 13's ``ItchBook.apply``, a
  strategy, a Lab 02 adapter); :func:`itch_book_sink` builds the book case.
* :class:`EngineSink`: Lab 02's matching engine, one ``process_rows`` call per batch (the
  messages are engine rows, as :class:`~.sources.FlowSource` yields them).
* :class:`UdpSink`: a MoldUDP64 feed (NASDAQ's framing for ITCH over UDP): a 20-byte header
  (session, sequence number of the first message, count) and length-prefixed messages, as many
  as fit under ``max_packet`` bytes, to a unicast or multicast address on the loopback; a
  heartbeat-free end-of-session packet (count 0xFFFF) on ``close()``.
* :class:`ZmqSink`: a ZeroMQ PUB socket, one two-frame message (topic, payload) per message.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from ..protocols.itch.book import ItchBook
from ..protocols.itch.encode import encode_tuple
from .clock import Clock, MonotonicClock
from .errors import SinkError

__all__ = ["SendLog", "Sink", "CallbackSink", "EngineSink", "itch_book_sink", "UdpSink", "ZmqSink", "NullSink",
           "MOLD_HEADER", "parse_address", "payload_bytes"]

MOLD_HEADER = struct.Struct(">10sQH")
END_OF_SESSION = 0xFFFF


class SendLog:
    """Intended and actual send time of every message, as two growable int64 arrays."""

    def __init__(self) -> None:
        self.intended = array("q")
        self.actual = array("q")

    def add(self, batch: list, actual_ns: int) -> None:
        for due, _, _ in batch:
            self.intended.append(actual_ns if due is None else due)
        self.actual.extend([actual_ns] * len(batch))

    def __len__(self) -> int:
        return len(self.actual)

    def errors_ns(self) -> np.ndarray:
        """actual - intended, per message (positive: late)."""
        return np.frombuffer(self.actual, dtype=np.int64) - np.frombuffer(self.intended, dtype=np.int64)


class Sink:
    """Base: subclasses implement ``send(batch)``; ``emit`` times it and logs it."""

    def __init__(self, clock: Clock | None = None, *, record: bool = True) -> None:
        self.clock = clock or MonotonicClock()
        self.log = SendLog()
        self.record = record
        self.last_actual_ns = 0

    def emit(self, batch: list) -> int:
        now = self.clock.now_ns()
        self.send(batch)
        if self.record:
            self.log.add(batch, now)
        self.last_actual_ns = now
        return now

    def send(self, batch: list) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass


class NullSink(Sink):
    """Sends nowhere: the cost of the scheduler and the log alone."""

    def send(self, batch: list) -> None:
        pass


class CallbackSink(Sink):
    """Calls ``fn(message)`` for every message of a batch, in order."""

    def __init__(self, fn: Callable[[Any], Any], clock: Clock | None = None, *, record: bool = True) -> None:
        super().__init__(clock, record=record)
        self.fn = fn

    def send(self, batch: list) -> None:
        fn = self.fn
        for _, _, msg in batch:
            fn(msg)


def itch_book_sink(book: ItchBook | None = None, clock: Clock | None = None, **kw: Any) -> CallbackSink:
    """A callback sink feeding Lab 13's ITCH book (tuple messages); the book is ``sink.book``."""
    book = book if book is not None else ItchBook()
    sink = CallbackSink(book.apply, clock, **kw)
    sink.book = book  # type: ignore[attr-defined]
    return sink


class EngineSink(Sink):
    """Feeds Lab 02's :class:`~labsupport.orderbook.MatchingEngine` (``engine``), a batch at a time."""

    def __init__(self, engine: Any = None, clock: Clock | None = None, *, record: bool = True) -> None:
        super().__init__(clock, record=record)
        if engine is None:
            from ..orderbook import MatchingEngine

            engine = MatchingEngine()
        self.engine = engine

    def send(self, batch: list) -> None:
        self.engine.process_rows([m for _, _, m in batch])


def payload_bytes(msg: Any) -> bytes:
    """A message as bytes on the wire: raw ITCH as is, an ITCH tuple encoded, a tick as JSON."""
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    if isinstance(msg, tuple) and msg and isinstance(msg[0], str) and len(msg[0]) == 1 and len(msg) > 3:
        return encode_tuple(msg)
    return json.dumps(list(msg) if isinstance(msg, tuple) else msg).encode()


def parse_address(url: str, scheme: str = "udp") -> tuple[str, int]:
    """``udp://HOST:PORT`` -> (host, port); a :class:`SinkError` naming the part that is wrong."""
    prefix = f"{scheme}://"
    if not url.startswith(prefix):
        raise SinkError(f"{url!r}: expected {prefix}HOST:PORT")
    host, sep, port = url[len(prefix):].rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SinkError(f"{url!r}: expected {prefix}HOST:PORT with a port 0-65535")
    return host, int(port)


class UdpSink(Sink):
    """MoldUDP64 over UDP; see the module docstring. ``packets`` and ``next_seq`` count what went out."""

    def __init__(self, host: str, port: int, *, session: str = "REPLAY", max_packet: int = 1400,
                 max_messages: int = END_OF_SESSION - 1, first_seq: int = 1, clock: Clock | None = None, record: bool = True,
                 sock: socket.socket | None = None) -> None:
        super().__init__(clock, record=record)
        if not MOLD_HEADER.size + 2 + 1 <= max_packet <= 65507:
            raise SinkError(f"max packet {max_packet} bytes: must hold the 20-byte header and one message "
                            f"and fit a UDP datagram (65507)")
        if len(session.encode("ascii")) > 10:
            raise SinkError(f"session {session!r} is longer than 10 bytes")
        self.address = (host, port)
        self.session = session.encode("ascii").ljust(10, b" ")
        if not 1 <= max_messages < END_OF_SESSION:
            raise SinkError(f"max messages per packet {max_messages}: must be 1..{END_OF_SESSION - 1}")
        self.max_packet, self.max_messages = max_packet, max_messages
        self.next_seq = first_seq
        self.packets = 0
        self.bytes_sent = 0
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if ipaddress.ip_address(host).is_multicast:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)  # never leaves the host
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        except ValueError:  # a host name, not an address literal
            pass

    def _packet(self, blocks: list[bytes]) -> None:
        data = MOLD_HEADER.pack(self.session, self.next_seq, len(blocks)) + b"".join(blocks)
        self.sock.sendto(data, self.address)
        self.next_seq += len(blocks)
        self.packets += 1
        self.bytes_sent += len(data)

    def send(self, batch: list) -> None:
        room = self.max_packet - MOLD_HEADER.size
        blocks: list[bytes] = []
        used = 0
        for _, _, msg in batch:
            body = msg if type(msg) is bytes else payload_bytes(msg)
            size = 2 + len(body)
            if size > room:
                raise SinkError(f"a {len(body)}-byte message does not fit a {self.max_packet}-byte packet")
            if used + size > room or len(blocks) == self.max_messages:
                self._packet(blocks)
                blocks, used = [], 0
            blocks.append(len(body).to_bytes(2, "big") + body)
            used += size
        if blocks:
            self._packet(blocks)

    def close(self) -> None:
        """Send the end-of-session packet (count 0xFFFF, the next sequence number) and close."""
        self.sock.sendto(MOLD_HEADER.pack(self.session, self.next_seq, END_OF_SESSION), self.address)
        self.sock.close()


class ZmqSink(Sink):
    """A ZeroMQ PUB socket bound (default) or connected to ``endpoint`` (``tcp://127.0.0.1:5556``)."""

    def __init__(self, endpoint: str, *, topic: bytes = b"replay", bind: bool = True,
                 clock: Clock | None = None, record: bool = True) -> None:
        import zmq

        super().__init__(clock, record=record)
        self._ctx = zmq.Context.instance()
        self.sock = self._ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.SNDHWM, 1_000_000)
        try:
            (self.sock.bind if bind else self.sock.connect)(endpoint)
        except zmq.ZMQError as exc:
            self.sock.close()
            raise SinkError(f"zmq endpoint {endpoint!r}: {exc}") from None
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.topic = topic

    def send(self, batch: list) -> None:
        send, topic = self.sock.send_multipart, self.topic
        for _, _, msg in batch:
            send([topic, payload_bytes(msg)])

    def close(self) -> None:
        self.sock.close(linger=1000)
