"""The asyncio shell around the sans-IO parser: one ``asyncio.Protocol`` per connection.

Mirrors uvicorn's ``httptools_impl.py``: callbacks (``data_received``) rather than the
streams API, because a Protocol costs no coroutine switch, no StreamReader buffer copy and
no Task per connection; uvloop is used when installed.

Theory of operation
-------------------
* ``data_received`` feeds the parser and pulls events while the connection is not busy.
  A request whose handler returns a ``Response`` directly (a plain function) is answered
  inside the same callback: one ``transport.write`` per response, no Task created.
  A coroutine handler, a streamed body or a file gets a Task, and the connection is *busy*
  until it finishes; pipelined requests wait in the parser's buffer meanwhile, which is
  what keeps responses in request order (RFC 9112 section 9.3.2).
* Backpressure both ways: when the transport's write buffer is over its high-water mark
  (``pause_writing``) no further request is processed and reading stops; when a busy
  connection has more than ``PIPELINE_BUFFER_BYTES`` queued, reading stops too.
* Timeouts use deadlines, not a timer per request: each connection keeps a ``deadline``
  for its current phase (waiting for a head, for a body, idle between requests) and one
  housekeeping tick per server (every ``tick_s``) closes what is overdue and refreshes the
  cached ``Date`` line. The clock is injected (``clock=``) and ``sweep(now)`` can be called
  by a test with any time it likes.
* Graceful shutdown stops listening, closes idle connections, lets busy ones finish their
  response (sent with ``Connection: close``), and aborts what is left after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from .errors import ProtocolError
from .parser import NEED_DATA, ConnectionClosed, Data, EndOfMessage, Limits, Request, RequestParser
from .response import (
    CONTINUE_100,
    LAST_CHUNK,
    DateHeader,
    Response,
    StreamingResponse,
    encode_chunk,
    error_response,
    serialize_chunked_head,
    serialize_response,
)
from .routing import HttpRequest

__all__ = ["HttpServer", "install_uvloop", "run"]

log = logging.getLogger("labsupport.http")

PIPELINE_BUFFER_BYTES = 256 * 1024
_IDLE, _HEAD, _BODY, _HANDLING = range(4)
_PHASE_NAMES = ("idle", "head", "body", "handling")


def install_uvloop() -> bool:
    """Use uvloop's event loop policy when it is installed; True if it was."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def _internal_error(request: HttpRequest, exc: BaseException) -> Response:
    log.error("handler failed for %r", request, exc_info=exc)
    return Response("internal server error", 500)


class HttpProtocol(asyncio.Protocol):
    """One client connection. Created by the event loop through ``HttpServer``."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.app = server.app
        self.parser = RequestParser(server.limits)
        self.transport: asyncio.Transport | None = None
        self.peer: Any = None
        self.sockname: Any = None
        self.phase = _IDLE
        self.deadline = math.inf
        self.busy = False
        self.closing = False
        self.write_paused = False
        self.read_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.disconnect_waiters: list[asyncio.Future[None]] = []
        self._head: Request | None = None
        self._body: list[bytes] = []
        self.requests_served = 0

    # -- asyncio callbacks ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")
        self.sockname = transport.get_extra_info("sockname")
        self.server.connections.add(self)
        self.deadline = self.server.now + self.server.keepalive_timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
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
        self.parser.feed(data)
        if self.phase == _IDLE:
            self.phase = _HEAD
            self.deadline = self.server.now + self.server.header_timeout
        if not self.busy and not self.write_paused:
            self._process()
        elif self.parser.buffered > PIPELINE_BUFFER_BYTES and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.parser.feed_eof()
        if not self.busy:
            self._process()
        return True  # keep our sending side open until the last response is out

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if not self.busy and not self.closing:
            self._process()

    async def drain(self) -> None:
        """Wait until the write buffer is below its low-water mark."""
        if self.write_paused and not self.closing:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    # -- request processing -----------------------------------------------------------------
    def _process(self) -> None:
        parser = self.parser
        while not self.busy and not self.closing:
            if self.write_paused:
                # The client is not reading its responses: stop making more of them.
                if not self.read_paused:
                    self.read_paused = True
                    self.transport.pause_reading()
                return
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                self._refuse(exc.status_code, str(exc))
                return
            if event is NEED_DATA:
                if self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                return
            kind = type(event)
            if kind is Request:
                self._head = event
                if event.content_length == 0:
                    continue  # EndOfMessage is next, no body phase
                self._body = []
                self.phase = _BODY
                self.deadline = self.server.now + self.server.body_timeout
                if event.expect_continue and not parser.buffered:
                    self.transport.write(CONTINUE_100)
            elif kind is Data:
                self._body.append(event.data)
                self.deadline = self.server.now + self.server.body_timeout
            elif kind is EndOfMessage:
                self._dispatch()
            elif kind is ConnectionClosed:
                self.closing = True
                self.transport.close()
                return

    def _dispatch(self) -> None:
        head = self._head
        if head.content_length == 0:
            request = HttpRequest(head, b"", self.peer)
        else:
            request = HttpRequest(head, b"".join(self._body), self.peer)
            self._body = []
        self.phase = _HANDLING
        self.deadline = math.inf
        try:
            result = self.app(request)
        except Exception as exc:  # a bug in the handler is a 500, not a dead connection
            result = self.server.on_error(request, exc)
        if type(result) is Response:
            self._write_response(head, result)
        else:
            self.busy = True
            asyncio.get_running_loop().create_task(self._finish_async(request, result))

    def _keep_alive(self, head: Request) -> bool:
        return head.keep_alive and not self.server.shutting_down

    def _write_response(self, head: Request, response: Response) -> None:
        keep = head.keep_alive and not self.server.shutting_down
        self.transport.write(response.encode(
            keep, head.method == "HEAD", self.server.date.line,
            keep and head.http_version == "1.0"))
        self._finished(keep)

    def _finished(self, keep: bool) -> None:
        self.requests_served += 1
        self.server.requests_served += 1
        if self.disconnect_waiters:
            self._wake_disconnect_waiters()
        if self.server.on_response is not None:
            self.server.on_response(self)
        if not keep:
            self.closing = True
            self.transport.close()
            return
        if self.parser.buffered:
            self.phase = _HEAD
            self.deadline = self.server.now + self.server.header_timeout
        else:
            self.phase = _IDLE
            self.deadline = self.server.now + self.server.keepalive_timeout

    async def _finish_async(self, request: HttpRequest, result: Any) -> None:
        head = request.head
        try:
            try:
                while asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await result
            except Exception as exc:
                result = self.server.on_error(request, exc)
            if self.closing:
                return
            if type(result) is Response:
                self.busy = False
                self._write_response(head, result)
            elif isinstance(result, StreamingResponse):
                await self._send_stream(head, result)
            elif hasattr(result, "send"):  # a FileResponse or any object that sends itself
                keep = self._keep_alive(head)
                await result.send(self, head, keep)
                keep = getattr(result, "keep", keep)  # an ASGI stream to HTTP/1.0 ends by closing
                self.busy = False
                self._finished(keep)
            else:
                raise TypeError(f"handler returned {type(result).__name__}, not a response")
        except (ConnectionError, asyncio.CancelledError):
            self.closing = True
            if self.transport is not None:
                self.transport.abort()
            return
        except Exception as exc:
            log.error("response failed for %r", request, exc_info=exc)
            self.closing = True
            self.transport.abort()
            return
        finally:
            self.busy = False
        if not self.closing:
            self._process()

    async def _send_stream(self, head: Request, resp: StreamingResponse) -> None:
        date = self.server.date.line
        fields = [(b"content-type", resp.content_type), *resp.headers]
        if head.http_version == "1.0":
            # No chunked coding in HTTP/1.0: the end of the body is the end of the connection.
            self.transport.write(serialize_response(resp.status, fields, keep_alive=False,
                                                    date_line=date, add_length=False))
            chunked, keep = False, False
        else:
            keep = self._keep_alive(head)
            self.transport.write(serialize_chunked_head(resp.status, fields, keep_alive=keep, date_line=date))
            chunked = True
        if head.method != "HEAD":
            chunks = resp.chunks
            if hasattr(chunks, "__aiter__"):
                async for piece in chunks:
                    self.transport.write(encode_chunk(piece) if chunked else piece)
                    await self.drain()
            else:
                for piece in chunks:
                    self.transport.write(encode_chunk(piece) if chunked else piece)
                    await self.drain()
            if chunked:
                self.transport.write(LAST_CHUNK)
        self.busy = False
        self._finished(keep)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a protocol error and close: the framing of what follows cannot be trusted."""
        self.server.refused += 1
        log.info("refused %s from %s: %s", status, self.peer, message)
        self.closing = True
        self.transport.write(error_response(status, message, self.server.date.line))
        self.transport.close()

    def check_deadline(self, now: float) -> None:
        if now < self.deadline or self.closing:
            return
        if self.phase == _IDLE or (self.phase == _HEAD and not self.parser.buffered):
            self.closing = True
            self.transport.close()  # idle keep-alive connection: close quietly
        elif self.phase in (_HEAD, _BODY):
            what = "request head" if self.phase == _HEAD else "request body"
            limit = self.server.header_timeout if self.phase == _HEAD else self.server.body_timeout
            self._refuse(408, f"{what} not received within {limit:g} s")


class HttpServer:
    """Serve ``app`` (a handler: ``HttpRequest -> Response | awaitable``) over HTTP/1.1.

    ``clock`` returns monotonic seconds (the event loop's clock by default);
    ``date_clock`` returns wall-clock seconds for the Date field.
    """

    def __init__(self, app: Callable[[HttpRequest], Any], *, limits: Limits | None = None,
                 header_timeout: float = 10.0, body_timeout: float = 30.0,
                 keepalive_timeout: float = 5.0, tick_s: float = 0.5,
                 clock: Callable[[], float] | None = None,
                 date_clock: Callable[[], float] = time.time,
                 on_error: Callable[[HttpRequest, BaseException], Response] = _internal_error) -> None:
        self.app = app
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
        self.now = 0.0
        self._server: asyncio.base_events.Server | None = None
        self._tick_handle: asyncio.TimerHandle | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, sock: Any = None,
                    backlog: int = 1024) -> tuple[str, int]:
        """Start listening; returns the bound (host, port) (port 0 asks the OS for one)."""
        loop = asyncio.get_running_loop()
        if self.clock is None:
            self.clock = loop.time
        self.now = self.clock()
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
        """Housekeeping: advance the cached clock, refresh Date, close overdue connections."""
        self.now = self.clock() if now is None else now
        self.date.refresh()
        for conn in list(self.connections):
            conn.check_deadline(self.now)

    async def shutdown(self, grace_s: float = 10.0) -> None:
        """Stop accepting, finish in-flight requests (up to ``grace_s``), then close all."""
        self.shutting_down = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if not conn.busy and conn.phase in (_IDLE, _HEAD) and not conn.parser.buffered:
                conn.closing = True
                conn.transport.close()
        deadline = time.monotonic() + grace_s
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.transport.abort()
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
