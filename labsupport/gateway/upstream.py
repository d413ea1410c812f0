"""Reading a backend's response as a stream: head first, then body pieces, sans-IO.

Lab 01's ``ResponseReader`` (``labsupport.http.client``) hands out *whole* responses, which is
right for tests and health checks but would make the gateway hold a 1 GB download in memory.
This reader follows the same framing rules (RFC 9112 section 6.3: no body for 1xx, 204, 304
and HEAD; chunked; Content-Length; else until close) but produces events as bytes arrive::

    feed(bytes) / feed_eof()  ->  next_event():  ResponseHead | bytes (a body piece)
                                                 | END | NEED_DATA

Interim 1xx responses are skipped (the gateway does not forward ``100 Continue``; it has the
whole request body before it sends). ``reusable`` says whether the connection can carry
another request afterwards (keep-alive, framed body, nothing left over).
Errors are ``UpstreamProtocolError`` with the stream offset.
"""

from __future__ import annotations

from dataclasses import dataclass

from labsupport.http.events import NEED_DATA, _Sentinel

from .errors import UpstreamClosed, UpstreamProtocolError

__all__ = ["END", "NEED_DATA", "ResponseHead", "ResponseStream"]

END = _Sentinel("END")
MAX_HEAD_BYTES = 65536
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_NAMES: dict[bytes, bytes] = {}  # field name as received -> lower-case (validated once)
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _CLOSE, _DONE = range(8)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # lower-case names, in order, repeats kept
    keep_alive: bool
    content_length: int | None  # None: chunked or close-delimited

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


class ResponseStream:
    """One response at a time; call ``start(head_only)`` before each request's response."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0
        self._eof = False
        self._state = _DONE
        self._remaining = 0
        self._head_only = False
        self.keep_alive = True

    def start(self, head_only: bool = False) -> None:
        self._state = _HEAD
        self._head_only = head_only

    def feed(self, data: bytes) -> None:
        self._buf += data

    def feed_eof(self) -> None:
        self._eof = True

    @property
    def reusable(self) -> bool:
        return self._state == _DONE and self.keep_alive and not self._buf and not self._eof

    def _take(self, n: int) -> bytes:
        buf = self._buf
        self._offset += n
        if n >= len(buf):  # the usual end of a read: one copy, no shifting of the rest
            piece = bytes(buf)
            buf.clear()
            return piece
        piece = bytes(buf[:n])
        del buf[:n]
        return piece

    def next_event(self) -> ResponseHead | bytes | _Sentinel:
        while True:
            state = self._state
            buf = self._buf
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise UpstreamProtocolError(f"response head over {MAX_HEAD_BYTES} bytes")
                    if self._eof:
                        raise UpstreamClosed(f"connection closed after {len(buf)} bytes of a "
                                             f"response head (offset {self._offset})")
                    return NEED_DATA
                head = self._parse_head(bytes(buf[:end]))
                del buf[:end + 4]
                self._offset += end + 4
                if head is None:
                    continue  # an interim 1xx: the real response follows
                return head
            if state == _LENGTH:
                if self._remaining == 0:
                    self._state = _DONE
                    return END
                if not buf:
                    if self._eof:
                        raise UpstreamClosed(f"connection closed with {self._remaining} body "
                                             f"bytes missing")
                    return NEED_DATA
                piece = self._take(min(self._remaining, len(buf)))
                self._remaining -= len(piece)
                return piece
            if state == _CLOSE:
                if buf:
                    return self._take(len(buf))
                if self._eof:
                    self._state = _DONE
                    return END
                return NEED_DATA
            if state == _CHUNK_SIZE:
                nl = buf.find(b"\r\n")
                if nl < 0:
                    return self._short(len(buf) > 1024, "chunk size line too long")
                text = bytes(buf[:nl]).split(b";", 1)[0].strip()
                try:
                    size = int(text, 16)
                except ValueError:
                    raise UpstreamProtocolError(f"bad chunk size {text[:20]!r} at offset "
                                                f"{self._offset}") from None
                self._take(nl + 2)
                self._remaining = size
                self._state = _CHUNK_DATA if size else _TRAILER
                continue
            if state == _CHUNK_DATA:
                if not buf:
                    return self._short(False, "")
                piece = self._take(min(self._remaining, len(buf)))
                self._remaining -= len(piece)
                if not self._remaining:
                    self._state = _CHUNK_CRLF
                return piece
            if state == _CHUNK_CRLF:
                if len(buf) < 2:
                    return self._short(False, "")
                if buf[:2] != b"\r\n":
                    raise UpstreamProtocolError(f"chunk not followed by CRLF at offset {self._offset}")
                self._take(2)
                self._state = _CHUNK_SIZE
                continue
            if state == _TRAILER:
                if buf[:2] == b"\r\n":
                    self._take(2)
                    self._state = _DONE
                    return END
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return self._short(len(buf) > MAX_HEAD_BYTES, "trailer section too large")
                self._take(end + 4)  # trailers are dropped (not forwarded)
                self._state = _DONE
                return END
            raise UpstreamProtocolError("bytes from the backend with no request outstanding")

    def _short(self, too_long: bool, message: str) -> _Sentinel:
        if too_long:
            raise UpstreamProtocolError(message)
        if self._eof:
            raise UpstreamClosed("connection closed in the middle of a chunked body")
        return NEED_DATA

    def _parse_head(self, raw: bytes) -> ResponseHead | None:
        lines = raw.split(b"\r\n")
        # A bare CR or LF, or a NUL, would pass through to the client as a forged field
        # (response splitting): the head is checked once here, so the fields need no check later.
        if raw.count(b"\n") != len(lines) - 1 or raw.count(b"\r") != len(lines) - 1 or b"\0" in raw:
            raise UpstreamProtocolError(f"bare CR, LF or NUL in the response head at offset "
                                        f"{self._offset}")
        parts = lines[0].split(b" ", 2)
        if (len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or len(parts[1]) != 3
                or not parts[1].isdigit()):
            raise UpstreamProtocolError(f"not a status line at offset {self._offset}: "
                                        f"{lines[0][:60]!r}")
        status = int(parts[1])
        headers = []
        length: int | None = None
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        names = _NAMES
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            lname = names.get(name)  # a name seen before: checked and lower-cased then
            if lname is None or not colon:
                if not colon or not name or name != name.strip():
                    raise UpstreamProtocolError(f"malformed header line {line[:60]!r}")
                lname = name.lower()
                if len(names) < 1024:  # bounded: a backend cannot grow it without limit
                    names[name] = lname
            name = lname
            value = value.strip()
            headers.append((name, value))
            if name not in _FRAMING:
                continue
            if name == b"content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise UpstreamProtocolError(f"bad Content-Length {value[:20]!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif name == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                if b"close" in tokens:
                    close = True
                elif b"keep-alive" in tokens and parts[0] == b"HTTP/1.0":
                    close = False
        if status < 200:
            return None
        self.keep_alive = not close
        if self._head_only or status in (204, 304):
            self._state, length = _LENGTH, 0
            self._remaining = 0
        elif chunked:
            self._state, length = _CHUNK_SIZE, None
        elif length is not None:
            self._state, self._remaining = _LENGTH, length
        else:
            self._state = _CLOSE
            self.keep_alive = False
        return ResponseHead(status, tuple(headers), self.keep_alive, length)
