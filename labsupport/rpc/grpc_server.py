"""The gRPC transport, server side: the same services over HTTP/2, so grpcio clients can call them.

What it mirrors: a gRPC server per "PROTOCOL-HTTP2.md": a call is a POST to
``/package.Service/Method`` with ``content-type: application/grpc[+codec]``; the response is
HEADERS (``:status 200``, initial metadata), length-prefixed messages in DATA, and trailers
(``grpc-status``, ``grpc-message``, trailing metadata) in their own HEADERS frame that ends the
stream; a call that fails before any message may answer with trailers only. ``grpc-timeout``
sets the handler's deadline, RST_STREAM from the client cancels the handler.

Theory of operation. The ``h2`` state machine turns bytes into events; each request stream gets
a :class:`~.dispatch.Inbox` of request payloads (fed by a :class:`~.grpcwire.MessageReader`) and
a task running :func:`~.dispatch.serve_call`, exactly as on the native transport. The codec is
the service's own (``proto`` for the interop service); a request whose content-type names
another codec is refused with ``INTERNAL``, as grpc does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h2.events
import h2.exceptions

from . import grpcwire
from .compression import ACCEPT, accepted, codec_for, request_codec
from .dispatch import CallContext, Inbox, Listener, serve_call
from .errors import MessageTooLarge, Metadata, RpcError, Status, StatusCode
from .h2base import H2Protocol
from .service import Method, methods_of

_SUBTYPE = {"proto": "", "msgpack": "+msgpack", "json": "+json"}


class _Stream:
    __slots__ = ("conn", "sid", "inbox", "reader", "headers_sent", "task", "serializer", "ctx")

    def __init__(self, conn: GrpcServerConnection, sid: int, serializer: str,
                 max_message: int, ctx: CallContext) -> None:
        self.conn, self.sid, self.serializer, self.ctx = conn, sid, serializer, ctx
        self.inbox = Inbox()
        self.reader = grpcwire.MessageReader(max_message)
        self.headers_sent = False
        self.task: asyncio.Task[None] | None = None

    async def recv(self) -> bytes | None:
        item = await self.inbox.get()
        self.conn.consumed(self.sid, len(self.inbox.items))
        if isinstance(item, RpcError):
            raise item
        if self.reader.compressed:
            self.ctx.request_compressed = True
        return item

    def _headers(self, headers: Metadata) -> list[tuple[str, str]]:
        out = [(":status", "200"),
               ("content-type", f"application/grpc{_SUBTYPE[self.serializer]}"),
               ("grpc-accept-encoding", ACCEPT)]
        if self.ctx.compression is not None:
            out.append(("grpc-encoding", self.ctx.compression.name))
        return out + grpcwire.metadata_to_headers(headers)

    async def send(self, payload: bytes, headers: Metadata) -> None:
        conn = self.conn
        if len(payload) > conn.max_message:
            raise MessageTooLarge(len(payload), conn.max_message, self.sid)
        if not self.headers_sent:
            self.headers_sent = True
            conn.h2.send_headers(self.sid, self._headers(headers))
        await conn.send_data(self.sid, grpcwire.prefix(payload, self.ctx.compression))

    def send_nowait(self, payload: bytes, headers: Metadata) -> bool:
        return False  # h2's windows are checked in send_data, which may wait

    def finish(self, status: Status, headers: Metadata) -> None:
        conn = self.conn
        if conn.streams.pop(self.sid, None) is None or conn.closed:
            return
        try:
            trailers = grpcwire.status_headers(status)
            if not self.headers_sent:  # trailers-only response
                conn.h2.send_headers(self.sid, self._headers(headers) + trailers, end_stream=True)
            else:
                conn.h2.send_headers(self.sid, trailers, end_stream=True)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass  # the client reset the stream first
        conn.forget(self.sid)
        conn.flush()


class GrpcServerConnection(H2Protocol):
    def __init__(self, methods: dict[str, Method], max_message: int,
                 compression: str | None = None) -> None:
        super().__init__(client_side=False)
        self.methods = methods
        self.max_message = max_message
        self.compression = compression
        self.streams: dict[int, _Stream] = {}
        self.registry: set[GrpcServerConnection] | None = None

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush_now()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._event(event)
        self.flush()

    def _event(self, event: Any) -> None:
        if isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is None:
                self._ack(event.stream_id, event.flow_controlled_length)
                return
            try:
                for payload in stream.reader.feed(event.data):
                    stream.inbox.put(payload)
            except RpcError as exc:
                stream.inbox.put(exc)
                if stream.task is not None and isinstance(exc, MessageTooLarge):
                    stream.task.cancel()
                    stream.finish(exc.status, ())
            self.received(event, len(stream.inbox.items))
        elif isinstance(event, h2.events.RequestReceived):
            self._start(event.stream_id, event.headers, event.stream_ended)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.inbox.put(None)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.pop(event.stream_id, None)
            self.forget(event.stream_id)
            if stream is not None and stream.task is not None:
                stream.task.cancel()
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.window_event(event)
        elif isinstance(event, h2.events.ConnectionTerminated) and self.transport is not None:
            self.transport.close()

    def _refuse(self, sid: int, code: StatusCode, message: str) -> None:
        self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc"),
                                   ("grpc-accept-encoding", ACCEPT),
                                   *grpcwire.status_headers(Status(code, message))],
                             end_stream=True)

    def _start(self, sid: int, headers: list[tuple[str, str]], ended: bool) -> None:
        fields = dict(headers)
        path = fields.get(":path", "")
        ctype = fields.get("content-type", "")
        if not ctype.startswith("application/grpc"):
            self.h2.send_headers(sid, [(":status", "415")], end_stream=True)
            return
        method = self.methods.get(path)
        if method is None:
            self._refuse(sid, StatusCode.UNIMPLEMENTED, f"method {path} not found")
            return
        subtype = ctype[len("application/grpc"):]
        if subtype not in ("", _SUBTYPE[method.serializer]) or (
                subtype == "" and method.serializer != "proto"):
            self._refuse(sid, StatusCode.INTERNAL,
                         f"content-type {ctype} does not match the service's {method.serializer}")
            return
        try:
            timeout = (grpcwire.decode_timeout(fields["grpc-timeout"])
                       if "grpc-timeout" in fields else None)
            metadata = grpcwire.headers_to_metadata(headers)
            codec = request_codec(fields.get("grpc-encoding"))
        except RpcError as exc:
            self._refuse(sid, exc.code, exc.message)
            return
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        peer = self.transport.get_extra_info("peername") if self.transport else None
        ctx = CallContext(path, metadata, deadline, f"{peer[0]}:{peer[1]}" if peer else "")
        ctx.accept_encodings = accepted(fields.get("grpc-accept-encoding"))
        if self.compression in ctx.accept_encodings:
            ctx.compression = codec_for(self.compression)
        stream = _Stream(self, sid, method.serializer, self.max_message, ctx)
        stream.reader.codec = codec
        self.streams[sid] = stream
        stream.task = loop.create_task(serve_call(method, stream, ctx))

    def connection_lost(self, exc: BaseException | None) -> None:
        super().connection_lost(exc)
        if self.registry is not None:
            self.registry.discard(self)
        for stream in self.streams.values():
            if stream.task is not None:
                stream.task.cancel()
        self.streams.clear()


class GrpcServer(Listener):
    """Serves service instances over HTTP/2 in gRPC's wire format on ``host:port``.

    ``compression`` (``gzip``, ``deflate`` or None) compresses responses to every client that
    lists it in ``grpc-accept-encoding`` (a handler may choose per call with
    ``ctx.set_compression``); compressed requests are always understood.
    """

    def __init__(self, *servicers: object, host: str = "127.0.0.1", port: int = 0,
                 max_message: int = grpcwire.DEFAULT_MAX_MESSAGE,
                 compression: str | None = None) -> None:
        super().__init__(host, port)
        self.methods = methods_of(*servicers)
        self.max_message = max_message
        self.compression = codec_for(compression).name if compression else None

    def _new_connection(self):
        return GrpcServerConnection(self.methods, self.max_message, self.compression)
