"""Streaming TotalView-ITCH 5.0 parser: framing, one message at a time, errors with offsets.

Framing. NASDAQ publishes its daily ITCH files as a plain sequence of messages, each preceded
by a 2-byte big-endian length (the length of the message, not counting the prefix). The live
feed is carried in MoldUDP64 packets: a 20-byte header (session: 10 ASCII bytes, sequence
number of the first message: 8 bytes, message count: 2 bytes) followed by message blocks that
are framed exactly like the file (2-byte length, message). So one framed-buffer parser reads
both; :func:`parse_moldudp64` only peels the header and checks the count.

Theory of operation. :data:`LAYOUTS` gives, per type, a field list; from it we precompile one
:class:`struct.Struct` per type whose format splits the 6-byte timestamp into a 2-byte and a
4-byte integer (struct has no 48-bit code). A 256-entry list maps the type byte straight to
``(letter, unpack_from, size)``, so the hot loop per message is: read the length (two byte
indexings), bounds-check, one list index, compare the length with the layout's size, one
``unpack_from`` at an offset (no slicing, no copy), and one tuple rebuild that joins the two
timestamp halves. That is all the work; it runs at a few million messages per second.

Output forms, from cheapest to friendliest:

* :func:`iter_tuples` yields plain tuples ``(letter, stock_locate, tracking_number,
  timestamp, *body)`` with Alpha fields as the raw space-padded ``bytes`` and prices as the
  raw integers (Price(4) = price * 10_000).
* :func:`iter_messages` yields one namedtuple class per type (``AddOrder``...) with Alpha
  fields decoded and stripped; :func:`message_dict` turns one into a JSON-ready dict with
  ``Decimal`` prices.
* :class:`ItchStream` is the sans-IO form for a socket: ``feed(bytes)`` then iterate; a
  partial message at the end of a chunk waits for the next chunk.

Errors are :class:`ItchError` subclasses (and so ``protocols.ProtocolError``), each naming the
byte offset of the length prefix of the offending message: :class:`UnknownMessageType`,
:class:`LengthMismatch`, :class:`TruncatedMessage`, :class:`MoldUDP64Error` for a bad packet
header, and :class:`UnknownStockError` (no offset) for a stock the feed never announces.

Every per-type table here is derived from a :class:`Layout` by one function, so
:func:`extra_layouts` can teach the parser (and the encoder) a new type for the length of a
block: a new type is one more row of the layout table, no other code.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ProtocolError
from .layout import LAYOUTS, Layout

__all__ = [
    "ItchError",
    "UnknownMessageType",
    "LengthMismatch",
    "TruncatedMessage",
    "MoldUDP64Error",
    "UnknownStockError",
    "STRUCTS",
    "MESSAGE_CLASSES",
    "iter_tuples",
    "iter_messages",
    "to_message",
    "message_dict",
    "ItchStream",
    "MoldPacket",
    "parse_moldudp64",
    "iter_moldudp64_capture",
    "MoldSequencer",
    "read_itch_file",
    "extra_layouts",
]


class ItchError(ProtocolError):
    """Base of every ITCH error; ``offset`` is the byte offset where the bad message starts
    (``None`` for an error about the feed as a whole, such as a stock it never announces)."""

    def __init__(self, message: str, offset: int | None) -> None:
        super().__init__(message if offset is None else f"{message} at byte offset {offset}")
        self.reason = message
        self.offset = offset


class UnknownMessageType(ItchError):
    """Raised by the parsers when a type byte is none of the 23 ITCH 5.0 types (the remote sent
    something we do not know; ``skip_unknown=True`` counts and skips it instead)."""


class LengthMismatch(ItchError):
    """Raised by the parsers when a 2-byte length prefix is zero or disagrees with the fixed
    size of the message type that follows it."""


class TruncatedMessage(ItchError):
    """Raised when a buffer, stream or capture ends inside a length prefix or inside the
    message (or packet) it announces."""


class MoldUDP64Error(ItchError):
    """Raised for a MoldUDP64 packet shorter than its header, holding a different number of
    messages than its header says, or belonging to another session."""


class UnknownStockError(ItchError):
    """Raised by the book when asked for a stock the feed never announced in a Stock Directory
    (R) message (a typo in a ticker, or the wrong day's file); it has no byte offset."""


# --- derived from the layout table ---------------------------------------------------------

_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _struct_format(lay: Layout) -> str:
    """Big-endian struct format; the 6-byte timestamp becomes 'HI' (high 16, low 32 bits)."""
    parts = [">"]
    for f in lay.fields:
        if f.kind == "ts":
            parts.append("HI")
        elif f.kind == "alpha":
            parts.append(f"{f.length}s")
        else:  # int, p4, p8
            parts.append(_INT_CODES[f.length])
    return "".join(parts)


#: type letter -> precompiled struct for the whole message (type byte included).
STRUCTS: dict[str, struct.Struct] = {}
# type byte -> (letter, unpack_from, size) or None; the one lookup in the hot loop.
_DISPATCH: list[tuple[str, Any, int] | None] = [None] * 256
#: type letter -> namedtuple class with the spec's field names (``message_type`` first).
MESSAGE_CLASSES: dict[str, type] = {}
_ALPHA_POS: dict[str, tuple[int, ...]] = {}


def _class_name(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title.split("(")[0])
    return "".join(w if w.isupper() else w.capitalize() for w in words)


def _derive(lay: Layout) -> None:
    """Everything the streaming parser (and the encoder) need for one type, from its layout."""
    s = struct.Struct(_struct_format(lay))
    assert s.size == lay.size, lay.type  # the derived struct must cover exactly the layout's bytes
    STRUCTS[lay.type] = s
    _DISPATCH[ord(lay.type)] = (lay.type, s.unpack_from, s.size)
    MESSAGE_CLASSES[lay.type] = namedtuple(_class_name(lay.title), lay.names)
    _ALPHA_POS[lay.type] = tuple(i for i, f in enumerate(lay.fields) if f.kind == "alpha")


for _lay in LAYOUTS.values():
    _derive(_lay)


@contextmanager
def extra_layouts(*layouts: Layout) -> Iterator[None]:
    """Teach the streaming parser and the encoder more message types for the length of a block.

    Each layout is derived exactly as the spec's 23 are (struct, dispatch entry, namedtuple),
    which is the point: a new type is one more row of the table, no other code. The vectorised
    decoder's numba gather is generated from the table ahead of time (``kernelgen``), so it
    does not see these. A type that already exists is refused (it would change the spec's).
    """
    taken = [lay.type for lay in layouts if lay.type in LAYOUTS]
    if taken:
        raise ValueError(f"message type(s) {taken} already exist")
    try:
        for lay in layouts:
            LAYOUTS[lay.type] = lay
            _derive(lay)
        yield
    finally:
        for lay in layouts:
            for table in (LAYOUTS, STRUCTS, MESSAGE_CLASSES, _ALPHA_POS):
                table.pop(lay.type, None)
            _DISPATCH[ord(lay.type)] = None


# --- the framed-buffer parser ---------------------------------------------------------------


def iter_tuples(
    buf: bytes | bytearray | memoryview,
    *,
    start: int = 0,
    end: int | None = None,
    base_offset: int = 0,
    skip_unknown: bool = False,
    counts: dict[str, int] | None = None,
) -> Iterator[tuple]:
    """Yield one tuple per length-prefixed message of ``buf[start:end]``.

    Raises the :class:`ItchError` subclasses with offsets ``base_offset + position``. With
    ``skip_unknown`` an unknown type is skipped (its length prefix is trusted) and counted in
    ``counts["unknown"]`` when a dict is given.
    """
    n = len(buf) if end is None else end
    pos = start
    dispatch = _DISPATCH
    while pos < n:
        if pos + 2 > n:
            raise TruncatedMessage("buffer ends inside a 2-byte length prefix", base_offset + pos)
        ln = (buf[pos] << 8) | buf[pos + 1]
        nxt = pos + 2 + ln
        if nxt > n:
            raise TruncatedMessage(
                f"length prefix announces {ln} bytes but only {n - pos - 2} remain",
                base_offset + pos,
            )
        if ln == 0:
            raise LengthMismatch("zero-length message", base_offset + pos)
        entry = dispatch[buf[pos + 2]]
        if entry is None:
            if skip_unknown:
                if counts is not None:
                    counts["unknown"] = counts.get("unknown", 0) + 1
                pos = nxt
                continue
            raise UnknownMessageType(f"unknown message type byte 0x{buf[pos + 2]:02x}", base_offset + pos)
        letter, unpack, size = entry
        if ln != size:
            raise LengthMismatch(
                f"type {letter!r} is {size} bytes but its length prefix says {ln}", base_offset + pos
            )
        r = unpack(buf, pos + 2)
        # r = (b'A', locate, tracking, ts_hi16, ts_lo32, *body): join the timestamp halves.
        yield (letter, r[1], r[2], (r[3] << 32) | r[4], *r[5:])
        pos = nxt


def to_message(t: tuple) -> NamedTuple:
    """Turn one :func:`iter_tuples` tuple into its namedtuple with Alpha fields decoded, stripped."""
    letter = t[0]
    vals = list(t)
    for i in _ALPHA_POS[letter]:
        if i:
            vals[i] = vals[i].decode("latin-1").rstrip(" ")
    return MESSAGE_CLASSES[letter](*vals)


def iter_messages(buf: bytes | bytearray | memoryview, **kwargs: Any) -> Iterator[NamedTuple]:
    """Like :func:`iter_tuples` but yields the friendly namedtuples."""
    for t in iter_tuples(buf, **kwargs):
        yield to_message(t)


def message_dict(msg: NamedTuple) -> dict[str, Any]:
    """A JSON-ready dict of one message: prices as ``Decimal`` with their implied decimals."""
    lay = LAYOUTS[msg[0]]
    out: dict[str, Any] = {}
    for f, v in zip(lay.fields, msg):
        if f.kind == "p4":
            v = Decimal(v).scaleb(-4)
        elif f.kind == "p8":
            v = Decimal(v).scaleb(-8)
        out[f.name] = v
    return out


# --- sans-IO stream -------------------------------------------------------------------------


class ItchStream:
    """Incremental parser for a byte stream (a TCP replay, a file read in chunks).

    ``feed(data)`` appends bytes; iterating yields every complete message so far and keeps a
    partial tail for the next ``feed``. Offsets in errors count from the first byte ever fed.
    """

    def __init__(self, *, skip_unknown: bool = False) -> None:
        self._buf = bytearray()
        self._consumed = 0  # bytes dropped from the front of _buf so far
        self.skip_unknown = skip_unknown
        self.counts: dict[str, int] = {}

    def feed(self, data: bytes) -> None:
        self._buf += data

    def _complete_end(self) -> int:
        """End of the last complete frame in the buffer (framing only, no decoding)."""
        buf, pos, n = self._buf, 0, len(self._buf)
        while pos + 2 <= n:
            nxt = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
            if nxt > n:
                break
            pos = nxt
        return pos

    def __iter__(self) -> Iterator[tuple]:
        end = self._complete_end()
        if end == 0:
            return
        data = bytes(self._buf[:end])
        del self._buf[:end]
        base = self._consumed
        self._consumed += end
        yield from iter_tuples(data, base_offset=base, skip_unknown=self.skip_unknown, counts=self.counts)

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    def close(self) -> None:
        """Declare the end of the stream: leftover bytes are a truncated message."""
        if self._buf:
            raise TruncatedMessage(f"stream ended with {len(self._buf)} bytes of a partial message", self._consumed)


# --- MoldUDP64 --------------------------------------------------------------------------------

_MOLD_HEADER = struct.Struct(">10sQH")
MOLD_END_OF_SESSION = 0xFFFF


class MoldPacket(NamedTuple):
    """One MoldUDP64 downstream packet: header fields and the framed message block region."""

    session: str
    sequence_number: int
    message_count: int
    messages: list[tuple]

    @property
    def end_of_session(self) -> bool:
        return self.message_count == MOLD_END_OF_SESSION


def parse_moldudp64(packet: bytes | memoryview, *, base_offset: int = 0) -> MoldPacket:
    """Decode a MoldUDP64 packet: 20-byte header then ``message_count`` length-prefixed messages.

    A heartbeat has count 0 and an end-of-session packet count 0xFFFF; both carry no messages.
    """
    if len(packet) < _MOLD_HEADER.size:
        raise MoldUDP64Error(f"packet of {len(packet)} bytes is shorter than the 20-byte header", base_offset)
    session, seq, count = _MOLD_HEADER.unpack_from(packet, 0)
    if count == MOLD_END_OF_SESSION:
        msgs: list[tuple] = []
        if len(packet) != _MOLD_HEADER.size:
            raise MoldUDP64Error("end-of-session packet carries a payload", base_offset + 20)
    else:
        msgs = list(iter_tuples(packet, start=_MOLD_HEADER.size, base_offset=base_offset))
        if len(msgs) != count:
            raise MoldUDP64Error(f"header says {count} messages, payload holds {len(msgs)}", base_offset)
    return MoldPacket(session.decode("latin-1").rstrip(" "), seq, count, msgs)


def iter_moldudp64_capture(data: bytes | memoryview) -> Iterator[MoldPacket]:
    """Packets of a capture file: each UDP payload preceded by its 2-byte big-endian length
    (the same framing as the messages inside; ``encode.frame(packets)`` writes one)."""
    pos, n = 0, len(data)
    while pos < n:
        if pos + 2 > n:
            raise TruncatedMessage("capture ends inside a packet length prefix", pos)
        ln = (data[pos] << 8) | data[pos + 1]
        if pos + 2 + ln > n:
            raise TruncatedMessage(f"packet length {ln} runs past the end of the capture", pos)
        yield parse_moldudp64(memoryview(data)[pos + 2 : pos + 2 + ln], base_offset=pos + 2)
        pos += 2 + ln


class MoldSequencer:
    """Follows one MoldUDP64 session: releases each message once, in sequence order, and
    records the sequence ranges it never saw (``gaps``: inclusive (first, last) pairs).

    Duplicates (a retransmission, the second feed of an A/B pair) are dropped. Packets that
    arrive early are not buffered here: what is skipped is reported as a gap, which is what a
    consumer would then request from the re-request server.
    """

    def __init__(self) -> None:
        self.session: str | None = None
        self.next_seq: int | None = None
        self.gaps: list[tuple[int, int]] = []
        self.duplicates = 0

    def accept(self, packet: MoldPacket) -> list[tuple]:
        if self.session is None:
            self.session = packet.session
        elif packet.session != self.session:
            raise MoldUDP64Error(f"packet of session {packet.session!r} in session {self.session!r}", 0)
        if packet.end_of_session or not packet.messages:
            return []
        first = packet.sequence_number
        if self.next_seq is None:
            self.next_seq = first
        if first > self.next_seq:
            self.gaps.append((self.next_seq, first - 1))
            self.next_seq = first
        skip = self.next_seq - first
        self.duplicates += min(skip, len(packet.messages))
        fresh = packet.messages[skip:] if skip > 0 else packet.messages
        self.next_seq += len(fresh)
        return fresh


def read_itch_file(path: str | Path) -> bytes:
    """The bytes of an ITCH file (gzip-compressed when the name ends in .gz)."""
    path = Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    with gzip.open(path, "rb") as fh:
        try:
            return fh.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # the file is there, its bytes are bad
            raise ItchError(f"not a complete gzip file ({exc})", None) from None
