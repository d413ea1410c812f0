"""One HTTP/1.1 server connection as a sans-IO state machine: bytes and time in, events,
bytes and a deadline out (h11's ``Connection``, server side, plus the timeouts h11 leaves out).

Everything a connection must decide lives here, so that it can be table-tested without a
socket: when a request is complete, whether the connection stays open after a response,
when reading must stop (backpressure), when a response may be produced (pipelining order),
and when the client has taken too long (timeouts). The asyncio shell in ``server.py`` only
moves bytes between this object and a transport, runs handlers, and reads the clock.

Theory of operation
-------------------
The connection is in one *phase* at a time, and each phase has a deadline::

    idle --first byte--> head --Request with a body--> body --EndOfMessage--> handling
      ^                    \\--Request without a body------------------------->  |
      |                                                                          |
      +---- respond()/response_finished(keep=True), nothing buffered ------------+
            (bytes of a pipelined request buffered: straight to head)
    keep=False, a refusal, a timeout or the client's close: closing (terminal)

=========  ======================================  =================================
phase      deadline (``now`` of the step + ...)    at the deadline
=========  ======================================  =================================
idle       ``keepalive_timeout``                   close quietly
head       ``header_timeout``, from the FIRST      408, close (a slowloris cannot
           byte of the head                        extend it by dribbling)
body       ``body_timeout``, from the last piece   408, close
handling   none (the handler's business)           -
=========  ======================================  =================================

Deadlines are absolute times of the injected clock, computed from the ``now`` passed with
the input that started the phase; the shell passes a fresh reading of its clock with every
input (one clock read per ``data_received``, about 50 ns). ``check_timeout(now)`` fires a
deadline only when ``now >= deadline``: a deadline is never early, and when the shell
checks every ``tick_s`` it is late by at most one tick.

``next_event(now)`` hands out at most one complete request at a time: once it has returned
an ``HttpRequest`` the connection is *busy* and returns no further request until the
response is finished (``respond`` or ``response_finished``). Pipelined requests wait in the
parser's buffer meanwhile, which is what keeps responses in request order (RFC 9112
section 9.3.2). What ``next_event`` returns, and what the shell does with it:

* ``HttpRequest``: run the handler, then ``respond(response, now)`` (or stream and call
  ``response_finished``);
* ``bytes``: write them now (the ``100 Continue`` interim response) and ask again;
* ``CloseConnection``: write its ``data`` (an error response, or nothing) and close;
* ``NEED_DATA``: nothing to do until more bytes arrive or the response in flight is
  finished; keep reading;
* ``PAUSED``: stop reading: the client is not reading its responses (``writing_paused``),
  or it has pipelined more than ``max_pipelined_bytes`` behind a response in flight.

Cost: one ``next_event`` call per request plus one that finds the buffer empty; the request
bytes are parsed once by ``RequestParser`` and the response is encoded once, by
``Response.encode`` (or the ``encode`` given to the constructor).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ProtocolError
from .events import _Sentinel
from .parser import NEED_DATA, Data, EndOfMessage, Limits, Request, RequestParser
from .response import CONTINUE_100, DateHeader, Response, error_response
from .routing import HttpRequest

__all__ = ["BODY", "HANDLING", "HEAD", "IDLE", "NEED_DATA", "PAUSED", "PIPELINE_BUFFER_BYTES",
           "CloseConnection", "HttpConnection"]

#: Returned by ``next_event`` when the shell must stop reading (see the module docstring).
PAUSED = _Sentinel("PAUSED")

#: Bytes a client may pipeline behind a response in flight before reading stops.
PIPELINE_BUFFER_BYTES = 256 * 1024

IDLE, HEAD, BODY, HANDLING = "idle", "head", "body", "handling"


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Write ``data`` and close. ``status`` is the refusal's status code, 0 for a quiet close
    (the client closed between requests, or an idle keep-alive connection timed out)."""

    data: bytes
    status: int
    reason: str


_QUIET_IDLE = CloseConnection(b"", 0, "idle keep-alive connection timed out")
_CLIENT_CLOSED = CloseConnection(b"", 0, "client closed the connection")

Encoder = Callable[[Response, bool, bool, bytes, bool], bytes]


class HttpConnection:
    """The server side of one HTTP/1.1 connection. See the module docstring for the rules.

    ``date`` supplies the ``Server``/``Date`` lines (the server shares one, refreshed by its
    housekeeping tick); ``encode(response, keep_alive, head_only, date_line, http10_keep_alive)``
    turns a ``Response`` into bytes (``Response.encode`` by default).
    """

    __slots__ = ("parser", "date", "peer", "encode", "header_timeout", "body_timeout",
                 "keepalive_timeout", "max_pipelined_bytes", "phase", "deadline", "busy",
                 "closing", "write_paused", "shutting_down", "requests_served", "head",
                 "_body")

    def __init__(self, limits: Limits | None = None, *, now: float = 0.0,
                 header_timeout: float = 10.0, body_timeout: float = 30.0,
                 keepalive_timeout: float = 5.0, date: DateHeader | None = None,
                 peer: Any = None, max_pipelined_bytes: int = PIPELINE_BUFFER_BYTES,
                 encode: Encoder = Response.encode) -> None:
        self.parser = RequestParser(limits)
        self.date = date or DateHeader()
        self.peer = peer
        self.encode = encode
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_pipelined_bytes = max_pipelined_bytes
        self.phase = IDLE
        self.deadline = now + keepalive_timeout  # a connection that never sends is idle
        self.busy = False  # a request was handed out and its response is not finished
        self.closing = False  # terminal: nothing more is read or answered
        self.write_paused = False
        self.shutting_down = False  # responses from now on close the connection
        self.requests_served = 0
        self.head: Request | None = None  # the request being answered (or being received)
        self._body: list[bytes] = []

    # -- input ------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the client. The first byte of a head starts the header timeout."""
        self.parser.feed(data)
        if self.phase is IDLE:
            self.phase = HEAD
            self.deadline = now + self.header_timeout

    def receive_eof(self) -> None:
        """The client closed its sending side; ``next_event`` reports how that ended."""
        self.parser.feed_eof()

    def writing_paused(self) -> None:
        """The transport's write buffer is over its high-water mark: produce no responses."""
        self.write_paused = True

    def writing_resumed(self) -> None:
        self.write_paused = False

    def connection_lost(self) -> None:
        self.closing = True

    # -- output -----------------------------------------------------------------------------
    def next_event(self, now: float) -> HttpRequest | bytes | CloseConnection | _Sentinel:
        """What the shell must do next (see the module docstring for each kind of answer)."""
        if self.busy or self.closing:
            # One response at a time: pipelined bytes stay buffered, up to a limit.
            return PAUSED if self.parser.buffered > self.max_pipelined_bytes else NEED_DATA
        if self.write_paused:
            return PAUSED  # the client is not reading: stop making responses for it
        parser = self.parser
        while True:
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                return self._refuse(exc.status_code, str(exc))
            if event is NEED_DATA:
                return NEED_DATA
            kind = type(event)
            if kind is Request:
                self.head = event
                if event.content_length == 0:
                    continue  # EndOfMessage is next: no body phase
                self._body = []
                self.phase = BODY
                self.deadline = now + self.body_timeout
                if event.expect_continue and not parser.buffered:
                    return CONTINUE_100  # the client waits for it before sending the body
            elif kind is Data:
                self._body.append(event.data)
                self.deadline = now + self.body_timeout  # the body timeout is per piece
            elif kind is EndOfMessage:
                head = self.head
                if head.content_length == 0:
                    body = b""
                else:
                    body = b"".join(self._body)
                    self._body = []
                self.phase = HANDLING
                self.deadline = math.inf
                self.busy = True
                return HttpRequest(head, body, self.peer)
            else:  # ConnectionClosed: the client closed between two requests
                self.closing = True
                return _CLIENT_CLOSED

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response to the current request."""
        return self.head.keep_alive and not self.shutting_down

    def respond(self, response: Response, now: float) -> bytes:
        """The bytes of ``response`` to the current request; finishes it (see ``keep_alive``)."""
        head = self.head
        keep = head.keep_alive and not self.shutting_down
        data = self.encode(response, keep, head.method == "HEAD", self.date.line,
                           keep and head.http_version == "1.0")
        # response_finished(keep, now), inlined: this is once per request on the hot path.
        self.busy = False
        self.requests_served += 1
        if not keep:
            self.closing = True
        elif self.parser.buffered:
            self.phase = HEAD
            self.deadline = now + self.header_timeout
        else:
            self.phase = IDLE
            self.deadline = now + self.keepalive_timeout
        return data

    def response_finished(self, keep: bool, now: float) -> None:
        """A response the shell sent itself (streamed, a file, ASGI) is complete."""
        self.busy = False
        self.requests_served += 1
        if not keep:
            self.closing = True
        elif self.parser.buffered:
            self.phase = HEAD  # a pipelined request is already (partly) here
            self.deadline = now + self.header_timeout
        else:
            self.phase = IDLE
            self.deadline = now + self.keepalive_timeout

    def check_timeout(self, now: float) -> CloseConnection | None:
        """``CloseConnection`` when the current phase's deadline has passed, else None."""
        if now < self.deadline or self.closing:
            return None
        if self.phase is IDLE or (self.phase is HEAD and not self.parser.buffered):
            self.closing = True
            return _QUIET_IDLE
        if self.phase is HEAD:
            return self._refuse(408, f"request head not received within {self.header_timeout:g} s")
        return self._refuse(408, f"request body not received within {self.body_timeout:g} s")

    def shutdown(self) -> bool:
        """Graceful shutdown: later responses close; True if the connection can close now."""
        self.shutting_down = True
        if self.closing:
            return False
        if not self.busy and self.phase in (IDLE, HEAD) and not self.parser.buffered:
            self.closing = True
            return True
        return False

    def _refuse(self, status: int, message: str) -> CloseConnection:
        """An error response, then close: the framing of what follows cannot be trusted."""
        self.closing = True
        return CloseConnection(error_response(status, message, self.date.line), status, message)
