"""The asyncio shell around the sans-IO connection: one ``asyncio.Protocol`` per connection.

Mirrors uvicorn's ``httptools_impl.py``: callbacks (``data_received``) rather than the
streams API, because a Protocol costs no coroutine switch, no StreamReader buffer copy and
no Task per connection; uvloop is used when installed.

Theory of operation
-------------------
Every rule of the connection (pipelining order, keep-alive, backpressure, timeouts) is
decided by ``HttpConnection`` (``connection.py``), which is tested without sockets. This
shell does the I/O those decisions call for:

* ``data_received`` reads the clock once, feeds the connection and does what
  ``next_event`` says until it says ``NEED_DATA`` or ``PAUSED``. A handler that returns a
  ``Response`` directly (a plain function) is answered inside the same callback: one
  ``transport.write`` per response, no Task created. A coroutine handler, a streamed body
  or a file gets a Task; the connection hands out no other request meanwhile.
* Backpressure: ``pause_writing``/``resume_writing`` are passed on to the connection, and
  reading is paused and resumed when it answers ``PAUSED``/``NEED_DATA``. A streamed request
  body (``stream_body=``, ``body.py``) uses the same rule: what the handler has not taken yet
  stays in the parser's buffer, and reading stops once that is over the pipelining limit.
* Timeouts: one housekeeping tick per server (every ``tick_s``) reads the clock, refreshes
  the cached ``Date`` line and asks each connection whether its deadline has passed. The
  clock is injected (``clock=``, ``time.monotonic`` by default) and ``sweep(now)`` can be
  called by a test with any time it likes.
* Graceful shutdown stops listening, closes idle connections, lets busy ones finish their
  response (sent with ``Connection: close``), and aborts what is left after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from .body import RequestBody, StreamingConnection
from .connection import NEED_DATA, PAUSED, CloseConnection, HttpConnection
from .errors import LocalProtocolError, ProtocolError
from .parser import Limits, Request
from .response import (
    LAST_CHUNK,
    DateHeader,
    Response,
    StreamingResponse,
    encode_chunk,
    serialize_chunked_head,
    serialize_response,
)
from .routing import HttpRequest

__all__ = ["HttpServer", "install_uvloop", "run"]

log = logging.getLogger("labsupport.http")

def install_uvloop() -> bool:
    """Use uvloop's event loop policy when it is installed; True if it was."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def _aiter(chunks: Any) -> Any:
    for piece in chunks:
        yield piece


def _internal_error(request: HttpRequest, exc: BaseException) -> Response:
    log.error("handler failed for %r", request, exc_info=exc)
    return Response("internal server error", 500)


class HttpProtocol(asyncio.Protocol):
    """One client connection: moves bytes between a transport and its ``HttpConnection``."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.app = server.app
        self.clock = server.clock
        timing = dict(now=server.clock(), header_timeout=server.header_timeout,
                      body_timeout=server.body_timeout,
                      keepalive_timeout=server.keepalive_timeout, date=server.date)
        if server.stream_body is None:
            self.conn = HttpConnection(server.limits, **timing)
        else:  # the streaming-body hook (body.py): bodies read by the handler as they arrive
            self.conn = StreamingConnection(server.limits, stream_body=server.stream_body,
                                            make_stream=lambda: RequestBody(self), **timing)
        self.conn.shutting_down = server.shutting_down
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self.sockname: Any = None
        self.read_paused = False
        self.responding = False  # a streamed response's head is out, its body is not
        self._drain_waiter: asyncio.Future[None] | None = None
        self.disconnect_waiters: list[asyncio.Future[None]] = []

    @property
    def closing(self) -> bool:
        return self.conn.closing

    # -- asyncio callbacks ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = self.conn.peer = transport.get_extra_info("peername")
        self.sockname = transport.get_extra_info("sockname")
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.connection_lost()
        self.server.connections.discard(self)
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(ConnectionResetError("client went away"))
        self._wake_disconnect_waiters()

    def _wake_disconnect_waiters(self) -> None:
        waiters, self.disconnect_waiters = self.disconnect_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = self.clock()  # one clock read per callback: deadlines are never early
        self.conn.receive_data(data, now)
        self._process(now)

    def eof_received(self) -> bool:
        self.conn.receive_eof()
        self._process(self.clock())
        return True  # keep our sending side open until the last response is out

    def pause_writing(self) -> None:
        self.conn.writing_paused()

    def resume_writing(self) -> None:
        self.conn.writing_resumed()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._process(self.clock())

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark."""
        if self.conn.write_paused and not self.conn.closing:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    # -- request processing -----------------------------------------------------------------
    def _process(self, now: float) -> None:
        """Do what the connection asks until it needs bytes, is busy, or closes."""
        conn = self.conn
        while True:
            event = conn.next_event(now)
            kind = type(event)
            if kind is HttpRequest:
                # The handler runs here; a plain Response is written inside this callback.
                try:
                    result = self.app(event)
                except Exception as exc:  # a bug in the handler is a 500, not a dead connection
                    result = self.server.on_error(event, exc)
                if type(result) is Response:
                    self.transport.write(conn.respond(result, now))
                    self._finished()
                else:
                    asyncio.get_running_loop().create_task(self._finish_async(event, result))
                if conn.closing:
                    return
            elif event is NEED_DATA:
                if self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                return
            elif event is PAUSED:
                if not self.read_paused and not conn.closing:
                    self.read_paused = True
                    self.transport.pause_reading()
                return
            elif kind is bytes:
                self.transport.write(event)  # 100 Continue
            else:
                self._close(event)
                return

    def _finished(self) -> None:
        self.server.requests_served += 1
        if self.disconnect_waiters:
            self._wake_disconnect_waiters()
        if self.server.on_response is not None:
            self.server.on_response(self)
        if self.conn.closing:
            self.transport.close()

    def _response_done(self, keep: bool) -> None:
        self.conn.response_finished(keep, self.clock())
        self._finished()

    async def _finish_async(self, request: HttpRequest, result: Any) -> None:
        conn = self.conn
        head = request.head
        try:
            try:
                while asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await result
            except Exception as exc:
                if conn.closing and isinstance(exc, ProtocolError):
                    return  # a malformed streamed body, already refused (body.py)
                result = self.server.on_error(request, exc)
            if conn.closing:
                return
            if type(result) is Response:
                self.transport.write(conn.respond(result, self.clock()))
                self._finished()
            elif isinstance(result, StreamingResponse):
                await self._send_stream(head, result)
            elif hasattr(result, "send"):  # a FileResponse or any object that sends itself
                keep = conn.keep_alive
                await result.send(self, head, keep)
                self._response_done(getattr(result, "keep", keep))  # ASGI to HTTP/1.0 closes
            else:
                raise TypeError(f"handler returned {type(result).__name__}, not a response")
        except (ConnectionError, asyncio.CancelledError):
            conn.connection_lost()
            if self.transport is not None:
                self.transport.abort()
            return
        except Exception as exc:
            log.error("response failed for %r", request, exc_info=exc)
            conn.connection_lost()
            self.transport.abort()
            return
        if not conn.closing:
            self._process(self.clock())

    async def _send_stream(self, head: Request, resp: StreamingResponse) -> None:
        date = self.server.date.line
        fields = [(b"content-type", resp.content_type), *resp.headers]
        write = self.transport.write
        length = resp.content_length
        if length is not None:
            # A known length frames the body itself: no chunked coding, and HTTP/1.0 keeps alive.
            keep = self.conn.keep_alive
            http10 = head.http_version == "1.0"
            write(serialize_response(resp.status, fields, keep_alive=keep, date_line=date,
                                     content_length=length, http10_keep_alive=keep and http10))
            chunked = False
        elif head.http_version == "1.0":
            # No chunked coding in HTTP/1.0: the end of the body is the end of the connection.
            write(serialize_response(resp.status, fields, keep_alive=False, date_line=date,
                                     add_length=False))
            chunked, keep = False, False
        else:
            keep = self.conn.keep_alive
            write(serialize_chunked_head(resp.status, fields, keep_alive=keep, date_line=date))
            chunked = True
        self.responding = True
        if head.method != "HEAD":
            sent = 0
            chunks = resp.chunks
            pieces = chunks if hasattr(chunks, "__aiter__") else _aiter(chunks)
            async for piece in pieces:
                sent += len(piece)
                if length is not None and sent > length:
                    raise LocalProtocolError(f"streamed body longer than its Content-Length {length}")
                write(encode_chunk(piece) if chunked else piece)
                await self.drain()
            if chunked:
                write(LAST_CHUNK)
            elif length is not None and sent != length:
                raise LocalProtocolError(f"streamed body of {sent} bytes, Content-Length {length}")
        self.responding = False
        self._response_done(keep)

    def _close(self, event: CloseConnection) -> None:
        if event.status:
            self.server.refused += 1
            log.info("refused %s from %s: %s", event.status, self.peer, event.reason)
        if event.data:
            self.transport.write(event.data)
        self.transport.close()

    def check_deadline(self, now: float) -> None:
        """Close the connection if its phase's deadline has passed (the housekeeping tick)."""
        event = self.conn.check_timeout(now)
        if event is not None:
            self._close(event)


class HttpServer:
    """Serve ``app`` (a handler: ``HttpRequest -> Response | awaitable``) over HTTP/1.1.

    ``clock`` returns monotonic seconds (``time.monotonic`` by default); every deadline is
    computed from a fresh reading of it. ``date_clock`` returns wall-clock seconds for Date.
    ``stream_body(head)``, when given, picks the requests whose body the handler reads as it
    arrives (``HttpRequest.stream``, see ``body.py``) instead of receiving it whole.
    """

    def __init__(self, app: Callable[[HttpRequest], Any], *, limits: Limits | None = None,
                 header_timeout: float = 10.0, body_timeout: float = 30.0,
                 keepalive_timeout: float = 5.0, tick_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic,
                 date_clock: Callable[[], float] = time.time,
                 on_error: Callable[[HttpRequest, BaseException], Response] = _internal_error,
                 stream_body: Callable[[Request], bool] | None = None) -> None:
        self.app = app
        # Requests whose head makes this true get ``HttpRequest.stream`` (body.py), not a body.
        self.stream_body = stream_body
        self.limits = limits or Limits()
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keepalive_timeout = keepalive_timeout
        self.tick_s = tick_s
        self.clock = clock
        self.date = DateHeader(date_clock)
        self.on_error = on_error
        self.on_response: Callable[[HttpProtocol], None] | None = None
        self.connections: set[HttpProtocol] = set()
        self.shutting_down = False
        self.requests_served = 0
        self.refused = 0
        self._server: asyncio.base_events.Server | None = None
        self._tick_handle: asyncio.TimerHandle | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None,
                    backlog: int = 1024) -> tuple[str, int]:
        """Start listening; returns the bound (host, port) (port 0 asks the OS for one)."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(lambda: HttpProtocol(self), sock=sock, backlog=backlog)
        else:
            self._server = await loop.create_server(lambda: HttpProtocol(self), host, port,
                                                    backlog=backlog, reuse_address=True)
        self._tick_handle = loop.call_later(self.tick_s, self._tick)
        return self._server.sockets[0].getsockname()[:2]

    def _tick(self) -> None:
        self.sweep()
        if self._server is not None:
            self._tick_handle = asyncio.get_running_loop().call_later(self.tick_s, self._tick)

    def sweep(self, now: float | None = None) -> None:
        """Housekeeping: refresh Date, close the connections whose deadline has passed."""
        now = self.clock() if now is None else now
        self.date.refresh()
        for proto in list(self.connections):
            proto.check_deadline(now)

    async def shutdown(self, grace_s: float = 10.0) -> None:
        """Stop accepting, finish in-flight requests (up to ``grace_s``), then close all."""
        self.shutting_down = True
        if self._server is not None:
            self._server.close()
        for proto in list(self.connections):
            if proto.conn.shutdown():
                proto.transport.close()
        deadline = time.monotonic() + grace_s
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for proto in list(self.connections):
            proto.transport.abort()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HttpServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown(grace_s=2.0)


def run(app: Callable[[HttpRequest], Any], host: str = "127.0.0.1", port: int = 8080, *,
        use_uvloop: bool = True, ready: Callable[[str, int], None] | None = None,
        lifespan: bool = False, **kwargs: Any) -> None:
    """Serve until SIGINT/SIGTERM, then shut down gracefully (the command line's loop).

    ``lifespan`` runs the ASGI lifespan protocol of an ``ASGIAdapter`` app around serving.
    """
    if use_uvloop and os.environ.get("LAB_HTTP_NO_UVLOOP") != "1":
        install_uvloop()

    async def main() -> None:
        span = None
        if lifespan and hasattr(app, "app"):
            from .asgi import Lifespan
            span = Lifespan(app.app)
            await span.startup()
        server = HttpServer(app, **kwargs)
        bound = await server.start(host, port)
        if ready is not None:
            ready(*bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.shutdown()
        if span is not None:
            await span.shutdown()

    asyncio.run(main())
