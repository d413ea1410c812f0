"""HTTP/1.1 keep-alive connection pools to the backends, one pool per server.

What nginx's ``upstream { keepalive N; }`` and Envoy's connection pool do: a request takes an
idle connection to its server if there is one, opens a new one while the pool is under
``max_connections``, and otherwise waits for one to be released (so a slow backend is not
buried under thousands of new connections). A connection goes back to the idle list only when
its response was read to the end and both sides keep it alive; anything else closes it.

The I/O is an ``asyncio.Protocol`` per connection; the bytes are read by the sans-IO
``ResponseStream``. Timeouts:
``queue_timeout_s`` bounds the wait for a pool slot (``PoolBusy``, the gateway's own limit:
not held against the server), ``connect_timeout_s`` the TCP connect, ``read_timeout_s``
each wait for response bytes (the head, and every next piece of the body), as nginx's
``proxy_connect_timeout`` and ``proxy_read_timeout``.
A reused idle connection may have been closed by the backend meanwhile (its keep-alive
timeout): ``UpstreamConnection.reused`` lets the caller retry such a failure once on a fresh
connection whatever the method, since the backend never saw the request.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import AsyncIterator

from labsupport.http import HttpError

from .errors import (
    ClientAborted,
    ConnectFailed,
    PoolBusy,
    UpstreamClosed,
    UpstreamError,
    UpstreamTimeout,
)
from .upstream import END, NEED_DATA, ResponseHead, ResponseStream

__all__ = ["ConnectionPool", "UpstreamConnection"]


class UpstreamConnection(asyncio.Protocol):
    """One TCP connection to a backend: an ``asyncio.Protocol`` feeding a ``ResponseStream``.

    A Protocol rather than asyncio streams, as Lab 01's server side is: received bytes go
    straight into the sans-IO reader, a request is written without a coroutine switch when
    the socket takes it, and each wait for bytes is one future plus one timer.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.stream = ResponseStream()
        self.reused = False
        self.requests = 0
        self.closed = False  # the backend closed its side, or the connection was lost
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # -- asyncio callbacks ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:  # small requests go out at once (asyncio does this, uvloop may not)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.stream.feed(data)
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self.stream.feed_eof()
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if exc is None:
                self.stream.feed_eof()
            else:
                self._error = UpstreamClosed(f"connection lost: {exc}")
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        _settle(waiter)

    def _wake(self) -> None:
        _settle(self._waiter)

    # -- requests -------------------------------------------------------------------------
    async def _drain(self) -> None:
        if self._write_paused and not self.closed:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter
        if self._error is not None:
            raise self._error

    async def send(self, head: bytes, body: bytes, head_only: bool) -> None:
        if self.closed:
            raise self._error or UpstreamClosed("the backend closed the idle connection")
        self.stream.start(head_only)
        self.requests += 1
        self.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.transport.write(body)
        if self._write_paused:
            await self._drain()

    async def send_stream(self, head: bytes, body: AsyncIterator[bytes], chunked: bool) -> None:
        """The head, then the client's body as it arrives (chunked again when it came chunked).

        Each piece waits for the backend to take the previous ones (``drain``): a slow backend
        slows the reading of the client's body, nothing piles up here.
        """
        if self.closed:
            raise self._error or UpstreamClosed("the backend closed the idle connection")
        self.stream.start(False)
        self.requests += 1
        write = self.transport.write
        write(head)
        pieces = body.__aiter__()
        while True:
            try:
                piece = await pieces.__anext__()
            except StopAsyncIteration:
                break
            except (ConnectionError, HttpError) as exc:  # the client's side, not the backend's
                raise ClientAborted(f"request body: {exc}") from None
            write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await self._drain()
        if chunked:
            write(b"0\r\n\r\n")
        await self._drain()

    async def _fill(self, timeout_s: float) -> None:
        """Wait for more bytes from the backend (or its close), at most ``timeout_s``."""
        if self._error is not None:
            raise self._error
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout_s, _expire, waiter, timeout_s)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self._error is not None:
            raise self._error

    async def read_head(self, timeout_s: float) -> ResponseHead:
        while (event := self.stream.next_event()) is NEED_DATA:
            await self._fill(timeout_s)
        assert isinstance(event, ResponseHead)
        return event

    async def read_body(self, timeout_s: float) -> bytes:
        """The whole (small, framed) body: no async generator, usually no wait at all."""
        pieces = []
        stream = self.stream
        while (event := stream.next_event()) is not END:
            if event is NEED_DATA:
                await self._fill(timeout_s)
            else:
                pieces.append(event)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def body(self, timeout_s: float) -> AsyncIterator[bytes]:
        """The body pieces as they arrive (nothing is buffered beyond one read)."""
        while True:
            event = self.stream.next_event()
            if event is END:
                return
            if event is NEED_DATA:
                await self._fill(timeout_s)
                continue
            yield event  # type: ignore[misc]

    @property
    def reusable(self) -> bool:
        return self.stream.reusable and not self.closed

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _settle(waiter: asyncio.Future[None] | None) -> None:
    """Wake whoever waits on ``waiter`` (if anyone still does)."""
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None], timeout_s: float) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(f"no response bytes within {timeout_s:g} s"))


class ConnectionPool:
    """Connections to one server ``host:port``, at most ``max_connections`` at a time."""

    def __init__(self, host: str, port: int, *, max_connections: int = 64,
                 connect_timeout_s: float = 1.0, queue_timeout_s: float = 5.0,
                 max_idle: int | None = None) -> None:
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.connect_timeout_s = connect_timeout_s
        self.queue_timeout_s = queue_timeout_s
        self.max_idle = max_connections if max_idle is None else max_idle
        self._idle: deque[UpstreamConnection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self.open = 0  # connections open, idle or busy
        self.created = 0
        self.reuses = 0

    async def acquire(self) -> UpstreamConnection:
        """A connection for one request (an idle one when there is one); release it after."""
        try:
            if self._slots.locked():  # the common case (a free slot) costs no timer
                async with asyncio.timeout(self.queue_timeout_s):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()
        except TimeoutError:
            raise PoolBusy(f"{self.host}:{self.port}: all {self.max_connections} "
                           f"connections busy for {self.queue_timeout_s:g} s") from None
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be stale
            if conn.closed or conn.transport.is_closing():
                self._discard(conn)
                continue
            conn.reused = True
            self.reuses += 1
            return conn
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(UpstreamConnection, self.host, self.port),
                self.connect_timeout_s)
        except TimeoutError:
            self._slots.release()
            raise ConnectFailed(f"{self.host}:{self.port}: connect timed out after "
                                f"{self.connect_timeout_s:g} s") from None
        except OSError as exc:
            self._slots.release()
            raise ConnectFailed(f"{self.host}:{self.port}: {exc.strerror or exc}") from None
        self.open += 1
        self.created += 1
        return conn

    def release(self, conn: UpstreamConnection, reuse: bool) -> None:
        """Give ``conn`` back: kept idle when ``reuse`` and it can carry another request."""
        self._slots.release()
        if reuse and conn.reusable and len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: UpstreamConnection) -> None:
        self.open -= 1
        conn.close()

    @property
    def idle(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())
