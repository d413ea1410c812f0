"""The I/O shells: the FIX acceptor over TCP (asyncio) and the UDP fan-out of the ITCH feed.

:class:`FixServer` is a thin asyncio protocol around the sans-IO :class:`~.gateway.Gateway`:
bytes from a connection go to :meth:`~.gateway.Gateway.receive`, then ``after_input()`` runs
(the monolith pumps its whole chain there; the distributed gateway has already sent to risk),
then every session with something queued is flushed, since one order can produce reports for
other sessions (the resting side of a trade). A timer ticks the sessions once a second
(heartbeats, TestRequests) and closes connections whose session ended.

:class:`UdpFanout` is the MoldUDP64 sender: subscribers send any datagram to its port to
join (``b"LEAVE"`` to leave), and every packet goes to each of them on the loopback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

from .gateway import Gateway
from .session import FixSession

__all__ = ["FixServer", "UdpFanout"]


class _FixConnection(asyncio.Protocol):
    def __init__(self, server: FixServer) -> None:
        self.server = server
        self.session: FixSession | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.session = self.server.gateway.connect()
        self.server.connections[self.session] = transport

    def data_received(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        server = self.server
        with server.lock:
            server.gateway.receive(session, data)
            server.after_input()
            server.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None:
            with self.server.lock:
                self.server.gateway.disconnected(self.session)
                self.server.connections.pop(self.session, None)


class FixServer:
    """Serve ``gateway`` on ``host:port`` (0 = any free port) in the running loop."""

    def __init__(self, gateway: Gateway, after_input: Callable[[], None] = lambda: None,
                 lock: threading.Lock | None = None) -> None:
        self.gateway = gateway
        self.lock = lock or threading.Lock()
        self.after_input = after_input
        self.connections: dict[FixSession, asyncio.Transport] = {}
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self._ticker: asyncio.Task | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FixServer:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _FixConnection(self), host, port,
                                               reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]
        self._ticker = asyncio.ensure_future(self._tick())
        return self

    def flush(self) -> None:
        for session, transport in list(self.connections.items()):
            if session.outbox:
                transport.write(session.take_output())
            if session.closed:
                transport.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            with self.lock:
                for session in list(self.connections):
                    session.tick()
                self.after_input()  # what the ticks changed (sequence numbers) is recorded
                self.flush()

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for transport in self.connections.values():
            transport.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class UdpFanout:
    """The ITCH/MoldUDP64 feed's sender on ``127.0.0.1:port``."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.subscribers: dict[tuple[str, int], None] = {}
        self.packets = 0

    def poll_joins(self) -> None:
        """Read join/leave datagrams waiting on the socket."""
        while True:
            try:
                data, addr = self.sock.recvfrom(64)
            except (BlockingIOError, ConnectionRefusedError):
                return
            if data == b"LEAVE":
                self.subscribers.pop(addr, None)
            else:
                self.subscribers[addr] = None

    def send(self, packet: bytes) -> None:
        self.poll_joins()
        self.packets += 1
        for addr in list(self.subscribers):
            try:
                self.sock.sendto(packet, addr)
            except ConnectionRefusedError:
                self.subscribers.pop(addr, None)  # its socket is gone
            except BlockingIOError:
                pass  # its buffer is full: the packet is lost for it, as on a real network

    def close(self) -> None:
        self.sock.close()
