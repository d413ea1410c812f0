"""The client: calls of the four kinds on a :class:`Channel`, over either transport.

What it mirrors: grpcio's channel and multi-callables (``channel.unary_unary(path)(request,
timeout=, metadata=)``) and grpc.aio's streaming call objects, plus gRPC's retry policy
(exponential backoff with jitter, only for methods declared idempotent) and a small pool.

Theory of operation. A transport connection opens streams; each stream has an inbox of
events: a response message is its payload (``bytes``, so a burst of them is one
``deque.extend``), the rest are pairs, ``("h", metadata)``, ``("z", compressed payload)`` and
one final ``("e", Status)``. A
:class:`Call` reads that inbox under the call's deadline: one timer per call
(an entry in the channel's :class:`~.dispatch.Deadlines`, added the first time the call has to
wait) ends it when the deadline passes
first: it cancels the stream (the server's handler is cancelled too) and the call raises
``DEADLINE_EXCEEDED``. A message already in the inbox is taken without any wait or timer,
which is what makes a fast stream cheap to read. A
lost connection ends every open stream with ``UNAVAILABLE``; the channel reconnects on the next
call, and a unary call to an idempotent method is retried up to the policy's attempts.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .compression import Codec, codec_for
from .dispatch import Deadlines, Inbox, serializer_for
from .errors import Metadata, RpcError, Status, StatusCode
from .service import Kind, specs_of

EOF = object()  # what Call.read returns after the last message


class ClientStream(Protocol):
    inbox: Inbox

    async def send(self, payload: bytes, end: bool = False) -> None: ...

    def end(self) -> None: ...

    def cancel(self) -> None: ...


class Connection(Protocol):
    closed: bool

    def open_stream(self, path: str, timeout_s: float | None, metadata: Metadata,
                    serializer: str, compression: Codec | None = None,
                    accept_compression: bool = False) -> ClientStream: ...

    async def close(self) -> None: ...


class Call:
    """One call in flight: read responses, write requests, see metadata and status, cancel."""

    def __init__(self, stream: ClientStream, serializer: str, response_type: Any,
                 deadline: float | None, deadlines: Deadlines | None = None) -> None:
        self.stream = stream
        self.ser = serializer_for(serializer)
        self.response_type = response_type
        self.deadline = deadline
        self.status: Status | None = None
        self._initial: Metadata | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: list[Any] | None = None
        self._deadlines = deadlines

    def _expire(self) -> None:
        """The deadline passed: end the call (the reader, if waiting, wakes to the status)."""
        self._timer = None
        if self.status is None:
            self.stream.cancel()
            self.status = Status(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            self.stream.inbox.put(("e", self.status))

    def _ended(self, status: Status) -> None:
        self.status = status
        if self._initial is None:
            self._initial = ()
        if self._timer is not None:
            self._deadlines.cancel(self._timer)  # type: ignore[union-attr]
            self._timer = None

    async def _event(self) -> tuple[str, Any]:
        if self.status is not None:
            return "e", self.status
        inbox = self.stream.inbox
        if not inbox.items:
            if self.deadline is not None and self._timer is None:
                if self._deadlines is None:
                    self._deadlines = Deadlines(self._loop)
                self._timer = self._deadlines.add(self.deadline, self._expire)
            await inbox.wait()
            if self.status is not None:  # the deadline passed while we waited
                return "e", self.status
        elif self.deadline is not None and self._loop.time() >= self.deadline:
            self._expire()
            return "e", self.status
        item = inbox.take()
        if item.__class__ is bytes:
            return "m", item
        kind, value = item
        if kind == "e":
            self._ended(value)
        elif kind == "h":
            self._initial = value
        return kind, value

    async def initial_metadata(self) -> Metadata:
        while self._initial is None:
            kind, value = await self._event()
            if kind == "m":  # a message before headers: the transport sent none
                self.stream.inbox.items.appendleft(value)
                self._initial = ()
        return self._initial

    @property
    def trailers(self) -> Metadata:
        return self.status.trailers if self.status is not None else ()

    async def read(self) -> Any:
        """The next response, or :data:`EOF` after an OK end; a non-OK end raises."""
        while True:
            kind, value = await self._event()
            if kind == "m":
                return self.ser.decode(value, self.response_type)
            if kind == "e":
                if value.code != StatusCode.OK:
                    raise RpcError(value.code, value.message, value.trailers)
                return EOF

    async def write(self, message: Any) -> None:
        if self.status is not None and self.status.code != StatusCode.OK:
            raise RpcError(self.status.code, self.status.message, self.status.trailers)
        await self.stream.send(self.ser.encode(message))

    async def done_writing(self) -> None:
        self.stream.end()

    def cancel(self) -> None:
        if self.status is None:
            self.stream.cancel()
            self._ended(Status(StatusCode.CANCELLED, "cancelled by the client"))

    def __aiter__(self) -> Call:
        return self

    async def __anext__(self) -> Any:
        inbox = self.stream.inbox
        items = inbox.items
        if items and self.status is None and items[0].__class__ is bytes and (
                self.deadline is None or self._loop.time() < self.deadline):  # no wait, no timer
            payload = items.popleft()  # Inbox.take, inlined: this runs once per message
            inbox.consumed += len(payload) + 10
            if inbox.consumed >= inbox.credit_at:
                inbox.credit()
            return self.ser.decode(payload, self.response_type)
        item = await self.read()
        if item is EOF:
            raise StopAsyncIteration
        return item


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """gRPC's retry policy: attempts, exponential backoff, jitter, retryable codes."""

    max_attempts: int = 4
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 1.0
    multiplier: float = 2.0
    jitter: float = 0.2  # each delay is uniform in [(1 - jitter) b, (1 + jitter) b]
    retryable: frozenset[StatusCode] = field(default=frozenset({StatusCode.UNAVAILABLE}))

    def backoff(self, attempt: int, rng: random.Random) -> float:
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** attempt)
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))


async def _connect(transport: str, host: str, port: int, max_frame_size: int | None) -> Any:
    if transport == "native":
        from .native_client import connect
    elif transport == "grpc":
        from .grpc_client import connect
    else:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"unknown transport {transport!r}")
    try:
        return await connect(host, port, max_frame_size)
    except OSError as exc:
        raise RpcError(StatusCode.UNAVAILABLE, f"cannot connect to {host}:{port}: "
                       f"{exc.strerror or exc}") from None


class Channel:
    """Calls to one server over a pool of connections (opened lazily, reopened when lost).

    ``compression`` (``gzip``, ``deflate``; None: none) compresses every request message and
    lets the server compress its responses; on the gRPC transport the server may compress its
    responses whatever this says (a gRPC client always lists what it can read).
    """

    def __init__(self, host: str, port: int, *, transport: str = "native",
                 serializer: str = "msgpack", pool_size: int = 1,
                 retry: RetryPolicy | None = None, max_frame_size: int | None = None,
                 rng: random.Random | None = None, keepalive_s: float | None = None,
                 keepalive_timeout_s: float = 5.0, compression: str | None = None) -> None:
        self.host, self.port, self.transport = host, port, transport
        self.compression = codec_for(compression)
        self.serializer = serializer
        self.retry = retry or RetryPolicy()
        self.max_frame_size = max_frame_size
        self.rng = rng or random.Random(0)
        self.keepalive = (keepalive_s, keepalive_timeout_s)
        self._pool: list[Any] = [None] * max(1, pool_size)
        self._deadlines: Deadlines | None = None  # of this channel's calls
        self._next = 0
        self.attempts = 0  # unary attempts made, counting retries

    async def connection(self, i: int | None = None) -> Connection:
        """Connection ``i`` of the pool (the next one by default), opened if needed."""
        if i is None:
            i = self._next = (self._next + 1) % len(self._pool)
        conn = self._pool[i]
        if conn is None or conn.closed:
            conn = self._pool[i] = await _connect(self.transport, self.host, self.port,
                                                  self.max_frame_size)
            if self.keepalive[0] is not None and hasattr(conn, "start_keepalive"):
                conn.start_keepalive(*self.keepalive)
        return conn

    async def open(self, path: str, *, timeout: float | None = None, metadata: Metadata = (),
                   response_type: Any = None, serializer: str | None = None,
                   compression: str | None = None) -> Call:
        """Open a call of any kind; the :class:`Call` reads and writes it. ``compression``
        overrides the channel's for this call (``identity``: none)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        i = self._next = (self._next + 1) % len(self._pool)
        conn = self._pool[i]
        if conn is None or conn.closed:
            conn = await self.connection(i)
        ser = serializer or self.serializer
        codec = self.compression if compression is None else codec_for(compression)
        if codec is None and self.compression is None:  # the common case: plain calls
            stream = conn.open_stream(path, timeout, tuple(metadata), ser)
        else:
            stream = conn.open_stream(path, timeout, tuple(metadata), ser, codec, True)
        if self._deadlines is None or self._deadlines.loop is not loop:
            self._deadlines = Deadlines(loop)
        return Call(stream, ser, response_type, deadline, self._deadlines)

    async def unary(self, path: str, request: Any, *, timeout: float | None = None,
                    metadata: Metadata = (), response_type: Any = None,
                    serializer: str | None = None, idempotent: bool = False,
                    compression: str | None = None) -> Any:
        attempt = 0
        while True:
            self.attempts += 1
            try:
                call = await self.open(path, timeout=timeout, metadata=metadata,
                                       response_type=response_type, serializer=serializer,
                                       compression=compression)
                await call.stream.send(call.ser.encode(request), end=True)
                response = await call.read()
                if response is EOF:
                    raise RpcError(StatusCode.INTERNAL, "no response message")
                return response
            except RpcError as exc:
                attempt += 1
                if (not idempotent or exc.code not in self.retry.retryable
                        or attempt >= self.retry.max_attempts):
                    raise
                await asyncio.sleep(self.retry.backoff(attempt - 1, self.rng))

    async def server_stream(self, path: str, request: Any, **kw: Any) -> Call:
        call = await self.open(path, **kw)
        await call.stream.send(call.ser.encode(request), end=True)
        return call

    async def client_stream(self, path: str, requests: Iterable[Any] | AsyncIterable[Any],
                            **kw: Any) -> Any:
        call = await self.open(path, **kw)
        try:
            if isinstance(requests, AsyncIterable):
                async for item in requests:
                    await call.write(item)
            else:
                for item in requests:
                    await call.write(item)
        except RpcError:
            pass  # the server ended the call early: its status is read below
        await call.done_writing()
        response = await call.read()
        if response is EOF:
            raise RpcError(StatusCode.INTERNAL, "no response message")
        return response

    async def bidi(self, path: str, **kw: Any) -> Call:
        return await self.open(path, **kw)

    def stub(self, service_cls: type) -> Any:
        """An object with one coroutine per method of a ``@service`` class."""
        return _Stub(self, service_cls)

    async def close(self) -> None:
        for conn in self._pool:
            if conn is not None:
                await conn.close()
        self._pool = [None] * len(self._pool)
        if self._deadlines is not None:
            self._deadlines.close()
            self._deadlines = None

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Stub:
    def __init__(self, channel: Channel, cls: type) -> None:
        self._channel = channel
        self._serializer = cls.__rpc_serializer__
        self._specs = specs_of(cls)

    def __getattr__(self, attr: str) -> Any:
        try:
            path, spec = self._specs[attr]
        except KeyError:
            raise AttributeError(attr) from None
        ch, ser = self._channel, self._serializer
        kw = {"response_type": spec.response_type, "serializer": ser}
        if spec.kind is Kind.UNARY:
            return lambda req, **o: ch.unary(path, req, idempotent=spec.idempotent, **kw, **o)
        if spec.kind is Kind.SERVER_STREAM:
            return lambda req, **o: ch.server_stream(path, req, **kw, **o)
        if spec.kind is Kind.CLIENT_STREAM:
            return lambda reqs, **o: ch.client_stream(path, reqs, **kw, **o)
        return lambda **o: ch.bidi(path, **kw, **o)
