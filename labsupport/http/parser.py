"""Incremental, sans-IO HTTP/1.1 request parser (RFC 9112 message syntax, RFC 9110 semantics).

Mirrors the reading half of h11 and of uvicorn's httptools protocol: bytes go in with
``feed()``, events come out of ``next_event()``, and "not enough bytes yet" is the ordinary
return value ``NEED_DATA``, not an exception. No sockets, no clock: the asyncio layer in
``server.py`` owns the I/O and the timeouts.

Theory of operation
-------------------
One parser lives as long as a connection. It is a small state machine::

    HEAD --Request--> BODY_LENGTH --Data*--> EndOfMessage --> HEAD   (Content-Length)
         \\----------> BODY_CHUNKED --Data*--> (trailer) EndOfMessage --> HEAD
         \\-- no body: EndOfMessage at once                       --> HEAD
    any state --ProtocolError--> ERROR (sticky: every later call raises the same error)

After ``EndOfMessage`` it is back in HEAD and parses the next pipelined request, but only
when asked: the server asks for the next event only once the previous response is under
way, which is what keeps pipelined responses in order.

The head is found with one ``bytes.find(b"\\r\\n\\r\\n")`` and split once on CRLF; the whole head
is checked for forbidden bytes with one ``bytes.translate`` (C speed) instead of a regex per
field. The receive buffer is an immutable ``bytes`` plus a read offset, so a burst of
pipelined requests is consumed without copying the tail after each one; it is compacted on
the next ``feed()``.

Rules enforced (status in brackets, connection closed after every one of them):
request line not exactly ``method SP target SP version`` [400]; method not a token [400],
a token we do not implement [501]; version not HTTP/1.0 or 1.1 [505]; target with a
control byte, space, ``#`` or non-ASCII, or not origin/absolute/asterisk form [400]; target
over the limit [414]; bare CR or LF, NUL or other control bytes in the head [400];
obsolete line folding [400]; whitespace between field name and colon [400]; field name not
a token [400]; head over the byte or field-count limit [431]; HTTP/1.1 without exactly one
Host [400]; Content-Length not all digits [400] (``content_length=`` replaces this rule, e.g.
to accept the list ``5, 5`` that RFC 9110 section 8.6 allows) or repeated with different
values [400];
Transfer-Encoding together with Content-Length, in HTTP/1.0, or not ending in chunked [400],
a coding other than chunked [501]; declared length over ``max_body_bytes`` [413, before
any body byte is read]; chunk size not hex, chunk data not followed by CRLF [400];
an ``Expect`` other than 100-continue [417].
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import (
    BadRequest,
    ContentTooLarge,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    IncompleteMessage,
    MethodNotImplemented,
    ProtocolError,
    UriTooLong,
    VersionNotSupported,
)
from .events import NEED_DATA, ConnectionClosed, Data, EndOfMessage, Limits, Request, _Sentinel
from .fields import (
    _CL,
    _CONN,
    _CRLF_RUNS,
    _EXT_OK,
    _HEAD_OK,
    _HEXDIG,
    _HOST,
    _LINE_OK,
    _METHODS,
    _NAMES,
    _OWS,
    _TARGET_OK,
    _TE,
    _VERSION_RE,
    _learn_name,
    parse_trailers,
)
from .fields import (
    TCHAR as _TCHAR,
)

__all__ = [
    "NEED_DATA",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Limits",
    "Request",
    "RequestParser",
    "strict_content_length",
]

_new_tuple = tuple.__new__
_END = EndOfMessage()
_CLOSED = ConnectionClosed()


# Parser states.
_S_HEAD, _S_LENGTH, _S_CHUNK_SIZE, _S_CHUNK_DATA, _S_CHUNK_CRLF, _S_TRAILER, _S_ERROR = range(7)


def strict_content_length(value: bytes) -> int:
    """The default rule for a Content-Length that is not plain digits: refuse it (400)."""
    raise BadRequest(f"invalid Content-Length {value[:40]!r}")


class RequestParser:
    """Feed bytes, pull events. See the module docstring for the states and rules."""

    __slots__ = ("limits", "content_length", "_buf", "_pos", "_state", "_remaining",
                 "_body_total", "_error", "_eof")

    def __init__(self, limits: Limits | None = None, *,
                 content_length: Callable[[bytes], int] | None = None) -> None:
        self.limits = limits or Limits()
        # Called for a Content-Length value that is not plain digits; returns the length or
        # raises a ProtocolError. The default refuses every such value.
        self.content_length = content_length or strict_content_length
        self._buf = b""
        self._pos = 0
        self._state = _S_HEAD
        self._remaining = 0  # bytes left in the Content-Length body or the current chunk
        self._body_total = 0  # de-chunked bytes so far (for the 413 check)
        self._error: ProtocolError | None = None
        self._eof = False

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Append received bytes. Cheap when the previous bytes were all consumed."""
        if self._pos == len(self._buf):
            # Everything before was consumed (the common case): no copy at all.
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
        elif self._pos:
            # Compact: drop what was consumed, once per feed rather than once per event.
            self._buf = self._buf[self._pos :] + data
            self._pos = 0
        else:
            self._buf += data

    def feed_eof(self) -> None:
        """The client closed its sending side; ``next_event`` will report how that ended."""
        self._eof = True

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into events."""
        return len(self._buf) - self._pos

    @property
    def idle(self) -> bool:
        """True between requests with nothing buffered (safe to close a keep-alive socket)."""
        return self._state == _S_HEAD and len(self._buf) == self._pos

    # -- output --------------------------------------------------------------------------
    def next_event(self) -> Request | Data | EndOfMessage | ConnectionClosed | _Sentinel:
        """The next event, or ``NEED_DATA``. Raises a ``ProtocolError`` subclass on bad input."""
        state = self._state
        try:
            if state == _S_HEAD:
                # The two answers of every keep-alive request, decided here without a call:
                # an empty buffer between requests, and below the end of a body-less request.
                if self._pos == len(self._buf) and not self._eof:
                    return NEED_DATA
                return self._read_head()
            if state == _S_LENGTH:
                if self._remaining == 0:
                    self._state = _S_HEAD
                    return _END
                return self._read_length_body()
            if state == _S_ERROR:
                raise self._error  # type: ignore[misc]
            return self._read_chunked()
        except ProtocolError as exc:
            self._state = _S_ERROR
            self._error = exc
            raise

    # -- head ----------------------------------------------------------------------------
    def _read_head(self) -> Request | EndOfMessage | ConnectionClosed | _Sentinel:
        buf = self._buf
        pos = self._pos
        if pos == len(buf):  # nothing buffered: the common end of a data_received
            return _CLOSED if self._eof else NEED_DATA
        # RFC 9112 section 2.2: ignore empty lines received before the request line.
        while buf.startswith(b"\r\n", pos):
            pos += 2
            self._pos = pos
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            self._check_partial_head(buf, pos)
            if self._eof:
                if len(buf) == pos:
                    return _CLOSED
                raise IncompleteMessage("connection closed in the middle of a request head")
            return NEED_DATA
        if end - pos > self.limits.max_head_bytes:
            self._raise_head_too_large(buf, pos)
        head = buf[pos:end]
        self._pos = end + 4
        return self._parse_head(head)

    def _check_partial_head(self, buf: bytes, pos: int) -> None:
        """Refuse an unfinished head as soon as it is over a limit (do not wait for the end)."""
        size = len(buf) - pos
        limits = self.limits
        if size > limits.max_target_bytes + 32 and buf.find(b"\r\n", pos) < 0:
            raise UriTooLong(f"request line longer than {limits.max_target_bytes} bytes")
        if size > limits.max_head_bytes:
            self._raise_head_too_large(buf, pos)

    def _raise_head_too_large(self, buf: bytes, pos: int) -> None:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0 or line_end - pos > self.limits.max_target_bytes + 32:
            raise UriTooLong(f"request line longer than {self.limits.max_target_bytes} bytes")
        raise HeaderFieldsTooLarge(f"request head larger than {self.limits.max_head_bytes} bytes")

    def _parse_head(self, head: bytes) -> Request | EndOfMessage:
        lines = head.split(b"\r\n")
        n_lines = len(lines)
        # One translate deletes every allowed byte except CR and LF: what is left must be
        # exactly the CRLF pairs between the lines. A bare CR or LF (a smuggling vector) or a
        # control byte leaves something else.
        if head.translate(None, _LINE_OK) != _CRLF_RUNS[n_lines - 1 if n_lines <= 128 else 0]:
            if head.count(b"\n") != n_lines - 1 or head.count(b"\r") != n_lines - 1:
                raise BadRequest("bare CR or LF in the request head (lines must end with CRLF)")
            bad = next((i for i, c in enumerate(head) if c not in _HEAD_OK), None)
            if bad is not None:
                raise BadRequest(f"control byte 0x{head[bad]:02x} at offset {bad} of the head")
        limits = self.limits
        if n_lines - 1 > limits.max_header_count:
            raise HeaderFieldsTooLarge(f"more than {limits.max_header_count} header fields")

        parts = lines[0].split(b" ")
        if len(parts) != 3:
            raise BadRequest(f"malformed request line {lines[0][:80]!r} (want METHOD SP TARGET SP VERSION)")
        method_b, target, version = parts
        method = _METHODS.get(method_b)
        if method is None:
            if method_b and not method_b.translate(None, _TCHAR):
                raise MethodNotImplemented(f"method {method_b.decode()!r} is not implemented")
            raise BadRequest(f"malformed method {method_b[:40]!r}")
        if version == b"HTTP/1.1":
            v11 = True
        elif version == b"HTTP/1.0":
            v11 = False
        elif _VERSION_RE.fullmatch(version):
            raise VersionNotSupported(f"HTTP version {version.decode()} is not supported")
        else:
            raise BadRequest(f"malformed HTTP version {version[:20]!r}")
        if len(target) > limits.max_target_bytes:
            raise UriTooLong(f"request-target of {len(target)} bytes (limit {limits.max_target_bytes})")
        if not target or target.translate(None, _TARGET_OK):
            raise BadRequest(f"invalid byte in request-target {target[:80]!r}")
        if target[0] == 47:  # b"/": origin-form, by far the common case
            path_b, _, query = target.partition(b"?")
        elif target == b"*" and method == "OPTIONS":
            path_b, query = b"*", b""
        elif target[:7].lower() == b"http://" or target[:8].lower() == b"https://":
            # absolute-form (RFC 9112 section 3.2.2): keep only the path and query.
            rest = target.split(b"//", 1)[1]
            slash = rest.find(b"/")
            path_b, _, query = (rest[slash:] if slash >= 0 else b"/").partition(b"?")
        else:
            raise BadRequest(f"request-target {target[:80]!r} is not in origin or absolute form")

        headers = []
        host_count = 0
        length: int | None = None
        codings: list[bytes] | None = None
        conn_close = conn_keep = expect_continue = False
        names = _NAMES
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            # A dict of names already seen and validated replaces the per-line token check
            # and lower() on the hot path: one lookup gives the lower-case name and its role.
            known = names.get(name)
            if known is None:
                known = _learn_name(name, colon, line, lines)
            lname, special = known
            value = value.strip(_OWS)
            headers.append((lname, value))
            if special is None:
                continue
            if special == _HOST:
                host_count += 1
            elif special == _CL:
                if value.isdigit():
                    if len(value) > 18:
                        raise ContentTooLarge(f"Content-Length {value[:40].decode()} is over the limit")
                    n = int(value)
                else:  # not plain digits: the pluggable rule (strict by default)
                    n = self.content_length(value)
                if length is not None and n != length:
                    raise BadRequest("conflicting Content-Length values")
                length = n
            elif special == _TE:
                if codings is None:
                    codings = []
                codings.extend(c.strip(_OWS).lower() for c in value.split(b","))
            elif special == _CONN:
                tokens = [t.strip(_OWS) for t in value.lower().split(b",")]
                conn_close = conn_close or b"close" in tokens
                conn_keep = conn_keep or b"keep-alive" in tokens
            else:  # Expect
                if value.lower() != b"100-continue":
                    raise ExpectationFailed(f"Expect: {value[:40].decode('latin-1')} is not supported")
                expect_continue = v11

        if v11 and host_count != 1:
            raise BadRequest("HTTP/1.1 request without a Host header" if host_count == 0
                             else "more than one Host header")
        chunked = False
        if codings is not None:
            # RFC 9112 section 6.1 and 6.3: both framings at once is how smuggling starts.
            if length is not None:
                raise BadRequest("both Transfer-Encoding and Content-Length (possible smuggling)")
            if not v11:
                raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
            if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") != 1:
                raise BadRequest(f"Transfer-Encoding {b', '.join(codings)[:60]!r} does not end in one chunked")
            if len(codings) > 1:
                raise MethodNotImplemented(f"transfer coding {codings[0][:40]!r} is not implemented")
            chunked = True
        elif length is not None and length > limits.max_body_bytes:
            raise ContentTooLarge(f"Content-Length {length} is over the limit of {limits.max_body_bytes}")

        if chunked:
            self._state = _S_CHUNK_SIZE
            self._body_total = 0
        else:
            # A length of 0 (or none) makes the next call return EndOfMessage at once.
            self._state = _S_LENGTH
            self._remaining = length or 0
        keep_alive = (not conn_close) if v11 else (conn_keep and not conn_close)
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (a frame per request).
        return _new_tuple(Request, (method, target, path_b.decode("ascii"), query,
                                    "1.1" if v11 else "1.0", tuple(headers), keep_alive,
                                    expect_continue, None if chunked else (length or 0), chunked))

    # -- bodies --------------------------------------------------------------------------
    def _read_length_body(self) -> Data | EndOfMessage | _Sentinel:
        remaining = self._remaining
        if remaining == 0:
            self._state = _S_HEAD
            return _END
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail == 0:
            if self._eof:
                raise IncompleteMessage(f"connection closed with {remaining} body bytes missing")
            return NEED_DATA
        take = remaining if remaining < avail else avail
        self._pos = pos + take
        self._remaining = remaining - take
        return Data(buf[pos : pos + take])

    def _read_chunked(self) -> Data | EndOfMessage | _Sentinel:
        while True:
            state = self._state
            buf = self._buf
            pos = self._pos
            if state == _S_CHUNK_SIZE:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    if len(buf) - pos > self.limits.max_chunk_line_bytes:
                        raise BadRequest("chunk size line too long")
                    return self._need()
                line = buf[pos:nl]
                if nl - pos > self.limits.max_chunk_line_bytes:
                    raise BadRequest("chunk size line too long")
                size_b, semi, ext = line.partition(b";")
                size_b = size_b.rstrip(_OWS)
                if not size_b or size_b.translate(None, _HEXDIG) or len(size_b) > 16:
                    raise BadRequest(f"invalid chunk size {size_b[:20]!r} at body offset {self._body_total}")
                if semi and ext.translate(None, _EXT_OK):
                    raise BadRequest("control byte in a chunk extension")
                size = int(size_b, 16)
                self._pos = nl + 2
                if size == 0:
                    self._state = _S_TRAILER
                    continue
                self._body_total += size
                if self._body_total > self.limits.max_body_bytes:
                    raise ContentTooLarge(f"chunked body over the limit of {self.limits.max_body_bytes}")
                self._remaining = size
                self._state = _S_CHUNK_DATA
            elif state == _S_CHUNK_DATA:
                avail = len(buf) - pos
                if avail == 0:
                    return self._need()
                remaining = self._remaining
                take = remaining if remaining < avail else avail
                self._pos = pos + take
                self._remaining = remaining - take
                if take == remaining:
                    self._state = _S_CHUNK_CRLF
                return Data(buf[pos : pos + take])
            elif state == _S_CHUNK_CRLF:
                if len(buf) - pos < 2:
                    if len(buf) - pos == 1 and buf[pos] != 13:
                        raise BadRequest("chunk data not followed by CRLF")
                    return self._need()
                if not buf.startswith(b"\r\n", pos):
                    raise BadRequest("chunk data not followed by CRLF")
                self._pos = pos + 2
                self._state = _S_CHUNK_SIZE
            else:  # trailer section: zero or more fields, then an empty line
                if buf.startswith(b"\r\n", pos):
                    self._pos = pos + 2
                    self._state = _S_HEAD
                    return _END
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if len(buf) - pos > self.limits.max_head_bytes:
                        raise HeaderFieldsTooLarge("trailer section too large")
                    return self._need()
                block = buf[pos:end]
                self._pos = end + 4
                self._state = _S_HEAD
                return EndOfMessage(tuple(parse_trailers(block)))

    def _need(self) -> _Sentinel:
        if self._eof:
            raise IncompleteMessage("connection closed in the middle of a chunked body")
        return NEED_DATA
