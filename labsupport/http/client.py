"""Reading HTTP/1.1 responses: the one response reader the lab's tests, checks and notebook use.

The client half of the sans-IO split (h11's client-side reader, much reduced): bytes go in
with ``feed()``, whole responses come out of ``next_response()``, and "not enough bytes yet"
is the ``NEED_DATA`` sentinel. Around it, ``read_response`` and ``RawClient`` do the socket
I/O for tests and notebook cells that talk to a real server over 127.0.0.1.

Theory of operation
-------------------
A response is a head (status line and fields up to the blank line) and a body framed by
the first rule of RFC 9112 section 6.3 that applies: no body for 1xx, 204, 304 and
answers to HEAD (the caller says which responses answer a HEAD with ``expect_head()``, as
a client must: the head alone does not tell); ``Transfer-Encoding: chunked``;
``Content-Length``; otherwise the body runs until the server closes. Interim 1xx
responses are returned like any other, so a test can see its ``100 Continue``.

It is strict where a test wants to know: a status line that is not ``HTTP/1.x NNN``, a bad
length or chunk size raise ``ResponseError`` saying what and at which offset of the stream.
"""

from __future__ import annotations

import socket
from collections import deque
from typing import NamedTuple

from .errors import HttpError
from .events import NEED_DATA, _Sentinel

__all__ = ["NEED_DATA", "RawClient", "RawResponse", "ResponseError", "ResponseReader",
           "read_response", "request", "split_responses"]


class ResponseError(HttpError):
    """The server's bytes are not a well-formed HTTP/1.1 response (the server's fault)."""


class RawResponse(NamedTuple):
    """One response: status, fields (lower-case names; a repeated field keeps its last value)
    and the de-chunked body. A tuple, so ``status, headers, body = response`` works."""

    status: int
    headers: dict[str, str]
    body: bytes


class ResponseReader:
    """Feed the bytes of a connection, pull whole responses (see the module docstring)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._consumed = 0  # stream offset of _buf[0], for error messages
        self._eof = False
        self._head_only: deque[bool] = deque()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def feed_eof(self) -> None:
        """The server closed the connection (ends a close-delimited body)."""
        self._eof = True

    def expect_head(self, head_only: bool = True) -> None:
        """Declare that the next response not yet read answers a HEAD request (no body)."""
        self._head_only.append(head_only)

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def next_response(self) -> RawResponse | _Sentinel:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if self._eof and buf:
                raise ResponseError(f"{len(buf)} bytes at offset {self._consumed} are not a whole "
                                    f"response head: {bytes(buf[:40])!r}")
            return NEED_DATA
        lines = bytes(buf[:end]).split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ResponseError(f"not a status line at offset {self._consumed}: {lines[0][:60]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        start = end + 4
        head_only = False
        if status >= 200 and self._head_only:
            head_only = self._head_only[0]
        if head_only or status < 200 or status in (204, 304):
            body, stop = b"", start
        elif headers.get("transfer-encoding", "").lower().endswith("chunked"):
            got = self._dechunk(start)
            if got is None:
                return NEED_DATA
            body, stop = got
        elif "content-length" in headers:
            value = headers["content-length"]
            if not value.isdigit():
                raise ResponseError(f"bad Content-Length {value!r} at offset {self._consumed}")
            stop = start + int(value)
            if len(buf) < stop:
                if self._eof:
                    raise ResponseError(f"connection closed with {stop - len(buf)} body bytes missing")
                return NEED_DATA
            body = bytes(buf[start:stop])
        else:  # delimited by the close of the connection
            if not self._eof:
                return NEED_DATA
            body, stop = bytes(buf[start:]), len(buf)
        if status >= 200 and self._head_only:
            self._head_only.popleft()
        del buf[:stop]
        self._consumed += stop
        return RawResponse(status, headers, body)

    def _dechunk(self, pos: int) -> tuple[bytes, int] | None:
        buf = self._buf
        pieces = []
        while True:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                return self._short()
            size_text = bytes(buf[pos:nl]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ResponseError(f"bad chunk size {size_text[:20]!r} at offset "
                                    f"{self._consumed + pos}") from None
            pos = nl + 2
            if size == 0:
                end = buf.find(b"\r\n\r\n", pos - 2)  # the trailer section ends with a blank line
                if end < 0:
                    return self._short()
                return b"".join(pieces), end + 4
            if len(buf) < pos + size + 2:
                return self._short()
            pieces.append(bytes(buf[pos : pos + size]))
            pos += size + 2

    def _short(self) -> None:
        if self._eof:
            raise ResponseError("connection closed in the middle of a chunked body")
        return None


def split_responses(data: bytes, *, head_only: tuple[bool, ...] = ()) -> list[RawResponse]:
    """Every response in ``data``, the whole of what one connection received (then closed)."""
    reader = ResponseReader()
    for flag in head_only:
        reader.expect_head(flag)
    reader.feed(data)
    reader.feed_eof()
    out = []
    while reader.buffered and (resp := reader.next_response()) is not NEED_DATA:
        out.append(resp)
    return out


def read_response(sock: socket.socket, reader: ResponseReader, head_only: bool = False) -> RawResponse:
    """Read the next response from ``sock``; ``reader`` keeps what was read beyond it."""
    if head_only:
        reader.expect_head()
    while (resp := reader.next_response()) is NEED_DATA:
        data = sock.recv(65536)
        if not data:
            reader.feed_eof()
            resp = reader.next_response()
            if resp is NEED_DATA:
                raise ConnectionError("connection closed before a whole response")
            return resp
        reader.feed(data)
    return resp


class RawClient:
    """One TCP connection to a server on this machine, speaking raw bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.reader = ResponseReader()

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def read(self, head_only: bool = False) -> RawResponse:
        return read_response(self.sock, self.reader, head_only)

    def closed_by_server(self, timeout_s: float = 3.0) -> bool:
        """True when the server closes the connection within ``timeout_s`` (no bytes left)."""
        self.sock.settimeout(timeout_s)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request(port: int, raw: bytes, head_only: bool = False, host: str = "127.0.0.1") -> RawResponse:
    """Send ``raw`` on a new connection and read one response."""
    with RawClient(port, host) as client:
        client.send(raw)
        return client.read(head_only)
