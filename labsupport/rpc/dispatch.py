"""What both transports share: the call context, a stream's inbox and the server's call runner.

What it mirrors: grpcio's ``ServicerContext`` (invocation metadata, deadline, trailing
metadata, abort) and the part of a gRPC server between the transport and the handler: decode
the request(s), run the handler under the call's deadline, encode the response(s), turn the
outcome into one status.

Theory of operation. A transport hands :func:`serve_call` a :class:`ServerStream`: ``recv()``
returns the next request payload or ``None`` after the client's half-close, ``send()`` writes
one response payload (waiting for flow-control credit), ``finish()`` writes the status. The
handler runs inside ``asyncio.timeout_at(deadline)``, so a deadline that passes cancels it
where it awaits and the call ends ``DEADLINE_EXCEEDED``; the transport cancels the task when
the client sends CANCEL (or RST_STREAM), and the handler sees ``CancelledError``. An
:class:`~.errors.RpcError` picks the status; any other exception is ``INTERNAL`` with its text,
and the connection serves on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, NoReturn, Protocol

from .errors import Metadata, RpcError, Status, StatusCode
from .serializers import Serializer, get_serializer
from .service import Method


class Inbox:
    """A deque with one waiter: cheaper than ``asyncio.Queue`` for the one consumer a stream has."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()


class CallContext:
    """What a handler knows about its call, and how it sets metadata and status."""

    def __init__(self, method: str, metadata: Metadata, deadline: float | None,
                 peer: str = "") -> None:
        self.method = method
        self.invocation_metadata = metadata
        self.deadline = deadline  # event-loop time, or None
        self.peer = peer
        self.initial_metadata: list[tuple[str, str | bytes]] = []  # sent before the first response
        self.trailers: list[tuple[str, str | bytes]] = []

    def metadata(self, key: str, default: Any = None) -> Any:
        """The first invocation metadata value under ``key``."""
        for k, v in self.invocation_metadata:
            if k == key:
                return v
        return default

    def time_remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def abort(self, code: StatusCode, message: str = "") -> NoReturn:
        raise RpcError(code, message)


class ServerStream(Protocol):
    async def recv(self) -> bytes | None: ...

    async def send(self, payload: bytes, headers: Metadata) -> None: ...

    def finish(self, status: Status, headers: Metadata) -> None: ...


_SERIALIZERS: dict[str, Serializer] = {}


def serializer_for(name: str) -> Serializer:
    ser = _SERIALIZERS.get(name)
    if ser is None:
        ser = _SERIALIZERS[name] = get_serializer(name)
    return ser


async def _requests(stream: ServerStream, ser: Serializer, cls: Any) -> AsyncIterator[Any]:
    while (payload := await stream.recv()) is not None:
        yield ser.decode(payload, cls)


async def serve_call(method: Method, stream: ServerStream, ctx: CallContext) -> None:
    """Run one call to the end and finish the stream with its status (see module docstring)."""
    spec = method.spec
    ser = serializer_for(method.serializer)
    headers = ctx.initial_metadata
    try:
        async with asyncio.timeout_at(ctx.deadline):
            if spec.kind.streams_requests:
                request: Any = _requests(stream, ser, spec.request_type)
            else:
                payload = await stream.recv()
                if payload is None:
                    raise RpcError(StatusCode.INTERNAL, "no request message")
                request = ser.decode(payload, spec.request_type)
            result = method.handler(request, ctx)
            if spec.kind.streams_responses:
                async for item in result:
                    await stream.send(ser.encode(item), headers)
            else:
                await stream.send(ser.encode(await result), headers)
        status = Status(StatusCode.OK, "", tuple(ctx.trailers))
    except TimeoutError:
        status = Status(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded", tuple(ctx.trailers))
    except RpcError as exc:
        status = Status(exc.code, exc.message, tuple(ctx.trailers) + exc.trailers)
    except Exception as exc:  # a handler's bug: the caller gets INTERNAL, the server serves on
        status = Status(StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}", tuple(ctx.trailers))
    stream.finish(status, tuple(headers))


class Listener:
    """The TCP side both transports' servers share: listen on ``host:port`` (0: a free port, read
    back into ``port``), keep the live connections, abort them on close. A subclass says how to
    make one connection's protocol object (``_new_connection``)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: asyncio.base_events.Server | None = None
        self.connections: set = set()

    def _new_connection(self):  # pragma: no cover - every transport overrides it
        raise NotImplementedError

    def _connection(self):
        conn = self._new_connection()
        conn.registry = self.connections
        self.connections.add(conn)
        return conn

    async def start(self):
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.abort()
            await self._server.wait_closed()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
