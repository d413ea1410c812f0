"""The gRPC transport, client side: our :class:`~.client.Channel` calling any gRPC server.

What it mirrors: a gRPC client per "PROTOCOL-HTTP2.md": each call is a new HTTP/2 stream (odd
ids) opened with ``:method POST``, ``:scheme http``, ``:path /package.Service/Method``,
``te: trailers``, ``content-type: application/grpc[+codec]`` and ``grpc-timeout``;
messages go out length-prefixed, split to the peer's frame size and window; the status is
read from the trailers (or from a trailers-only response); cancelling sends RST_STREAM
with CANCEL.

Theory of operation. ``h2`` events become the stream inbox events of :mod:`.client`:
ResponseReceived is ``("h", metadata)`` (or the end, for trailers-only), each complete message
is its payload (``bytes``), TrailersReceived is ``("e", status)``; a reset stream ends ``CANCELLED``
(or the mapped HTTP/2 error), a lost connection ends every stream ``UNAVAILABLE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import h2.errors
import h2.events
import h2.exceptions

from . import grpcwire
from .compression import ACCEPT, Codec, request_codec
from .dispatch import Inbox
from .errors import Metadata, RpcError, Status, StatusCode
from .h2base import H2Protocol

_SUBTYPE = {"proto": "", "msgpack": "+msgpack", "json": "+json"}


class _Stream:
    __slots__ = ("conn", "sid", "inbox", "reader", "done", "codec")

    def __init__(self, conn: GrpcClientConnection, sid: int, max_message: int,
                 codec: Codec | None = None) -> None:
        self.conn, self.sid = conn, sid
        self.inbox = _AckInbox(self)
        self.reader = grpcwire.MessageReader(max_message)
        self.done = False
        self.codec = codec  # our requests' grpc-encoding

    async def send(self, payload: bytes, end: bool = False) -> None:
        if self.done:
            raise RpcError(StatusCode.CANCELLED, "the call has ended")
        await self.conn.send_data(self.sid, grpcwire.prefix(payload, self.codec), end=end)

    def end(self) -> None:
        if not self.done:
            try:
                self.conn.h2.end_stream(self.sid)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                return
            self.conn.flush()

    def cancel(self) -> None:
        if not self.done:
            self.done = True
            self.conn.streams.pop(self.sid, None)
            with contextlib.suppress(h2.exceptions.StreamClosedError,
                                     h2.exceptions.ProtocolError):  # it ended meanwhile
                self.conn.h2.reset_stream(self.sid, h2.errors.ErrorCodes.CANCEL)
            self.conn.forget(self.sid)
            self.conn.flush()

    def fail(self, status: Status) -> None:
        if not self.done:
            self.done = True
            self.inbox.put(("e", status))
            self.conn.streams.pop(self.sid, None)
            self.conn.forget(self.sid)


class _AckInbox(Inbox):
    __slots__ = ("stream",)

    def __init__(self, stream: _Stream) -> None:
        super().__init__(0)  # credit() on every message: h2base decides from the backlog
        self.stream = stream

    def credit(self) -> None:
        self.consumed = 0
        self.stream.conn.consumed(self.stream.sid, len(self.items))

    def take(self) -> Any:
        item = self.items.popleft()
        self.credit()
        return item


class GrpcClientConnection(H2Protocol):
    def __init__(self, authority: str, max_message: int) -> None:
        super().__init__(client_side=True)
        self.authority = authority
        self.max_message = max_message
        self.streams: dict[int, _Stream] = {}
        self._pings: dict[bytes, asyncio.Future[float]] = {}
        self._keepalive: asyncio.Task[None] | None = None

    async def ping(self, timeout_s: float = 5.0) -> float:
        """Round-trip time of one HTTP/2 PING; no answer in time fails the connection."""
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, "connection closed")
        loop = asyncio.get_running_loop()
        payload = os.urandom(8)
        fut = self._pings[payload] = loop.create_future()
        start = loop.time()
        self.h2.ping(payload)
        self.flush()
        try:
            async with asyncio.timeout(timeout_s):
                return await fut - start
        except TimeoutError:
            self._fail_all(Status(StatusCode.UNAVAILABLE, "keepalive ping timed out"))
            if self.transport is not None:
                self.transport.abort()
            raise RpcError(StatusCode.UNAVAILABLE, "keepalive ping timed out") from None

    def start_keepalive(self, interval_s: float, timeout_s: float) -> None:
        """Ping every ``interval_s`` (gRPC's keepalive: ``GRPC_ARG_KEEPALIVE_TIME_MS``)."""
        async def pinger() -> None:
            with contextlib.suppress(RpcError):  # ping() already failed the connection
                while not self.closed:
                    await asyncio.sleep(interval_s)
                    await self.ping(timeout_s)

        self._keepalive = asyncio.get_running_loop().create_task(pinger())

    def open_stream(self, path: str, timeout_s: float | None, metadata: Metadata,
                    serializer: str, compression: Codec | None = None,
                    accept_compression: bool = True) -> _Stream:
        """``compression``: our requests' encoding; we always accept compressed responses."""
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, "connection closed")
        sid = self.h2.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path),
                   (":authority", self.authority), ("te", "trailers"),
                   ("content-type", f"application/grpc{_SUBTYPE[serializer]}"),
                   ("grpc-accept-encoding", ACCEPT)]
        if compression is not None:
            headers.append(("grpc-encoding", compression.name))
        if timeout_s is not None:
            headers.append(("grpc-timeout", grpcwire.encode_timeout(timeout_s)))
        headers += grpcwire.metadata_to_headers(metadata)
        self.h2.send_headers(sid, headers)
        stream = self.streams[sid] = _Stream(self, sid, self.max_message, compression)
        return stream  # the HEADERS go out with the first message (flushed by send_data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail_all(Status(StatusCode.UNAVAILABLE, f"HTTP/2 protocol error: {exc}"))
            self.flush_now()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._event(event)
        self.flush()

    def _event(self, event: Any) -> None:
        sid = getattr(event, "stream_id", 0)
        stream = self.streams.get(sid) if sid else None
        if isinstance(event, h2.events.DataReceived):
            if stream is None:
                self._ack(sid, event.flow_controlled_length)
                return
            try:
                for payload in stream.reader.feed(event.data):
                    stream.inbox.put(payload)
            except RpcError as exc:
                stream.cancel()
                stream.done = False
                stream.fail(exc.status)
                return
            self.received(event, len(stream.inbox.items))
        elif isinstance(event, h2.events.ResponseReceived) and stream is not None:
            fields = dict(event.headers)
            if fields.get(":status") != "200":
                code = grpcwire.http_status_code(int(fields.get(":status", "0")))
                stream.fail(Status(code, f"HTTP status {fields.get(':status')}"))
                return
            status = grpcwire.status_from_headers(event.headers)
            if status is not None:  # trailers-only
                stream.fail(status)
                return
            try:
                stream.reader.codec = request_codec(fields.get("grpc-encoding"))
            except RpcError as exc:
                stream.cancel()
                stream.done = False
                stream.fail(Status(StatusCode.INTERNAL, exc.message))
                return
            stream.inbox.put(("h", grpcwire.headers_to_metadata(event.headers)))
        elif isinstance(event, h2.events.TrailersReceived) and stream is not None:
            status = grpcwire.status_from_headers(event.headers) or Status(
                StatusCode.INTERNAL, "trailers without grpc-status")
            if status.ok and stream.reader.partial:
                status = Status(StatusCode.INTERNAL, "stream ended inside a message")
            stream.fail(status)
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            stream.fail(Status(StatusCode.INTERNAL, "stream ended without trailers"))
        elif isinstance(event, h2.events.StreamReset) and stream is not None:
            code = (StatusCode.CANCELLED if event.error_code == h2.errors.ErrorCodes.CANCEL
                    else StatusCode.UNAVAILABLE if event.error_code
                    == h2.errors.ErrorCodes.REFUSED_STREAM else StatusCode.INTERNAL)
            stream.fail(Status(code, f"stream reset by the server ({event.error_code!s})"))
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.window_event(event)
        elif isinstance(event, h2.events.PingAckReceived):
            fut = self._pings.pop(event.ping_data, None)
            if fut is not None and not fut.done():
                fut.set_result(asyncio.get_running_loop().time())
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._fail_all(Status(StatusCode.UNAVAILABLE, "the server closed the connection"))
            if self.transport is not None:
                self.transport.close()

    def _fail_all(self, status: Status) -> None:
        self.closed = True
        for stream in list(self.streams.values()):
            stream.fail(status)
        if self._keepalive is not None and self._keepalive is not asyncio.current_task():
            self._keepalive.cancel()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(RpcError(status.code, status.message))
        self._pings.clear()

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        why = f": {exc}" if exc else ""
        self._fail_all(Status(StatusCode.UNAVAILABLE, f"connection lost{why}"))

    async def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self.transport is not None and not self.closed:
            self.flush_now()
            self.closed = True
            self.transport.close()


async def connect(host: str, port: int, max_frame_size: int | None = None
                  ) -> GrpcClientConnection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        lambda: GrpcClientConnection(f"{host}:{port}",
                                     max_frame_size or grpcwire.DEFAULT_MAX_MESSAGE), host, port)
    return conn
