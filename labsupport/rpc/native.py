"""The native transport: the lab's binary frames (:mod:`.frames`) over one TCP connection.

What it mirrors: gRPC over HTTP/2 without HTTP: many calls multiplexed on one connection by
stream id (client streams are odd, as in HTTP/2), per-stream flow control, CANCEL as
RST_STREAM, PING for keepalive, ERROR as GOAWAY.

Theory of operation. Both ends are ``asyncio.Protocol`` s: ``data_received`` feeds the sans-IO
:class:`~.frames.Decoder` and routes each event to its stream, so a slow handler or reader
never stalls the socket. Flow control counts messages: each side may have at most
``INITIAL_WINDOW`` unacknowledged messages in flight per stream, and the receiver returns
credit with a WINDOW frame as its application consumes them (half a window at a time). A
stream out of credit waits in ``send`` while the others go on, so one slow consumer cannot
starve the connection, and a stream's buffer never holds more than a window of messages.
When the socket's own buffer fills (``pause_writing``) every sender waits for it to drain.
Frames written in one event-loop iteration are joined and sent together (one ``send`` for a
burst of responses instead of one per frame).
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import frames
from .dispatch import CallContext, Inbox, Listener, serve_call
from .errors import FrameError, MessageTooLarge, Metadata, RpcError, Status, StatusCode
from .service import Method

INITIAL_WINDOW = 256  # messages in flight per stream and direction


class _Flow:
    """Send credit of one stream, and the connection's write-buffer state."""

    __slots__ = ("credit", "waiter")

    def __init__(self) -> None:
        self.credit = INITIAL_WINDOW
        self.waiter: asyncio.Future[None] | None = None

    def grant(self, n: int) -> None:
        self.credit += n
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def take(self) -> None:
        while self.credit <= 0:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        self.credit -= 1


class _Base(asyncio.Protocol):
    def __init__(self, max_frame_size: int) -> None:
        self.decoder = frames.Decoder(max_frame_size)
        self.transport: asyncio.Transport | None = None
        self._paused: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        """Queue ``data``; everything queued in one event-loop iteration goes out in one send."""
        if self.closed or self.transport is None:
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self.closed and self.transport is not None:
            self.transport.write(b"".join(out))

    def pause_writing(self) -> None:
        self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self._paused = None

    async def drain(self) -> None:
        if self._paused is not None:
            await self._paused

    def data_received(self, data: bytes) -> None:
        self.decoder.receive_data(data)
        try:
            for event in self.decoder:
                self.handle(event)
        except FrameError as exc:
            self.write(frames.error(StatusCode.INTERNAL, str(exc)))
            self.abort(Status(StatusCode.INTERNAL, f"protocol error: {exc}"))

    def abort(self, status: Status) -> None:
        self._flush()
        if self.transport is not None:
            self.transport.close()
        self.closed = True

    def handle(self, event: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


# -- server -----------------------------------------------------------------------------------

class _ServerStream:
    __slots__ = ("conn", "sid", "inbox", "flow", "consumed", "headers_sent", "task")

    def __init__(self, conn: ServerConnection, sid: int) -> None:
        self.conn, self.sid = conn, sid
        self.inbox = Inbox()
        self.flow = _Flow()
        self.consumed = 0
        self.headers_sent = False
        self.task: asyncio.Task[None] | None = None

    async def recv(self) -> bytes | None:
        item = await self.inbox.get()
        if isinstance(item, Status):  # the stream failed while the handler read
            raise RpcError(item.code, item.message)
        if item is not None:
            self.consumed += 1
            if self.consumed >= INITIAL_WINDOW // 2:
                self.conn.write(frames.window(self.sid, self.consumed))
                self.consumed = 0
        return item

    async def send(self, payload: bytes, headers: Metadata) -> None:
        conn = self.conn
        if not self.headers_sent:
            self.headers_sent = True
            if headers:
                conn.write(frames.headers(self.sid, "", None, headers))
        if self.flow.credit <= 0:
            await self.flow.take()
        else:
            self.flow.credit -= 1
        if conn._paused is not None:
            await conn.drain()
        if len(payload) > conn.max_message:
            raise MessageTooLarge(len(payload), conn.max_message, self.sid)
        conn.write(frames.data(self.sid, payload))

    def finish(self, status: Status, headers: Metadata) -> None:
        if not self.headers_sent and headers:
            self.conn.write(frames.headers(self.sid, "", None, headers))
        self.conn.write(frames.end(self.sid, status))
        self.conn.streams.pop(self.sid, None)


class ServerConnection(_Base):
    """One client connection of a :class:`NativeServer`."""

    def __init__(self, methods: dict[str, Method], max_frame_size: int) -> None:
        super().__init__(max_frame_size)
        self.methods = methods
        self.max_message = max_frame_size
        self.streams: dict[int, _ServerStream] = {}
        self.peer = ""
        self.registry: set[ServerConnection] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""

    def handle(self, ev: Any) -> None:
        cls = type(ev)
        if cls is frames.Data:
            stream = self.streams.get(ev.stream_id)
            if stream is not None:
                stream.inbox.put(ev.payload)
                if ev.end_stream:
                    stream.inbox.put(None)
        elif cls is frames.Headers:
            self._start(ev)
        elif cls is frames.End:
            stream = self.streams.get(ev.stream_id)
            if stream is not None:
                stream.inbox.put(None)
        elif cls is frames.Cancel:
            stream = self.streams.pop(ev.stream_id, None)
            if stream is not None and stream.task is not None:
                stream.task.cancel()
        elif cls is frames.Window:
            stream = self.streams.get(ev.stream_id)
            if stream is not None:
                stream.flow.grant(ev.increment)
        elif cls is frames.Ping:
            if not ev.ack:
                self.write(frames.ping(ev.payload, ack=True))
        elif cls is frames.Oversized:
            status = Status(StatusCode.RESOURCE_EXHAUSTED,
                            f"message of {ev.size} bytes over the limit of {ev.limit}")
            stream = self.streams.pop(ev.stream_id, None)
            if stream is not None and stream.task is not None:
                stream.task.cancel()
            if ev.stream_id:
                self.write(frames.end(ev.stream_id, status))
        elif cls is frames.ConnectionError_:
            self.abort(Status(ev.code, ev.message))

    def _start(self, ev: frames.Headers) -> None:
        sid = ev.stream_id
        method = self.methods.get(ev.method)
        if method is None:
            self.write(frames.end(sid, Status(StatusCode.UNIMPLEMENTED,
                                              f"method {ev.method} not found")))
            return
        loop = asyncio.get_running_loop()
        deadline = None if ev.timeout_s is None else loop.time() + ev.timeout_s
        stream = _ServerStream(self, sid)
        self.streams[sid] = stream
        ctx = CallContext(ev.method, ev.metadata, deadline, self.peer)
        stream.task = loop.create_task(serve_call(method, stream, ctx))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        if self.registry is not None:
            self.registry.discard(self)
        for stream in self.streams.values():
            if stream.task is not None:
                stream.task.cancel()
        self.streams.clear()


class NativeServer(Listener):
    """Serves service instances over the native transport on ``host:port`` (0: any free port)."""

    def __init__(self, *servicers: object, host: str = "127.0.0.1", port: int = 0,
                 max_frame_size: int = frames.DEFAULT_MAX_FRAME) -> None:
        from .service import methods_of
        super().__init__(host, port)
        self.methods = methods_of(*servicers)
        self.max_frame_size = max_frame_size

    def _new_connection(self):
        return ServerConnection(self.methods, self.max_frame_size)
