"""What both transports share: the call context, a stream's inbox and the server's call runner.

What it mirrors: grpcio's ``ServicerContext`` (invocation metadata, deadline, trailing
metadata, abort) and the part of a gRPC server between the transport and the handler: decode
the request(s), run the handler under the call's deadline, encode the response(s), turn the
outcome into one status.

Theory of operation. A transport hands :func:`serve_call` a :class:`ServerStream`: ``recv()``
returns the next request payload or ``None`` after the client's half-close, ``send()`` writes
one response payload (waiting for flow-control credit), ``send_nowait()`` writes one at once
when no wait is needed (``False``: call ``send``), ``finish()`` writes the status. One timer
:class:`Deadlines` per connection (one event-loop timer for all its calls' deadlines, far
cheaper than a timer or an ``asyncio.timeout`` block per call) cancels the handler's task when
the deadline passes, where it awaits, and the call ends ``DEADLINE_EXCEEDED``; the
transport cancels the task when the client sends CANCEL (or RST_STREAM), and the handler sees
``CancelledError``. An
:class:`~.errors.RpcError` picks the status; any other exception is ``INTERNAL`` with its text,
and the connection serves on.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, NoReturn, Protocol

from .compression import Codec, codec_for
from .errors import Metadata, RpcError, Status, StatusCode
from .serializers import Serializer, get_serializer
from .service import Method


class Inbox:
    """A deque with one waiter: cheaper than ``asyncio.Queue`` for the one consumer a stream has.

    Flow control: taking a message (a ``bytes`` item) adds its framed size to ``consumed``;
    at ``credit_at`` the transport's :meth:`credit` returns that much to the sender."""

    __slots__ = ("items", "waiter", "consumed", "credit_at")

    def __init__(self, credit_at: int = 1 << 62) -> None:
        self.items: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.consumed = 0
        self.credit_at = credit_at

    def credit(self) -> None:
        """Return ``consumed`` bytes of credit to the sender (transports override it)."""
        self.consumed = 0

    def put(self, item: Any) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def put_done(self) -> None:
        """Wake the reader after items were appended to ``items`` directly (a batch)."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> Any:
        """The next item (there is one), counting a message towards :meth:`credit`."""
        item = self.items.popleft()
        if item.__class__ is bytes:
            self.consumed += len(item) + 10
            if self.consumed >= self.credit_at:
                self.credit()
        return item

    async def wait(self) -> None:
        """Until an item is there."""
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def get(self) -> Any:
        if not self.items:
            await self.wait()
        return self.take()


class Deadlines:
    """Many deadlines on one event-loop timer: a heap of ``[when, seq, callback, args]``
    entries, the timer armed for the earliest. Adding is a ``heappush``; cancelling blanks the
    entry's callback (it is dropped when it comes up, or when cancelled entries outnumber the
    live ones), so a call that ends in time never touches the loop's timers."""

    __slots__ = ("loop", "heap", "timer", "armed_at", "seq", "cancelled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.heap: list[list[Any]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.armed_at = math.inf
        self.seq = 0
        self.cancelled = 0

    def add(self, when: float, callback: Any, *args: Any) -> list[Any]:
        """Call ``callback(*args)`` at loop time ``when``; the entry returned cancels it."""
        self.seq += 1
        entry = [when, self.seq, callback, args]
        heapq.heappush(self.heap, entry)
        if when < self.armed_at:
            self._arm(when)
        return entry

    def cancel(self, entry: list[Any]) -> None:
        if entry[2] is not None:
            entry[2] = None
            self.cancelled += 1
            if self.cancelled > 64 and self.cancelled * 2 > len(self.heap):
                self.heap = [e for e in self.heap if e[2] is not None]
                heapq.heapify(self.heap)
                self.cancelled = 0

    def _arm(self, when: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.armed_at = self.loop.call_at(when, self._fire), when

    def _fire(self) -> None:
        self.timer, self.armed_at = None, math.inf
        heap, now = self.heap, self.loop.time()
        while heap and (heap[0][0] <= now or heap[0][2] is None):
            _, _, callback, args = heapq.heappop(heap)
            if callback is None:
                self.cancelled -= 1
            else:
                callback(*args)
        if heap:
            self._arm(heap[0][0])

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.heap.clear()


class CallContext:
    """What a handler knows about its call, and how it sets metadata and status."""

    # set by the transport only when they change (class defaults keep a call's setup cheap)
    expired = False  # the deadline passed (the handler was cancelled for it)
    compression: Codec | None = None  # how responses are compressed
    accept_encodings: frozenset[str] | set[str] = frozenset()  # what the client can read
    request_compressed = False  # a compressed request message arrived

    def __init__(self, method: str, metadata: Metadata, deadline: float | None,
                 peer: str = "") -> None:
        self.method = method
        self.invocation_metadata = metadata
        self.deadline = deadline  # event-loop time, or None
        self.peer = peer
        self.initial_metadata: list[tuple[str, str | bytes]] = []  # sent before the first response
        self.trailers: list[tuple[str, str | bytes]] = []

    def set_compression(self, name: str | None) -> None:
        """Compress this call's responses with ``name`` (gzip, deflate; None: do not), as
        grpcio's ``ServicerContext.set_compression``; ignored when the client cannot read it.
        Takes effect before the first response."""
        codec = codec_for(name)
        self.compression = codec if codec is None or codec.name in self.accept_encodings else None

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

    def send_nowait(self, payload: bytes, headers: Metadata) -> bool: ...

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


def _expire(ctx: CallContext, task: asyncio.Task[Any]) -> None:
    ctx.expired = True
    task.cancel()


async def serve_call(method: Method, stream: ServerStream, ctx: CallContext,
                     deadlines: Deadlines | None = None) -> None:
    """Run one call to the end and finish the stream with its status (see module docstring);
    ``deadlines``: the connection's (one is made for this call when None)."""
    spec = method.spec
    ser = serializer_for(method.serializer)
    headers = ctx.initial_metadata
    timer = None
    if ctx.deadline is not None:
        if deadlines is None:
            deadlines = Deadlines(asyncio.get_running_loop())
        timer = deadlines.add(ctx.deadline, _expire, ctx, asyncio.current_task())
    try:
        if spec.kind.streams_requests:
            request: Any = _requests(stream, ser, spec.request_type)
        else:
            payload = await stream.recv()
            if payload is None:
                raise RpcError(StatusCode.INTERNAL, "no request message")
            request = ser.decode(payload, spec.request_type)
        result = method.handler(request, ctx)
        if spec.kind.streams_responses:
            encode, send_nowait = ser.encode, stream.send_nowait
            async for item in result:
                payload = encode(item)
                if not send_nowait(payload, headers):
                    await stream.send(payload, headers)
        else:
            await stream.send(ser.encode(await result), headers)
        status = Status(StatusCode.OK, "", tuple(ctx.trailers))
    except asyncio.CancelledError:
        if not ctx.expired:
            raise  # the client cancelled: nobody reads a status
        status = Status(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded", tuple(ctx.trailers))
    except RpcError as exc:
        status = Status(exc.code, exc.message, tuple(ctx.trailers) + exc.trailers)
    except Exception as exc:  # a handler's bug: the caller gets INTERNAL, the server serves on
        status = Status(StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}", tuple(ctx.trailers))
    finally:
        if timer is not None:
            deadlines.cancel(timer)  # type: ignore[union-attr]
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
