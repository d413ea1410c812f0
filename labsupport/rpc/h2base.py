"""What the gRPC client and server share on top of ``h2``: writes that respect flow control.

What it mirrors: the flow-control half of an HTTP/2 endpoint (RFC 9113 section 5.2): DATA may
not exceed the smaller of the stream's and the connection's send window, nor the peer's
SETTINGS_MAX_FRAME_SIZE; WINDOW_UPDATE frames reopen a window; received DATA is acknowledged
(so the peer may send more) only when the application has room for it.

Theory of operation. ``h2`` is sans-IO: it turns bytes into events and calls into bytes, and
this protocol moves them to and from the socket. :meth:`send_data` writes what the window
allows in frames no larger than the peer's maximum and waits for a WINDOW_UPDATE (or a
settings change) for the rest, so a slow reader on one stream holds back only that stream.
:meth:`received` acknowledges a DATA frame at once while its stream's inbox holds fewer than
``BUFFERED`` messages and defers it otherwise, so a slow handler bounds what the peer may send
it; :meth:`consumed` releases deferred credit as messages are taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from .errors import RpcError, StatusCode

BUFFERED = 64  # messages a stream's inbox may hold before its window stays shut
WINDOW = 4 * 1024 * 1024 + 5  # stream receive window: one message at the largest allowed size


class H2Protocol(asyncio.Protocol):
    def __init__(self, client_side: bool) -> None:
        config = h2.config.H2Configuration(client_side=client_side, header_encoding="utf-8",
                                           validate_outbound_headers=False,
                                           normalize_outbound_headers=False)
        self.h2 = h2.connection.H2Connection(config)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._deferred: dict[int, int] = {}
        self._flush_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h2.local_settings = h2.settings.Settings(client=self.h2.config.client_side,
                                                      initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(2 ** 30)  # the connection window: never the limit
        self.flush_now()

    def flush(self) -> None:
        """Send what ``h2`` has queued, at the end of this event-loop iteration: the frames of
        every stream written in one iteration go out in one ``send``."""
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self.flush_now)

    def flush_now(self) -> None:
        self._flush_pending = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def _wake(self, stream_id: int | None) -> None:
        for sid in ([stream_id] if stream_id else list(self._waiters)):
            fut = self._waiters.pop(sid, None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    def window_event(self, event: Any) -> None:
        """Call for WindowUpdated and RemoteSettingsChanged: senders may go on."""
        if isinstance(event, h2.events.WindowUpdated):
            self._wake(event.stream_id)
        else:
            self._wake(None)

    async def send_data(self, stream_id: int, data: bytes, end: bool = False) -> None:
        view = memoryview(data)
        try:
            while view:
                if self.closed:
                    raise RpcError(StatusCode.UNAVAILABLE, "connection closed")
                window = self.h2.local_flow_control_window(stream_id)
                if window <= 0:
                    fut = self._waiters[stream_id] = asyncio.get_running_loop().create_future()
                    await fut
                    continue
                n = min(window, self.h2.max_outbound_frame_size, len(view))
                last = n == len(view)
                self.h2.send_data(stream_id, bytes(view[:n]), end_stream=end and last)
                view = view[n:]
                self.flush()
            if end and not data:
                self.h2.end_stream(stream_id)
                self.flush()
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            raise RpcError(StatusCode.CANCELLED, f"stream {stream_id} closed") from None
        if self.closed:
            raise RpcError(StatusCode.UNAVAILABLE, "connection closed")

    def received(self, event: h2.events.DataReceived, backlog: int) -> None:
        """Acknowledge (now or later) one DATA frame of a stream whose inbox holds ``backlog``."""
        n = event.flow_controlled_length
        if backlog < BUFFERED:
            n += self._deferred.pop(event.stream_id, 0)
            self._ack(event.stream_id, n)
        else:
            self._deferred[event.stream_id] = self._deferred.get(event.stream_id, 0) + n

    def consumed(self, stream_id: int, backlog: int) -> None:
        if backlog < BUFFERED // 2 and stream_id in self._deferred:
            self._ack(stream_id, self._deferred.pop(stream_id))
            self.flush()

    def _ack(self, stream_id: int, n: int) -> None:
        if n:  # a stream that ended meanwhile has no window left to open
            with contextlib.suppress(h2.exceptions.StreamClosedError,
                                     h2.exceptions.ProtocolError):
                self.h2.acknowledge_received_data(n, stream_id)

    def forget(self, stream_id: int) -> None:
        self._deferred.pop(stream_id, None)
        self._wake(stream_id)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self._wake(None)
