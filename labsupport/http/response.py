"""Response serializer: status line, header fields and body framing (RFC 9112 sections 4-7).

The writing half of the sans-IO core (h11's ``_writers.py`` plays this role). Everything
here returns ``bytes``; the server sends each response head and body with one
``transport.write`` so a small response costs one system call.

What the serializer guarantees (and raises ``LocalProtocolError`` for when the application
asks otherwise): 1xx, 204 and 304 carry no body; 1xx and 204 carry no Content-Length;
field names are tokens and values hold no CR, LF or NUL (no response splitting); a HEAD
response keeps the Content-Length of the body it would have sent and sends no body.

The ``Date`` field changes once a second, so it is formatted once a second by
``DateHeader`` (with an injected clock) rather than once per response; the ``Server``
field is a constant glued to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from http import HTTPStatus

from .errors import LocalProtocolError

__all__ = [
    "CONTINUE_100",
    "LAST_CHUNK",
    "DateHeader",
    "Response",
    "StreamingResponse",
    "encode_chunk",
    "error_response",
    "serialize_response",
    "status_line",
]

SERVER_NAME = b"labsupport-http"
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"
_TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BAD_VALUE = b"\r\n\x00"

_STATUS_LINES: dict[int, bytes] = {}


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <code> <reason>\\r\\n``, formatted once per code."""
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise LocalProtocolError(f"status code {status} is out of range 100-999")
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        line = _STATUS_LINES[status] = b"HTTP/1.1 %d %s\r\n" % (status, reason.encode())
    return line


class DateHeader:
    """``Server`` and ``Date`` lines, re-formatted at most once per second of ``clock()``.

    ``clock`` returns seconds since the epoch (``time.time`` by default; tests pass a fake).
    The server calls ``refresh()`` from its one-second housekeeping timer, so the hot path
    only reads the ``line`` attribute.
    """

    __slots__ = ("clock", "line", "_second")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._second = -1
        self.line = b""
        self.refresh()

    def refresh(self) -> bytes:
        second = int(self.clock())
        if second != self._second:
            self._second = second
            self.line = b"server: %s\r\ndate: %s\r\n" % (
                SERVER_NAME, formatdate(second, usegmt=True).encode())
        return self.line


def _check_fields(headers: Iterable[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if not name or name.translate(None, _TCHAR):
            raise LocalProtocolError(f"invalid response field name {name!r}")
        if any(c in value for c in _BAD_VALUE):
            raise LocalProtocolError(f"CR, LF or NUL in the value of {name.decode()!r}")


def _as_bytes(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else s.encode("latin-1")


def normalize_headers(headers: Iterable[tuple[str | bytes, str | bytes]] | None) -> list[tuple[bytes, bytes]]:
    """Field pairs as lower-case-name bytes, validated against response splitting."""
    if not headers:
        return []
    out = [(_as_bytes(k).lower(), _as_bytes(v)) for k, v in headers]
    _check_fields(out)
    return out


def serialize_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"", *,
                       keep_alive: bool = True, head_only: bool = False,
                       date_line: bytes = b"", http10_keep_alive: bool = False,
                       content_length: int | None = None, add_length: bool = True) -> bytes:
    """A complete response with a Content-Length body (the general, checked path).

    ``content_length`` overrides ``len(body)`` for HEAD answers and for bodies sent apart
    (sendfile); ``add_length=False`` leaves framing fields to the caller (the ASGI app's own
    Content-Length, or a body delimited by closing). ``headers`` must already be normalized.
    """
    no_body = status < 200 or status in (204, 304)
    if no_body and body:
        raise LocalProtocolError(f"a {status} response cannot have a body")
    parts = [status_line(status), date_line]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    if add_length and not (status < 200 or status == 204):
        length = len(body) if content_length is None else content_length
        if not (status == 304 and content_length is None):
            parts.append(b"content-length: %d\r\n" % length)
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    elif http10_keep_alive:
        parts.append(b"connection: keep-alive\r\n")
    parts.append(b"\r\n")
    if body and not head_only:
        parts.append(body)
    return b"".join(parts)


def serialize_chunked_head(status: int, headers: list[tuple[bytes, bytes]], *,
                           keep_alive: bool, date_line: bytes) -> bytes:
    """The head of a streamed response; the body follows as ``encode_chunk`` pieces."""
    parts = [status_line(status), date_line]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"transfer-encoding: chunked\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def encode_chunk(data: bytes) -> bytes:
    """One chunk: hex size, CRLF, data, CRLF. Empty data encodes to nothing (not the end)."""
    if not data:
        return b""
    return b"%x\r\n%s\r\n" % (len(data), data)


def error_response(status: int, message: str, date_line: bytes = b"") -> bytes:
    """A short plain-text error that also closes the connection."""
    body = (message + "\n").encode("utf-8", "replace")
    return serialize_response(status, [(b"content-type", b"text/plain; charset=utf-8")], body,
                              keep_alive=False, date_line=date_line)


class Response:
    """What a native handler returns: status, fields and a complete body.

    ``body`` may be ``bytes`` or ``str`` (encoded as UTF-8). ``headers`` are extra fields;
    Content-Length, Date, Server and Connection are the server's business.
    """

    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, body: bytes | str = b"", status: int = 200, *,
                 content_type: bytes | str = b"text/plain; charset=utf-8",
                 headers: Iterable[tuple[str | bytes, str | bytes]] | None = None) -> None:
        self.body = body.encode() if type(body) is str else body
        self.status = status
        self.content_type = content_type if type(content_type) is bytes else content_type.encode()
        self.headers = normalize_headers(headers) if headers else []

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def encode(self, keep_alive: bool, head_only: bool, date_line: bytes,
               http10_keep_alive: bool = False) -> bytes:
        """The whole response as one bytes object (the server's hot path)."""
        status = self.status
        if self.headers or status < 200 or status in (204, 304) or not keep_alive or http10_keep_alive:
            # A body-less status carries no Content-Type; every other response does (as below).
            fields = (self.headers if status < 200 or status in (204, 304)
                      else [(b"content-type", self.content_type), *self.headers])
            return serialize_response(status, fields, self.body, keep_alive=keep_alive,
                                      head_only=head_only, date_line=date_line,
                                      http10_keep_alive=http10_keep_alive)
        body = self.body
        line = _STATUS_LINES.get(status) or status_line(status)
        if head_only:
            return b"%s%scontent-type: %s\r\ncontent-length: %d\r\n\r\n" % (
                line, date_line, self.content_type, len(body))
        return b"%s%scontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (
            line, date_line, self.content_type, len(body), body)


class StreamingResponse:
    """A response whose body comes from an (async) iterator.

    Sent with ``Content-Length`` when ``content_length`` is known (the pieces must add up to
    it, or the connection is aborted), else chunked over HTTP/1.1 and delimited by the close
    over HTTP/1.0. A HEAD request gets the head only, with the same length.
    """

    __slots__ = ("status", "chunks", "content_type", "headers", "content_length")

    def __init__(self, chunks, status: int = 200, *,
                 content_type: bytes | str = b"application/octet-stream",
                 headers: Iterable[tuple[str | bytes, str | bytes]] | None = None,
                 content_length: int | None = None) -> None:
        self.chunks = chunks
        self.status = status
        self.content_type = _as_bytes(content_type)
        self.headers = normalize_headers(headers)
        self.content_length = content_length
