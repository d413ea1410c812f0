"""HTTP/1.1 keep-alive connection pools to the backends, one pool per server.

What nginx's ``upstream { keepalive N; }`` and Envoy's connection pool do: a request takes an
idle connection to its server if there is one, opens a new one while the pool is under
``max_connections``, and otherwise waits for one to be released (so a slow backend is not
buried under thousands of new connections). A connection goes back to the idle list only when
its response was read to the end and both sides keep it alive; anything else closes it.

The I/O is asyncio streams; the bytes are read by the sans-IO ``ResponseStream``. Timeouts:
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

from .errors import ConnectFailed, PoolBusy, UpstreamClosed, UpstreamTimeout
from .upstream import END, NEED_DATA, ResponseHead, ResponseStream

__all__ = ["ConnectionPool", "UpstreamConnection"]

READ_BYTES = 65536


class UpstreamConnection:
    """One TCP connection to a backend, reading responses with a ``ResponseStream``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.stream = ResponseStream()
        self.reused = False
        self.requests = 0

    async def send(self, head: bytes, body: bytes, head_only: bool) -> None:
        self.stream.start(head_only)
        self.requests += 1
        self.writer.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self.writer.write(body)
        await self.writer.drain()

    async def _fill(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):  # no extra Task, unlike wait_for
                data = await self.reader.read(READ_BYTES)
        except TimeoutError:
            raise UpstreamTimeout(f"no response bytes within {timeout_s:g} s") from None
        except ConnectionError as exc:
            raise UpstreamClosed(f"connection lost: {exc}") from None
        if data:
            self.stream.feed(data)
        else:
            self.stream.feed_eof()

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
        return self.stream.reusable and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


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
            if conn.reader.at_eof() or conn.writer.is_closing():
                self._discard(conn)
                continue
            conn.reused = True
            self.reuses += 1
            return conn
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=READ_BYTES),
                self.connect_timeout_s)
        except TimeoutError:
            self._slots.release()
            raise ConnectFailed(f"{self.host}:{self.port}: connect timed out after "
                                f"{self.connect_timeout_s:g} s") from None
        except OSError as exc:
            self._slots.release()
            raise ConnectFailed(f"{self.host}:{self.port}: {exc.strerror or exc}") from None
        sock = writer.get_extra_info("socket")
        if sock is not None:  # small requests go out at once (asyncio does this, uvloop may not)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.open += 1
        self.created += 1
        return UpstreamConnection(reader, writer)

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
