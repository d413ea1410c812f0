"""The native transport's binary frame format and its sans-IO incremental decoder.

What it mirrors: HTTP/2's framing (RFC 9113 section 4), cut down to what an RPC needs: every
frame is a fixed 10-byte header and a payload::

    +----------------+----------------+--------+--------+------------------+
    | length (u32)   | stream id (u32)| type   | flags  | payload (length) |
    +----------------+----------------+--------+--------+------------------+

Types: HEADERS opens a call (method, timeout, metadata) or carries the server's initial
metadata; DATA is one serialized message (flag END_STREAM half-closes after it, flag
COMPRESSED says it is compressed with the encoding the stream's ``grpc-encoding`` metadata
names, as gRPC's compressed-flag byte does); END closes a stream (from the server with the
status and trailers, from the client empty: half-close); CANCEL is the client giving up
(HTTP/2's RST_STREAM); ERROR on stream 0 is the connection's last word (HTTP/2's GOAWAY); PING
(flag ACK on the answer) keeps the connection alive and measures round trips; WINDOW grants a
stream more bytes of credit (flow control).

Theory of operation. :class:`Decoder` is fed whatever bytes arrived (``receive_data``) and
hands back one event per ``next_event()`` call, or :data:`NEED_DATA` when the buffer holds no
complete frame; ``feed(chunk)`` does both at once and is what the transports call: a run of
DATA frames (a stream's messages) is cut out of the chunk in one tight loop, with no per-frame
buffer edits, and handed over as one :class:`Messages` event (a list of payloads). It never does I/O and never blocks, so the asyncio transport, a test or a
notebook cell drive it the same way. A frame longer than ``max_frame_size`` is not buffered:
its payload is skipped as it arrives and one :class:`Oversized` event names its stream, so the
transport fails that call with ``RESOURCE_EXHAUSTED`` and the connection carries on. Anything
else malformed (unknown type, a stream frame on stream 0, a truncated field) raises
:class:`~.errors.FrameError`: framing is lost and the connection must close.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

from .errors import FrameError, Metadata, Status, StatusCode

HEADER = struct.Struct("!IIBB")
HEADER_SIZE: Final = HEADER.size  # 10
DEFAULT_MAX_FRAME: Final = 4 * 1024 * 1024  # gRPC's default max receive message size
END_STREAM: Final = 0x1  # DATA: the sender sends no more messages on this stream
COMPRESSED: Final = 0x2  # DATA: the payload is compressed with the stream's encoding
# the metadata keys naming a stream's compression (gRPC's own header names, same meaning)
ENCODING_KEY: Final = "grpc-encoding"
ACCEPT_ENCODING_KEY: Final = "grpc-accept-encoding"
ACK: Final = 0x1  # PING: this is the answer
_U16, _U32, _U64 = struct.Struct("!H"), struct.Struct("!I"), struct.Struct("!Q")


class FrameType(enum.IntEnum):
    HEADERS = 1
    DATA = 2
    END = 3
    CANCEL = 4
    ERROR = 5
    PING = 6
    WINDOW = 7


@dataclass(slots=True)
class Headers:
    stream_id: int
    method: str  # "" on the server's initial metadata
    timeout_s: float | None
    metadata: Metadata


@dataclass(slots=True)
class Data:
    stream_id: int
    payload: bytes
    end_stream: bool
    compressed: bool = False


@dataclass(slots=True)
class Messages:
    """What :meth:`Decoder.feed` makes of consecutive flag-less DATA frames on one stream: their
    payloads in order (one event and one list for a burst of stream messages)."""
    stream_id: int
    payloads: list[bytes]


@dataclass(slots=True)
class End:
    stream_id: int
    status: Status | None  # None: the client's half-close


@dataclass(slots=True)
class Cancel:
    stream_id: int


@dataclass(slots=True)
class ConnectionError_:
    code: StatusCode
    message: str


@dataclass(slots=True)
class Ping:
    payload: bytes
    ack: bool


@dataclass(slots=True)
class Window:
    stream_id: int
    increment: int


@dataclass(slots=True)
class Oversized:
    stream_id: int
    size: int
    limit: int


Event = Headers | Data | Messages | End | Cancel | ConnectionError_ | Ping | Window | Oversized


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


# -- encoding ---------------------------------------------------------------------------------

def _frame(ftype: int, stream_id: int, payload: bytes = b"", flags: int = 0) -> bytes:
    return HEADER.pack(len(payload), stream_id, ftype, flags) + payload


def _text(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 0xFFFF:
        raise FrameError(f"text field of {len(raw)} bytes over 65535")
    return _U16.pack(len(raw)) + raw


def encode_metadata(metadata: Metadata) -> bytes:
    parts = [_U16.pack(len(metadata))]
    for key, value in metadata:
        binary = isinstance(value, bytes)
        raw = value if binary else value.encode()
        parts += [_text(key), b"\x01" if binary else b"\x00", _U32.pack(len(raw)), raw]
    return b"".join(parts)


def headers(stream_id: int, method: str, timeout_s: float | None = None,
            metadata: Metadata = ()) -> bytes:
    timeout_us = 0 if timeout_s is None else max(1, round(timeout_s * 1e6))
    body = _text(method) + _U64.pack(timeout_us) + (encode_metadata(metadata) if metadata
                                                    else b"\0\0")
    return HEADER.pack(len(body), stream_id, 1, 0) + body


def data(stream_id: int, payload: bytes, end_stream: bool = False,
         compressed: bool = False) -> bytes:
    flags = (END_STREAM if end_stream else 0) | (COMPRESSED if compressed else 0)
    return HEADER.pack(len(payload), stream_id, 2, flags) + payload


_OK_END = b"\0" * 5  # code 0, empty message, no trailers
OK: Final = Status()


def end(stream_id: int, status: Status | None = None) -> bytes:
    if status is None:
        return _frame(FrameType.END, stream_id)
    if status.code == 0 and not status.message and not status.trailers:
        return HEADER.pack(5, stream_id, 3, 0) + _OK_END
    body = bytes([int(status.code)]) + _text(status.message) + encode_metadata(status.trailers)
    return _frame(FrameType.END, stream_id, body)


def cancel(stream_id: int) -> bytes:
    return _frame(FrameType.CANCEL, stream_id)


def error(code: StatusCode, message: str) -> bytes:
    return _frame(FrameType.ERROR, 0, bytes([int(code)]) + _text(message))


def ping(payload: bytes = b"\0" * 8, ack: bool = False) -> bytes:
    if len(payload) != 8:
        raise FrameError("a ping carries exactly 8 bytes")
    return _frame(FrameType.PING, 0, payload, ACK if ack else 0)


def window(stream_id: int, increment: int) -> bytes:
    return _frame(FrameType.WINDOW, stream_id, _U32.pack(increment))


# -- decoding ---------------------------------------------------------------------------------

class _Reader:
    """Fields of one payload; running off its end is a :class:`FrameError`."""

    __slots__ = ("buf", "pos", "base")

    def __init__(self, buf: bytes, base: int) -> None:
        self.buf, self.pos, self.base = buf, 0, base

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise FrameError("truncated field", self.base + self.pos)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return _U16.unpack(self.take(2))[0]

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def text(self) -> str:
        at = self.base + self.pos
        try:
            return self.take(self.u16()).decode()
        except UnicodeDecodeError:
            raise FrameError("text field is not UTF-8", at) from None

    def metadata(self) -> Metadata:
        out = []
        for _ in range(self.u16()):
            key = self.text()
            kind = self.u8()
            raw = self.take(self.u32())
            if kind == 1:
                out.append((key, raw))
            elif kind == 0:
                try:
                    out.append((key, raw.decode()))
                except UnicodeDecodeError:
                    raise FrameError("metadata value is not UTF-8", self.base + self.pos) from None
            else:
                raise FrameError(f"metadata value kind {kind} is neither 0 nor 1",
                                 self.base + self.pos)
        return tuple(out)

    def done(self) -> None:
        if self.pos != len(self.buf):
            raise FrameError(f"{len(self.buf) - self.pos} bytes after the last field",
                             self.base + self.pos)


class Decoder:
    """Bytes in, :data:`Event` s out; see the module docstring."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME) -> None:
        self.max_frame_size = max_frame_size
        self._buf = bytearray()
        self._skip = 0  # payload bytes of an oversized frame still to discard
        self.offset = 0  # stream offset of self._buf[0], for error messages

    def receive_data(self, chunk: bytes) -> None:
        if self._skip:
            dropped = min(self._skip, len(chunk))
            self._skip -= dropped
            self.offset += dropped
            chunk = chunk[dropped:]
        self._buf += chunk

    def feed(self, chunk: bytes) -> list[Event]:
        """``receive_data(chunk)`` and every complete event: runs of DATA frames are sliced out
        of one immutable copy of the buffer, the buffer is trimmed once at the end of a run;
        consecutive flag-less DATA frames of one stream come as one :class:`Messages`."""
        out: list[Event] = []
        if self._skip or self._buf:
            self.receive_data(chunk)
            if self._skip:
                return out
            data = bytes(self._buf)
        else:
            data = chunk if type(chunk) is bytes else bytes(chunk)
        unpack, limit, size = HEADER.unpack_from, self.max_frame_size, HEADER_SIZE
        append = out.append
        run: list[bytes] | None = None  # the payloads of the current Messages event
        run_id = 0
        while True:
            pos, n = 0, len(data)
            while n - pos >= size:
                length, stream_id, ftype, flags = unpack(data, pos)
                end_at = pos + size + length
                if length > limit or end_at > n:
                    break
                if ftype == 2 and stream_id and not flags:
                    if stream_id == run_id:
                        run.append(data[pos + size:end_at])  # type: ignore[union-attr]
                    else:
                        run, run_id = [data[pos + size:end_at]], stream_id
                        append(Messages(stream_id, run))
                    pos = end_at
                    continue
                run_id = 0
                if ftype == 2 and stream_id:
                    append(Data(stream_id, data[pos + size:end_at], flags & 1 == 1, flags & 2 == 2))
                elif ftype in _DECODERS and ftype != 2 and (stream_id == 0) == (ftype in (5, 6)):
                    append(_DECODERS[ftype](stream_id, flags, _Reader(
                        data[pos + size:end_at], self.offset + pos + size)))
                else:  # next_event names the error
                    break
                pos = end_at
            self.offset += pos
            self._buf = bytearray(data[pos:] if pos else data)
            event = self.next_event()  # an oversized or malformed frame, or NEED_DATA
            if event is NEED_DATA:
                return out
            append(event)
            run_id = 0
            if self._skip:
                return out
            data = bytes(self._buf)

    def __iter__(self):
        """Every complete event buffered so far."""
        while (event := self.next_event()) is not NEED_DATA:
            yield event

    def next_event(self) -> Event | _NeedData:
        buf = self._buf
        if self._skip or len(buf) < HEADER_SIZE:
            return NEED_DATA
        length, stream_id, ftype, flags = HEADER.unpack_from(buf)
        if ftype == 2 and length <= self.max_frame_size:  # the hot path: one message
            end_at = HEADER_SIZE + length
            if len(buf) < end_at:
                return NEED_DATA
            if stream_id == 0:
                raise FrameError("DATA frame on stream 0", self.offset)
            payload = bytes(buf[HEADER_SIZE:end_at])
            del buf[:end_at]
            self.offset += end_at
            return Data(stream_id, payload, bool(flags & END_STREAM), bool(flags & COMPRESSED))
        if ftype not in _DECODERS:
            raise FrameError(f"unknown frame type {ftype}", self.offset + 8)
        if length > self.max_frame_size:
            have = min(len(buf) - HEADER_SIZE, length)
            del buf[:HEADER_SIZE + have]
            self._skip = length - have
            self.offset += HEADER_SIZE + have
            return Oversized(stream_id, length, self.max_frame_size)
        end_at = HEADER_SIZE + length
        if len(buf) < end_at:
            return NEED_DATA
        payload = bytes(buf[HEADER_SIZE:end_at])
        base = self.offset + HEADER_SIZE
        if (stream_id == 0) != (ftype in (FrameType.PING, FrameType.ERROR)):
            raise FrameError(f"{FrameType(ftype).name} frame on stream {stream_id}", self.offset + 4)
        event = _DECODERS[ftype](stream_id, flags, _Reader(payload, base))
        del buf[:end_at]
        self.offset += end_at
        return event


def _headers(stream_id: int, flags: int, r: _Reader) -> Headers:
    buf = r.buf
    if len(buf) >= 12 and buf[-2:] == b"\0\0" and _U16.unpack_from(buf)[0] + 12 == len(buf):
        try:  # the common call: a path, a timeout, no metadata
            method = buf[2:-10].decode()
        except UnicodeDecodeError:
            raise FrameError("text field is not UTF-8", r.base) from None
        timeout_us = _U64.unpack_from(buf, len(buf) - 10)[0]
        return Headers(stream_id, method, timeout_us / 1e6 if timeout_us else None, ())
    method = r.text()
    timeout_us = r.u64()
    metadata = r.metadata()
    r.done()
    return Headers(stream_id, method, timeout_us / 1e6 if timeout_us else None, metadata)


def _end(stream_id: int, flags: int, r: _Reader) -> End:
    if not r.buf:
        return End(stream_id, None)
    if r.buf == _OK_END:
        return End(stream_id, OK)
    code = StatusCode.of(r.u8())
    message = r.text()
    trailers = r.metadata()
    r.done()
    return End(stream_id, Status(code, message, trailers))


def _cancel(stream_id: int, flags: int, r: _Reader) -> Cancel:
    r.done()
    return Cancel(stream_id)


def _error(stream_id: int, flags: int, r: _Reader) -> ConnectionError_:
    code = StatusCode.of(r.u8())
    message = r.text()
    r.done()
    return ConnectionError_(code, message)


def _ping(stream_id: int, flags: int, r: _Reader) -> Ping:
    payload = r.take(8)
    r.done()
    return Ping(payload, bool(flags & ACK))


def _window(stream_id: int, flags: int, r: _Reader) -> Window:
    increment = r.u32()
    r.done()
    if increment == 0:
        raise FrameError("WINDOW increment of 0", r.base)
    return Window(stream_id, increment)


def _data(stream_id: int, flags: int, r: _Reader) -> Data:  # only reached on stream 0
    raise FrameError("DATA frame on stream 0", r.base - HEADER_SIZE)


_DECODERS = {1: _headers, 2: _data, 3: _end, 4: _cancel, 5: _error, 6: _ping, 7: _window}
