"""Request bodies read as they arrive: the streaming-body hook of the HTTP/1.1 connection.

By default ``HttpConnection`` hands a handler the whole body (``HttpRequest.body``), which is
right for an API handler and wrong for a proxy or an upload: a 1 GB PUT would sit in memory
before the handler saw a byte. With ``HttpServer(app, stream_body=predicate)`` a request
whose head makes ``predicate(head)`` true (and that has a body) is handed out as soon as its
head is parsed, with ``HttpRequest.stream`` set to a ``RequestBody``: ``async for piece in
request.stream`` yields the de-chunked pieces as the client sends them. What h11 does with
its ``Data`` events, and what uvicorn does with ASGI's ``http.request`` messages.

Theory of operation
-------------------
Sans-IO part (``StreamingConnection``, a subclass of ``HttpConnection``): the parser is a
``HoldingParser`` that, after the head of a streamed request, answers ``NEED_DATA`` to the
connection's ordinary ``next_event`` loop, so the connection stops there (phase ``body``,
its deadline running) and returns the request at once with ``busy`` set. Body pieces are
then taken by ``receive_body(now)`` (``Data``, ``EndOfMessage``, ``NEED_DATA`` or a
``CloseConnection`` refusal for a malformed body); each piece restarts the body timeout.

Backpressure needs no new rule: the bytes not yet taken stay in the parser's buffer, and a
busy connection already answers ``PAUSED`` once more than ``max_pipelined_bytes`` are
buffered, so the shell stops reading from a client whose body the handler is not consuming
(because, say, the backend it is forwarding to is slow); taking pieces lets reading resume.

When the response is finished before the body was read to its end (a handler that refused
the request), the rest is skipped if it is already buffered, else the response closes the
connection (``Connection: close``): what follows in the byte stream cannot be found without
reading the whole body.

Asyncio part (``RequestBody``): waits for the shell's ``data_received`` (through the
connection's ``notify`` callback) when the parser needs bytes, and resumes reading after it
took a piece from a paused connection. A body the client breaks off raises
``ConnectionResetError``; a malformed one is refused with its status (400, 413) before the
handler gets a ``ProtocolError``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from .connection import HANDLING, NEED_DATA, CloseConnection, HttpConnection
from .errors import ProtocolError
from .parser import Data, EndOfMessage, Request, RequestParser
from .response import Response
from .routing import HttpRequest

__all__ = ["HoldingParser", "RequestBody", "StreamingConnection"]

_GONE = CloseConnection(b"", 0, "client closed the connection during the request body")


class HoldingParser(RequestParser):
    """A ``RequestParser`` that holds after the head of a request whose body is streamed."""

    __slots__ = ("stream_body", "holding")

    def __init__(self, limits: Any = None, *, stream_body: Callable[[Request], bool]) -> None:
        super().__init__(limits)
        self.stream_body = stream_body
        self.holding = False  # True from a streamed head to its EndOfMessage

    def next_event(self) -> Any:
        if self.holding:
            return NEED_DATA  # the body is the handler's, through body_event()
        event = RequestParser.next_event(self)
        if type(event) is Request and event.content_length != 0 and self.stream_body(event):
            self.holding = True
        return event

    def body_event(self) -> Any:
        """The next event of the held body (``Data``, ``EndOfMessage`` or ``NEED_DATA``)."""
        event = RequestParser.next_event(self)
        if type(event) is not Data and event is not NEED_DATA:
            self.holding = False
        return event


class StreamingConnection(HttpConnection):
    """``HttpConnection`` that hands out a streamed request at its head (module docstring)."""

    __slots__ = ("streaming", "notify", "make_stream")

    def __init__(self, limits: Any = None, *, stream_body: Callable[[Request], bool],
                 make_stream: Callable[[], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(limits, **kwargs)
        self.parser = HoldingParser(self.parser.limits, stream_body=stream_body)
        self.streaming = False  # a streamed body is being received
        self.notify: Callable[[], None] | None = None  # wakes a reader waiting for bytes
        self.make_stream = make_stream  # the shell's reader object for HttpRequest.stream

    def next_event(self, now: float) -> Any:
        event = HttpConnection.next_event(self, now)
        if event is NEED_DATA and self.parser.holding and not self.busy and not self.closing:
            # The ordinary loop stopped after a streamed head: hand the request out now.
            self.busy = self.streaming = True
            request = HttpRequest(self.head, b"", self.peer)
            if self.make_stream is not None:
                request.stream = self.make_stream()
            return request
        return event

    def receive_body(self, now: float) -> Data | EndOfMessage | CloseConnection | Any:
        """The next piece of the streamed body, ``EndOfMessage``, ``NEED_DATA``, or a
        ``CloseConnection`` (write its data and close: the body was malformed or cut off)."""
        if not self.streaming:
            return _GONE if self.closing else EndOfMessage()
        if self.closing:
            return _GONE
        try:
            event = self.parser.body_event()
        except ProtocolError as exc:
            return self._refuse(exc.status_code, str(exc))
        if type(event) is Data:
            self.deadline = now + self.body_timeout  # per piece, as for a buffered body
        elif event is not NEED_DATA:
            self.streaming = False
            self.phase = HANDLING
            self.deadline = math.inf
        return event

    @property
    def keep_alive(self) -> bool:
        # A response started while the body is still arriving announces the close it may need.
        return not self.streaming and HttpConnection.keep_alive.fget(self)

    def _skip_body(self) -> None:
        """The response is done and the body is not: skip it if buffered, else close after."""
        try:
            while (event := self.parser.body_event()) is not NEED_DATA:
                if type(event) is not Data:
                    self.streaming = False
                    return
        except ProtocolError:
            pass
        self.head = self.head._replace(keep_alive=False)  # framing lost: this response closes

    def respond(self, response: Response, now: float) -> bytes:
        if self.streaming:
            self._skip_body()
        return HttpConnection.respond(self, response, now)

    def response_finished(self, keep: bool, now: float) -> None:
        if self.streaming:
            self._skip_body()
            keep = keep and not self.streaming
        HttpConnection.response_finished(self, keep, now)

    # The shell's reader waits for these (through notify).
    def receive_data(self, data: bytes, now: float) -> None:
        HttpConnection.receive_data(self, data, now)
        if self.notify is not None:
            self.notify()

    def receive_eof(self) -> None:
        HttpConnection.receive_eof(self)
        if self.notify is not None:
            self.notify()

    def connection_lost(self) -> None:
        HttpConnection.connection_lost(self)
        if self.notify is not None:
            self.notify()


class RequestBody:
    """``async for piece in request.stream``: the body as it arrives (module docstring).

    ``received`` counts the bytes handed out so far (a proxy may retry a request only while it
    is 0); ``done`` is True once the whole body was read.
    """

    __slots__ = ("_proto", "received", "done")

    def __init__(self, proto: Any) -> None:
        self._proto = proto  # the server's HttpProtocol for this connection
        self.received = 0
        self.done = False

    def __aiter__(self) -> RequestBody:
        return self

    async def __anext__(self) -> bytes:
        proto = self._proto
        conn = proto.conn
        while True:
            event = conn.receive_body(proto.clock())
            kind = type(event)
            if kind is Data:
                self.received += len(event.data)
                if proto.read_paused:
                    proto._process(proto.clock())  # below the limit again: reading resumes
                return event.data
            if event is NEED_DATA:
                if proto.read_paused:
                    proto._process(proto.clock())
                await self._wait(conn)
                continue
            if kind is CloseConnection:
                if not event.status:
                    raise ConnectionResetError(event.reason)
                if not proto.responding:  # the refusal is the response; else just close
                    proto._close(event)
                else:
                    proto.transport.abort()
                raise ProtocolError(event.reason, status_code=event.status)
            self.done = True
            raise StopAsyncIteration

    async def _wait(self, conn: StreamingConnection) -> None:
        fut = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        conn.notify = wake
        try:
            await fut
        finally:
            conn.notify = None

    async def read(self) -> bytes:
        """The rest of the body, whole (for a handler that wants it after all)."""
        return b"".join([piece async for piece in self])
