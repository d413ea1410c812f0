"""The native transport: the lab's binary frames (:mod:`.frames`) over one TCP connection.

What it mirrors: gRPC over HTTP/2 without HTTP: many calls multiplexed on one connection by
stream id (client streams are odd, as in HTTP/2), per-stream flow control counted in bytes as
HTTP/2's is, CANCEL as RST_STREAM, PING for keepalive, ERROR as GOAWAY.

Theory of operation. Both ends are ``asyncio.Protocol`` s: ``data_received`` hands the chunk
to :meth:`~.frames.Decoder.feed` and routes each event to its stream, so a slow handler or
reader never stalls the socket. Flow control: each side may have at most ``INITIAL_WINDOW``
bytes of unacknowledged DATA frames (header included) in flight per stream; a sender may
start a frame while its credit is positive (so a message larger than the window still goes,
one at a time), and the receiver returns credit with a WINDOW frame as its application
consumes messages (half a window at a time). A stream out of credit waits in ``send`` while
the others go on, so one slow consumer cannot starve the connection, and a stream's buffer
never holds more than a window and one message. When the socket's own buffer fills
(``pause_writing``) every sender waits for it to drain.

Writes are coalesced: frames go into one ``bytearray`` that is handed to the socket when the
event loop next runs its callbacks or as soon as it reaches ``FLUSH_AT`` bytes, so a burst of
stream messages costs one ``send`` per 64 KiB, not one per message, and the reader sees data
while the writer is still producing. A streaming handler's messages take the synchronous
:meth:`_ServerStream.send_nowait` path while credit lasts: no await per message.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from . import frames
from .compression import Codec, negotiate
from .dispatch import CallContext, Deadlines, Inbox, Listener, serve_call
from .errors import FrameError, MessageTooLarge, Metadata, RpcError, Status, StatusCode
from .service import Method

INITIAL_WINDOW = 256 * 1024  # bytes of DATA frames in flight per stream and direction
FLUSH_AT = 64 * 1024  # a write buffer this full goes to the socket at once
_DATA_HEADER = frames.HEADER.pack
_Data, _Messages = frames.Data, frames.Messages


class _Flow:
    """Send credit of one stream, in bytes."""

    __slots__ = ("credit", "waiter")

    def __init__(self) -> None:
        self.credit = INITIAL_WINDOW
        self.waiter: asyncio.Future[None] | None = None

    def grant(self, n: int) -> None:
        self.credit += n
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self) -> None:
        while self.credit <= 0:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None


class _Base(asyncio.Protocol):
    def __init__(self, max_frame_size: int) -> None:
        self.decoder = frames.Decoder(max_frame_size)
        self.transport: asyncio.Transport | None = None
        self._paused: asyncio.Future[None] | None = None
        self._out = bytearray()
        self._flush_pending = False
        self.closed = False
        self._loop = asyncio.get_running_loop()  # protocols are made by the running loop
        self.deadlines = Deadlines(self._loop)  # of every call on this connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        """Queue ``data``: it goes out with everything else queued in this event-loop iteration,
        or at once when the buffer reaches ``FLUSH_AT``."""
        if self.closed or self.transport is None:
            return
        self._out += data
        self._queued()

    def write_data(self, stream_id: int, payload: bytes, flags: int = 0) -> None:
        """:meth:`write` of one DATA frame, without building it as a separate ``bytes``."""
        if self.closed or self.transport is None:
            return
        out = self._out
        out += _DATA_HEADER(len(payload), stream_id, 2, flags)
        out += payload
        self._queued()

    def _queued(self) -> None:
        """Bytes were added to the buffer: send it now if full, else at the loop's next turn."""
        if len(self._out) >= FLUSH_AT:
            self._flush()
        elif not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        out = self._out
        if out and not self.closed and self.transport is not None:
            self._out = bytearray()  # the transport may keep a reference to the old one
            self.transport.write(out)

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
        try:
            events = self.decoder.feed(data)
        except FrameError as exc:
            self.write(frames.error(StatusCode.INTERNAL, str(exc)))
            self.abort(Status(StatusCode.INTERNAL, f"protocol error: {exc}"))
            return
        self.handle_all(events)

    def handle_all(self, events: list[Any]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def abort(self, status: Status) -> None:
        self._flush()
        if self.transport is not None:
            self.transport.close()
        self.closed = True


# -- server -----------------------------------------------------------------------------------

class _ServerStream:
    __slots__ = ("conn", "sid", "inbox", "flow", "consumed", "headers_sent", "task", "codec",
                 "ctx", "plain")

    def __init__(self, conn: ServerConnection, sid: int, codec: Codec | None,
                 ctx: CallContext) -> None:
        self.conn, self.sid = conn, sid
        self.inbox = Inbox()
        self.flow = _Flow()
        self.consumed = 0
        self.headers_sent = False
        self.plain = False  # headers sent and responses uncompressed: send_nowait may go
        self.task: asyncio.Task[None] | None = None
        self.codec = codec  # how the client compresses its messages (None: it does not)
        self.ctx = ctx  # ctx.compression: how we compress ours

    async def recv(self) -> bytes | None:
        item = await self.inbox.get()
        if item.__class__ is bytes:
            payload, compressed = item, False
        elif item.__class__ is _Data:
            payload, compressed = item.payload, item.compressed
        elif isinstance(item, Status):  # the stream failed while the handler read
            raise RpcError(item.code, item.message)
        else:
            return None  # the client's half-close
        self.consumed += len(payload) + frames.HEADER_SIZE
        if self.consumed >= INITIAL_WINDOW // 2:
            self.conn.write(frames.window(self.sid, self.consumed))
            self.conn._flush()  # now: a handler that never waits must not hold credit back
            self.consumed = 0
        if compressed:
            self.ctx.request_compressed = True
            return _decompress(self.codec, payload, self.conn.max_message)
        return payload

    def _open(self, headers: Metadata) -> None:
        self.headers_sent = True
        self.plain = self.ctx.compression is None
        if self.ctx.compression is not None:
            headers = ((frames.ENCODING_KEY, self.ctx.compression.name), *headers)
        if headers:
            self.conn.write(frames.headers(self.sid, "", None, headers))

    def send_nowait(self, payload: bytes, headers: Metadata) -> bool:
        """Write one response now when credit, socket and size allow; ``False``: use ``send``.
        (:meth:`_Base.write_data` inlined: this runs once per streamed message.)"""
        conn, flow, n = self.conn, self.flow, len(payload)
        if (flow.credit <= 0 or not self.plain or conn._paused is not None or conn.closed
                or n > conn.max_message):
            return False
        flow.credit -= n + 10
        out = conn._out
        out += _DATA_HEADER(n, self.sid, 2, 0)
        out += payload
        conn._queued()
        return True

    async def send(self, payload: bytes, headers: Metadata) -> None:
        conn = self.conn
        if not self.headers_sent:
            self._open(headers)
        if len(payload) > conn.max_message:
            raise MessageTooLarge(len(payload), conn.max_message, self.sid)
        flags = 0
        if self.ctx.compression is not None:
            payload, flags = self.ctx.compression.compress(payload), frames.COMPRESSED
        if self.flow.credit <= 0:
            await self.flow.wait()
        if conn._paused is not None:
            await conn.drain()
        self.flow.credit -= len(payload) + frames.HEADER_SIZE
        conn.write_data(self.sid, payload, flags)

    def finish(self, status: Status, headers: Metadata) -> None:
        if not self.headers_sent and headers:
            self._open(headers)
        self.conn.write(frames.end(self.sid, status))
        self.conn.streams.pop(self.sid, None)


def _decompress(codec: Codec | None, payload: bytes, limit: int) -> bytes:
    if codec is None:
        raise RpcError(StatusCode.INTERNAL, "compressed message on a stream without an encoding")
    return codec.decompress(payload, limit)


class ServerConnection(_Base):
    """One client connection of a :class:`NativeServer`."""

    def __init__(self, methods: dict[str, Method], max_frame_size: int,
                 compression: str | None = None) -> None:
        super().__init__(max_frame_size)
        self.methods = methods
        self.max_message = max_frame_size
        self.compression = compression
        self.streams: dict[int, _ServerStream] = {}
        self.peer = ""
        self.registry: set[ServerConnection] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""

    def handle_all(self, events: list[Any]) -> None:
        streams = self.streams
        for ev in events:
            if ev.__class__ is _Messages:  # request messages: straight into the inbox
                stream = streams.get(ev.stream_id)
                if stream is not None:
                    stream.inbox.items.extend(ev.payloads)
                    stream.inbox.put_done()
            elif ev.__class__ is _Data:
                stream = streams.get(ev.stream_id)
                if stream is not None:
                    stream.inbox.put(ev)
                    if ev.end_stream:
                        stream.inbox.put(None)
            else:
                self.handle(ev)

    def handle(self, ev: Any) -> None:
        cls = type(ev)
        if cls is frames.Headers:
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
        metadata, codec, reply, accepts = ev.metadata, None, None, frozenset()
        if metadata:
            try:
                metadata, codec, reply, accepts = negotiate(metadata, self.compression,
                                                            frames.ENCODING_KEY,
                                                            frames.ACCEPT_ENCODING_KEY)
            except RpcError as exc:
                self.write(frames.end(sid, exc.status))
                return
        loop = self._loop
        deadline = None if ev.timeout_s is None else loop.time() + ev.timeout_s
        ctx = CallContext(ev.method, metadata, deadline, self.peer)
        if accepts:
            ctx.accept_encodings, ctx.compression = accepts, reply
        stream = _ServerStream(self, sid, codec, ctx)
        self.streams[sid] = stream
        stream.task = loop.create_task(serve_call(method, stream, ctx, self.deadlines))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.deadlines.close()
        if self.registry is not None:
            self.registry.discard(self)
        for stream in self.streams.values():
            if stream.task is not None:
                stream.task.cancel()
        self.streams.clear()


class NativeServer(Listener):
    """Serves service instances over the native transport on ``host:port`` (0: any free port).

    ``compression`` (``gzip``, ``deflate`` or None) is what the server compresses responses
    with when the client accepts it; compressed requests are always understood.
    """

    def __init__(self, *servicers: object, host: str = "127.0.0.1", port: int = 0,
                 max_frame_size: int = frames.DEFAULT_MAX_FRAME,
                 compression: str | None = None) -> None:
        from .compression import codec_for
        from .service import methods_of
        super().__init__(host, port)
        self.methods = methods_of(*servicers)
        self.max_frame_size = max_frame_size
        self.compression = codec_for(compression).name if compression else None

    def _new_connection(self):
        return ServerConnection(self.methods, self.max_frame_size, self.compression)
