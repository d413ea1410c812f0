"""The asyncio TCP fault proxy: listen, connect each client to the upstream, shape both ways.

A client connects to the proxy; the proxy connects to the upstream (a service on loopback)
and runs, per direction, a reader task and a writer task joined by a bounded queue. The reader
reads a chunk, gets a :class:`~.shaping.Plan` from that direction's
:class:`~.shaping.Shaper` and queues it; the writer sleeps until the plan's time, writes the
bytes and waits for the kernel to take them (``drain``). The bounded queue is the
backpressure: a slow (latency, bandwidth) direction stops reading from its source instead of
buffering without limit. End of stream is forwarded as a half-close (``write_eof``) in order
after the last planned chunk; a planned cut aborts both sockets (the peers see a reset, as
after a crash or a middlebox timeout).

``refuse`` closes the listening socket, so new connections get ECONNREFUSED while live ones
carry on; turning it off listens again on the same port. :meth:`FaultProxy.configure` swaps
the whole :class:`~.shaping.Faults` value at once (it is immutable), so a reader never sees half
an update. Counters (:meth:`FaultProxy.stats`) count connections accepted, active, cut by a
fault and failed (upstream unreachable), and bytes per direction: read, forwarded, swallowed.
The upstream must be a loopback address: the proxy never sends traffic off the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
from collections import Counter
from typing import Any

from .shaping import FaultConfigError, Faults, Plan, Shaper

_QUEUE_CHUNKS = 16
_EOF = object()


def check_loopback(host: str) -> None:
    """Refuse an upstream that is not on this machine's loopback."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise FaultConfigError(f"upstream {host!r} is not a loopback address (127.0.0.0/8, ::1)")


class FaultProxy:
    """A TCP proxy in front of ``upstream`` that applies :class:`~.shaping.Faults`.

    Run it inside an event loop (``await proxy.start()``), or in a thread of its own with
    :func:`~.threaded.start_proxy` from synchronous code and notebooks.
    """

    def __init__(self, upstream: tuple[str, int], *, listen: tuple[str, int] = ("127.0.0.1", 0),
                 faults: Faults | None = None, seed: int = 0) -> None:
        check_loopback(upstream[0])
        self.upstream = upstream
        self.listen_host, self.port = listen
        self.faults = faults or Faults()
        self.seed = seed
        self.counters: Counter[str] = Counter()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._conn_ids = 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FaultProxy:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.listen_host, self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]  # the OS-assigned one

    async def close(self) -> None:
        """Stop listening and cut every live connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- control ---------------------------------------------------------------------------
    async def configure(self, faults: Faults) -> Faults:
        """Replace the faults (live connections see them at their next chunk)."""
        was_refusing, self.faults = self.faults.refuse, faults
        if faults.refuse and not was_refusing and self._server is not None:
            self._server.close()  # the listening socket only: live connections carry on
            await self._server.wait_closed()
            self._server = None
        elif not faults.refuse and self._server is None:
            await self._listen()
        return faults

    async def update(self, direction: str = "both", refuse: bool | None = None,
                     **changes: Any) -> Faults:
        """Change some settings of ``direction`` (upstream | downstream | both)."""
        return await self.configure(self.faults.with_changes(direction, refuse, **changes))

    def stats(self) -> dict[str, int]:
        """Counters: connections_{accepted,active,cut,failed}, {up,down}stream_bytes_*."""
        keys = ["connections_accepted", "connections_active", "connections_cut",
                "connections_failed"]
        keys += [f"{d}_bytes_{k}" for d in ("upstream", "downstream")
                 for k in ("read", "forwarded", "swallowed")]
        return {k: self.counters[k] for k in keys}

    # -- connections -----------------------------------------------------------------------
    async def _handle(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.counters["connections_accepted"] += 1
        self.counters["connections_active"] += 1
        conn_id, self._conn_ids = self._conn_ids, self._conn_ids + 1
        upstream_w: asyncio.StreamWriter | None = None
        try:
            try:
                upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
            except OSError:
                self.counters["connections_failed"] += 1
                return
            for w in (client_w, upstream_w):
                w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cut = asyncio.Event()  # set to end the connection at once
            by_fault: list[bool] = []  # non-empty when a planned cut (not a peer) ended it
            pumps = [
                asyncio.create_task(self._pump(client_r, upstream_w, "upstream", conn_id, cut, by_fault)),
                asyncio.create_task(self._pump(upstream_r, client_w, "downstream", conn_id, cut,
                                            by_fault)),
            ]
            cutter = asyncio.create_task(cut.wait())
            try:
                pending: set[asyncio.Task[Any]] = {*pumps, cutter}
                while not cutter.done() and not all(t.done() for t in pumps):
                    _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (*pumps, cutter):
                    t.cancel()
                await asyncio.gather(*pumps, cutter, return_exceptions=True)
            if cut.is_set():
                self.counters["connections_cut"] += bool(by_fault)
                for w in (client_w, upstream_w):
                    w.transport.abort()  # a reset, not a clean close
        except asyncio.CancelledError:
            pass  # close() ends us; asyncio's stream callback must not see a cancelled task
        finally:
            self.counters["connections_active"] -= 1
            for w in (client_w, upstream_w):
                if w is not None:
                    w.close()
            self._tasks.discard(task)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str,
                    conn_id: int, cut: asyncio.Event, by_fault: list[bool]) -> None:
        """Move one direction: a reader and a writer joined by a bounded queue of plans."""
        loop = asyncio.get_running_loop()
        shaper = Shaper(random.Random(f"{self.seed}:{conn_id}:{direction}"))
        queue: asyncio.Queue[tuple[Plan, bytes] | object] = asyncio.Queue(_QUEUE_CHUNKS)

        async def read() -> None:
            while True:
                faults = getattr(self.faults, direction)
                try:
                    data = await src.read(shaper.read_size(faults))
                except ConnectionError:
                    data = b""
                if not data:
                    await queue.put(_EOF)
                    return
                faults = getattr(self.faults, direction)  # may have changed while we waited
                self.counters[f"{direction}_bytes_read"] += len(data)
                plan = shaper.plan(faults, len(data), loop.time())
                if faults.blackhole:
                    self.counters[f"{direction}_bytes_swallowed"] += len(data)
                    continue
                await queue.put((plan, data[:plan.forward]))
                if plan.cut:
                    return

        async def write() -> None:
            while True:
                item = await queue.get()
                if item is _EOF:
                    if dst.can_write_eof():
                        with contextlib.suppress(OSError):
                            dst.write_eof()
                    return
                plan, data = item  # type: ignore[misc]
                delay = plan.deliver_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if data:
                    dst.write(data)
                    try:
                        await dst.drain()
                    except ConnectionError:
                        cut.set()
                        return
                    self.counters[f"{direction}_bytes_forwarded"] += len(data)
                if plan.cut:
                    by_fault.append(True)
                    cut.set()
                    return

        reader = asyncio.create_task(read())
        try:
            await write()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
