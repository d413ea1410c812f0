"""The client end of the native transport: streams opened on one connection, keepalive pings.

What it mirrors: an HTTP/2 client connection as gRPC uses it: odd stream ids from 1 upwards,
a call's HEADERS and its first message written in one ``write`` (one segment for a unary
call), WINDOW frames returning credit as responses are consumed, PING for liveness.

Theory of operation. ``data_received`` decodes frames and puts events in the inbox of the
stream they name (see :mod:`.client`); a run of DATA frames (one :class:`~.frames.Messages`)
goes into the inbox's deque with one ``extend`` and one wake-up of its reader. END removes the stream. With
compression on, requests are compressed with the channel's codec (named in the call's
``grpc-encoding``, and ``grpc-accept-encoding`` says what we read); a response stream whose
HEADERS name an encoding has its compressed messages inflated as they are taken. An oversized
response fails its stream with ``RESOURCE_EXHAUSTED`` (the decoder skipped its bytes). A lost
connection or an ERROR frame ends every open stream with ``UNAVAILABLE`` and marks the
connection closed, so the channel opens a new one for the next call. With keepalive on, a PING
every interval that is not answered in time does the same: a silent peer (a black hole, a
crashed host) is found even when no call is waiting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from . import frames
from .compression import ACCEPT, Codec, request_codec
from .dispatch import Inbox
from .errors import Metadata, RpcError, Status, StatusCode
from .native import INITIAL_WINDOW, _Base, _Flow

_Data, _Messages = frames.Data, frames.Messages


class _Stream:
    __slots__ = ("conn", "sid", "inbox", "flow", "pending", "done", "codec", "reply_codec")

    def __init__(self, conn: NativeClientConnection, sid: int, pending: bytes,
                 codec: Codec | None) -> None:
        self.conn, self.sid = conn, sid
        self.inbox = _CreditInbox(self)
        self.flow = _Flow()
        self.pending = pending  # the HEADERS frame, written with the first message
        self.done = False
        self.codec = codec  # how our requests are compressed
        self.reply_codec: Codec | None = None  # how the server's responses are

    def _flush(self, data: bytes = b"") -> None:
        if self.pending:
            data, self.pending = self.pending + data, b""
        if data:
            self.conn.write(data)

    async def send(self, payload: bytes, end: bool = False) -> None:
        if self.done:
            raise RpcError(StatusCode.CANCELLED, "the call has ended")
        conn = self.conn
        if len(payload) > conn.max_message:
            self.cancel()
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                           f"request of {len(payload)} bytes over the limit of {conn.max_message}")
        if self.flow.credit <= 0:
            await self.flow.wait()
        if conn._paused is not None:
            await conn.drain()
        compressed = self.codec is not None
        if compressed:
            payload = self.codec.compress(payload)
        self.flow.credit -= len(payload) + frames.HEADER_SIZE
        self._flush(frames.data(self.sid, payload, end_stream=end, compressed=compressed))

    def end(self) -> None:
        if not self.done:
            self._flush(frames.end(self.sid))

    def cancel(self) -> None:
        if not self.done:
            self.done = True
            if self.pending:  # never sent: nothing to cancel on the wire
                self.pending = b""
            else:
                self.conn.write(frames.cancel(self.sid))
            self.conn.streams.pop(self.sid, None)


class _CreditInbox(Inbox):
    """An inbox that returns flow-control credit (WINDOW frames) as messages are taken out,
    and inflates the compressed ones (kind ``"z"``)."""

    __slots__ = ("stream",)

    def __init__(self, stream: _Stream) -> None:
        super().__init__(INITIAL_WINDOW // 2)
        self.stream = stream

    def credit(self) -> None:
        s = self.stream
        if not s.done:
            s.conn.write(frames.window(s.sid, self.consumed))
            s.conn._flush()  # now: a reader that never waits must not hold credit back
        self.consumed = 0

    def take(self) -> Any:
        item = super().take()
        if item.__class__ is tuple and item[0] == "z":
            s = self.stream
            self.consumed += len(item[1]) + frames.HEADER_SIZE
            if self.consumed >= self.credit_at:
                self.credit()
            if s.reply_codec is None:
                s.cancel()
                raise RpcError(StatusCode.INTERNAL, "compressed response without an encoding")
            try:
                return s.reply_codec.decompress(item[1], s.conn.max_message)
            except RpcError:
                s.cancel()
                raise
        return item


class NativeClientConnection(_Base):
    def __init__(self, max_frame_size: int) -> None:
        super().__init__(max_frame_size)
        self.max_message = max_frame_size
        self.streams: dict[int, _Stream] = {}
        self._next_id = 1
        self._pings: dict[bytes, asyncio.Future[float]] = {}
        self.lost = asyncio.get_running_loop().create_future()
        self._keepalive: asyncio.Task[None] | None = None

    def start_keepalive(self, interval_s: float, timeout_s: float) -> None:
        """Ping every ``interval_s``; no answer within ``timeout_s`` fails every stream UNAVAILABLE."""
        async def pinger() -> None:
            while not self.closed:
                await asyncio.sleep(interval_s)
                await self.ping(timeout_s)

        async def guarded() -> None:
            with contextlib.suppress(RpcError):  # ping() already failed the connection
                await pinger()

        self._keepalive = asyncio.get_running_loop().create_task(guarded())

    def open_stream(self, path: str, timeout_s: float | None, metadata: Metadata,
                    serializer: str, compression: Codec | None = None,
                    accept_compression: bool = False) -> _Stream:
        """``compression``: compress requests with it; ``accept_compression``: tell the server
        it may compress responses (always, when ``compression`` is set)."""
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, "connection closed")
        sid = self._next_id
        self._next_id += 2
        if compression is not None or accept_compression:
            extra = ((frames.ACCEPT_ENCODING_KEY, ACCEPT),)
            if compression is not None:
                extra = ((frames.ENCODING_KEY, compression.name), *extra)
            metadata = (*extra, *metadata)
        stream = _Stream(self, sid, frames.headers(sid, path, timeout_s, metadata), compression)
        self.streams[sid] = stream
        return stream

    def handle_all(self, events: list[Any]) -> None:
        streams = self.streams
        last = None
        for ev in events:
            if ev.__class__ is _Messages:  # responses: straight into the inbox's deque
                stream = streams.get(ev.stream_id)
                if stream is not None:
                    if stream is not last:
                        if last is not None:
                            last.inbox.put_done()
                        last = stream
                    stream.inbox.items.extend(ev.payloads)
            elif ev.__class__ is _Data:  # one with flags: compressed
                stream = streams.get(ev.stream_id)
                if stream is not None:
                    stream.inbox.put(("z", ev.payload) if ev.compressed else ev.payload)
            else:
                if last is not None:
                    last.inbox.put_done()
                    last = None
                self.handle(ev)
        if last is not None:
            last.inbox.put_done()

    def handle(self, ev: Any) -> None:
        cls = type(ev)
        if cls is frames.End:
            stream = self.streams.pop(ev.stream_id, None)
            if stream is not None:
                stream.done = True
                stream.inbox.put(("e", ev.status or Status()))
        elif cls is frames.Headers:
            stream = self.streams.get(ev.stream_id)
            if stream is not None:
                metadata = ev.metadata
                if metadata and metadata[0][0] == frames.ENCODING_KEY:
                    try:
                        stream.reply_codec = request_codec(str(metadata[0][1]))
                    except RpcError as exc:
                        stream.cancel()
                        stream.inbox.put(("e", Status(StatusCode.INTERNAL, exc.message)))
                        return
                    metadata = metadata[1:]
                stream.inbox.put(("h", metadata))
        elif cls is frames.Window:
            stream = self.streams.get(ev.stream_id)
            if stream is not None:
                stream.flow.grant(ev.increment)
        elif cls is frames.Ping:
            if ev.ack:
                fut = self._pings.pop(ev.payload, None)
                if fut is not None and not fut.done():
                    fut.set_result(asyncio.get_running_loop().time())
            else:
                self.write(frames.ping(ev.payload, ack=True))
        elif cls is frames.Oversized:
            stream = self.streams.get(ev.stream_id)
            if stream is not None:
                stream.cancel()
                stream.inbox.put(("e", Status(StatusCode.RESOURCE_EXHAUSTED,
                                              f"response of {ev.size} bytes over the limit of "
                                              f"{ev.limit}")))
        elif cls is frames.ConnectionError_:
            self.abort(Status(StatusCode.UNAVAILABLE, f"server closed: {ev.message}"))

    def abort(self, status: Status) -> None:
        super().abort(status)
        self._fail_all(status)

    def _fail_all(self, status: Status) -> None:
        self.closed = True
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()
        for stream in self.streams.values():
            stream.done = True
            stream.inbox.put(("e", status))
        self.streams.clear()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(RpcError(status.code, status.message))
        self._pings.clear()
        if not self.lost.done():
            self.lost.set_result(None)

    def connection_lost(self, exc: BaseException | None) -> None:
        why = f": {exc}" if exc else ""
        self._fail_all(Status(StatusCode.UNAVAILABLE, f"connection lost{why}"))

    async def ping(self, timeout_s: float = 5.0) -> float:
        """Round-trip time of one PING, in seconds (keepalive: a dead peer raises UNAVAILABLE)."""
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, "connection closed")
        loop = asyncio.get_running_loop()
        payload = os.urandom(8)
        fut = self._pings[payload] = loop.create_future()
        start = loop.time()
        self.write(frames.ping(payload))
        try:
            async with asyncio.timeout(timeout_s):
                return await fut - start
        except TimeoutError:
            self.abort(Status(StatusCode.UNAVAILABLE, "keepalive ping timed out"))
            raise RpcError(StatusCode.UNAVAILABLE, "keepalive ping timed out") from None

    async def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self.transport is not None and not self.closed:
            self._flush()
            self.transport.close()
        self.closed = True


async def connect(host: str, port: int, max_frame_size: int | None = None
                  ) -> NativeClientConnection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        lambda: NativeClientConnection(max_frame_size or frames.DEFAULT_MAX_FRAME), host, port)
    return conn
