"""Reply framers: count complete replies in a byte stream, for the load generator.

Sans-IO: ``feed(data)`` returns how many replies completed with these bytes and keeps any
partial reply for the next call; ``reset()`` forgets it. They never touch a socket, so they are
unit-tested on split and merged streams, and they are plain picklable classes so they travel to
the load generator's child process. One per protocol the labs speak: lines, length-prefixed
frames (the RPC lab), RESP (the Redis lab) and HTTP/1.1 responses (the HTTP lab).
"""

from __future__ import annotations

from typing import Literal, Protocol

from .errors import MeasureError


class FramerError(MeasureError, ValueError):
    """Raised by a framer when the bytes cannot be a reply of its protocol (counted mid-run)."""



class ReplyFramer(Protocol):
    """What ``run_load`` needs of a framer (write your own for another protocol)."""

    def feed(self, data: bytes) -> int: ...
    def reset(self) -> None: ...


class LineFramer:
    """Replies end with ``delimiter`` (memcached-style text protocols, echo servers)."""

    def __init__(self, delimiter: bytes = b"\n") -> None:
        if not delimiter:
            raise ValueError("delimiter must not be empty")
        self.delimiter = delimiter
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> int:
        buf = self._buf
        buf += data
        n = buf.count(self.delimiter)
        if n:
            # Only the tail after the last delimiter is a partial reply.
            del buf[: buf.rfind(self.delimiter) + len(self.delimiter)]
        return n


class LengthPrefixFramer:
    """Replies are ``header_bytes`` of unsigned payload length, then the payload (RPC lab)."""

    def __init__(
        self,
        header_bytes: int = 4,
        byteorder: Literal["big", "little"] = "big",
        max_payload: int = 1 << 26,
    ) -> None:
        if header_bytes not in (1, 2, 4, 8):
            raise ValueError(f"header_bytes must be 1, 2, 4 or 8, got {header_bytes}")
        self.header_bytes = header_bytes
        self.byteorder = byteorder
        self.max_payload = max_payload
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> int:
        buf = self._buf
        buf += data
        h, pos, n = self.header_bytes, 0, 0
        while len(buf) - pos >= h:
            size = int.from_bytes(buf[pos : pos + h], self.byteorder)
            if size > self.max_payload:
                raise FramerError(f"length prefix {size} exceeds max_payload {self.max_payload}")
            if len(buf) - pos - h < size:
                break
            pos += h + size
            n += 1
        del buf[:pos]
        return n


class RespReplyFramer:
    """Redis RESP2 replies: ``+`` ``-`` ``:`` lines, ``$`` bulk (``$-1`` null), ``*`` arrays;
    and RESP3's (after ``HELLO 3``): ``_ # , (`` lines, ``! =`` blobs, ``~ >`` sets and pushes,
    ``%`` maps (2n values) and ``|`` attributes (2n values, then the reply they annotate).

    Nested aggregates need no recursion: one of n elements just adds n to the number of
    values still owed, so one flat loop walks any nesting. An incomplete reply is re-scanned
    from its start on the next feed, which is cheap for the small replies a benchmark sees.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> int:
        buf = self._buf
        buf += data
        pos, n = 0, 0
        while pos < len(buf):
            end = _resp_reply_end(buf, pos)
            if end < 0:
                break
            pos, n = end, n + 1
        del buf[:pos]
        return n


_RESP_LINE = frozenset(b"+-:_#,(")
_RESP_BLOB = frozenset(b"$!=")
_RESP_AGGREGATE = {ord("*"): 1, ord("~"): 1, ord(">"): 1, ord("%"): 2, ord("|"): 2}


def _resp_reply_end(buf: bytearray, pos: int) -> int:
    """Offset just past the reply starting at ``pos``, or -1 if it is not complete yet."""
    owed = 1
    while owed:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return -1
        kind = buf[pos]
        owed -= 1
        if kind in _RESP_LINE:
            pos = eol + 2
            continue
        if kind not in _RESP_BLOB and kind not in _RESP_AGGREGATE:
            raise FramerError(f"RESP reply cannot start with {bytes([kind])!r} (offset {pos})")
        try:
            count = int(buf[pos + 1 : eol])
        except ValueError:
            raise FramerError(f"bad RESP length {bytes(buf[pos:eol])!r} (offset {pos})") from None
        pos = eol + 2
        if kind in _RESP_AGGREGATE:
            # *-1 is a null array, *0 an empty one; maps and attributes hold key-value pairs,
            # and an attribute is followed by the reply it annotates, which is the one counted.
            owed += max(count, 0) * _RESP_AGGREGATE[kind] + (kind == ord("|"))
        elif count >= 0:
            if len(buf) < pos + count + 2:
                return -1
            if buf[pos + count : pos + count + 2] != b"\r\n":
                raise FramerError(f"RESP bulk string of {count} bytes not followed by CRLF")
            pos += count + 2
    return pos


_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER = range(5)


class HttpResponseFramer:
    """HTTP/1.1 responses: status line and headers, then Content-Length or chunked body.

    A small state machine (h11's reader states, cut down to counting): the body is consumed
    as it arrives, never buffered whole. 1xx interim responses are skipped; 204 and 304 have no
    body. Responses to HEAD and bodies delimited by connection close are not supported (a load
    generator keeps connections alive).
    """

    max_head = 64 * 1024

    def __init__(self) -> None:
        self._buf = bytearray()
        self._state = _HEAD
        self._left = 0

    def reset(self) -> None:
        self._buf.clear()
        self._state, self._left = _HEAD, 0

    def feed(self, data: bytes) -> int:
        buf = self._buf
        buf += data
        n = 0
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > self.max_head:
                        raise FramerError(f"response head longer than {self.max_head} bytes")
                    return n
                status, length, chunked = _parse_head(bytes(buf[:end]))
                del buf[: end + 4]
                if 100 <= status < 200:
                    continue  # interim response; the real one follows
                if chunked:
                    self._state = _CHUNK_SIZE
                elif length is None and status not in (204, 304):
                    raise FramerError(
                        f"HTTP {status} response has neither Content-Length nor chunked "
                        "encoding; its end cannot be found on a kept-alive connection"
                    )
                elif length:
                    self._state, self._left = _BODY, length
                else:
                    n += 1
            elif state in (_BODY, _CHUNK_DATA):
                take = min(self._left, len(buf))
                del buf[:take]
                self._left -= take
                if self._left:
                    return n
                if state == _BODY:
                    self._state = _HEAD
                    n += 1
                else:
                    self._state = _CHUNK_SIZE
            else:  # chunk-size line, or trailer lines after the last chunk
                eol = buf.find(b"\r\n")
                if eol < 0:
                    if len(buf) > self.max_head:
                        raise FramerError("chunk-size or trailer line too long")
                    return n
                line = bytes(buf[:eol])
                del buf[: eol + 2]
                if state == _TRAILER:
                    if not line:
                        self._state = _HEAD
                        n += 1
                    continue
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise FramerError(f"bad chunk-size line {line[:40]!r}") from None
                # The chunk's data is followed by CRLF, consumed with it.
                self._state, self._left = (_TRAILER, 0) if size == 0 else (_CHUNK_DATA, size + 2)


def _parse_head(head: bytes) -> tuple[int, int | None, bool]:
    """(status, Content-Length or None, chunked?) from a response head without its blank line."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise FramerError(f"not an HTTP status line: {lines[0][:60]!r}")
    length: int | None = None
    chunked = False
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise FramerError(f"bad HTTP header line: {line[:60]!r}")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise FramerError(f"bad Content-Length: {value.strip()[:40]!r}") from None
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return int(parts[1]), length, chunked
