"""Nodes and the hosts they run on: message and timer dispatch, crash and restart.

A *node* is the code under test, a plain class with three handlers (the shape of a 6.5840 lab
server or a FoundationDB actor, without threads)::

    class Pinger(Node):
        def on_start(self):               self.set_timer(10 * MS, "ping")
        def on_message(self, src, msg):   ...
        def on_timer(self, name):         self.send("b", "ping"); self.set_timer(10 * MS, "ping")

A *host* is the simulated machine the node runs on. It persists for the whole run and owns what
survives a crash: the name, the :class:`~labsupport.sim.disk.SimDisk`, the incarnation count.
The node object is volatile: a crash throws it away (with its timers, and whatever it kept in
memory), applies the disk's crash damage, and a restart builds a fresh one with the factory the
node was added with, then calls ``on_start`` again, where it recovers from its disk.

Before ``on_start`` the host binds ``name``, ``disk`` and ``rng`` (a stream derived from the seed,
the name and the incarnation) on the node, so a node's ``__init__`` takes no simulator arguments
and needs no ``super().__init__()``. After a crash the old object is unbound: if something still
holds it and calls ``send`` or ``set_timer``, nothing happens, as nothing leaves a dead machine.

Timers are named. Setting a timer that is already pending replaces it; each pending timer has a
token (its event's sequence number) and a firing event whose token is no longer the current one
for its name (cancelled, replaced, or from before a crash) is ignored. So cancellation is O(1)
and the heap never needs searching.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from heapq import heappush
from typing import TYPE_CHECKING, Any

from .disk import SimDisk

if TYPE_CHECKING:
    from .loop import Simulation

__all__ = ["Node", "Host"]


class Node:
    """Base class of simulated nodes; override the ``on_*`` handlers."""

    name: str
    disk: SimDisk
    rng: random.Random
    _host: Host | _Unbound

    def on_start(self) -> None:
        """Called when the node starts, and again after every restart (recover from disk here)."""

    def on_message(self, src: str, msg: Any) -> None:
        """Called for each message delivered to this node."""

    def on_timer(self, name: Hashable) -> None:
        """Called when a timer set with :meth:`set_timer` fires."""

    def on_crash(self) -> None:
        """Called just before the object is thrown away (for adapters: cancel a task). A real
        process gets no warning: do not save anything here."""

    # -- what a node can do (all delegated to its host) -----------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        """Send ``msg`` to node ``dst`` over the simulated network."""
        self._host.send(dst, msg)

    def broadcast(self, msg: Any) -> None:
        """Send ``msg`` to every other node, in the order they were added."""
        for peer in self.peers:
            self._host.send(peer, msg)

    def set_timer(self, delay_ns: int, name: Hashable) -> None:
        """Fire ``on_timer(name)`` after ``delay_ns``; replaces a pending timer of that name."""
        self._host.set_timer(delay_ns, name)

    def cancel_timer(self, name: Hashable) -> bool:
        """Cancel the pending timer ``name``; returns whether there was one."""
        return self._host.cancel_timer(name)

    def log(self, text: str) -> None:
        """Write a line into the trace (shown by ``Trace.format``)."""
        self._host.sim._record("log", self.name, text)

    @property
    def now_ns(self) -> int:
        """The simulated time in nanoseconds."""
        return self._host.sim.now_ns

    @property
    def peers(self) -> list[str]:
        """The other nodes' names, in the order they were added."""
        return [n for n in self._host.sim.hosts if n != self.name]


class _Unbound:
    """What a crashed node's object talks to: a dead machine sends nothing, sets no timer."""

    __slots__ = ("sim",)

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def send(self, dst: str, msg: Any) -> None:
        pass

    def set_timer(self, delay_ns: int, name: Hashable) -> None:
        pass

    def cancel_timer(self, name: Hashable) -> bool:
        return False


class Host:
    """The simulated machine of one node: up/down state, timers, outgoing links, the disk."""

    __slots__ = ("sim", "name", "factory", "disk", "node", "up", "incarnation", "timers", "out",
                 "delivered", "deliver")

    def __init__(self, sim: Simulation, name: str, factory: Callable[[], Node],
                 disk: SimDisk) -> None:
        self.sim = sim
        self.name = name
        self.factory = factory
        self.disk = disk
        self.node: Node | None = None
        self.up = False
        self.incarnation = 0
        self.timers: dict[Hashable, int] = {}
        self.out: dict[str, Any] = {}  # dst -> _Link, filled on first send
        self.delivered = 0
        self.deliver = self._deliver  # bound once: every delivery event holds this same object

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        node = self.factory()
        node._host = self
        node.name = self.name
        node.disk = self.disk
        node.rng = self.sim.stream(f"node/{self.name}/{self.incarnation}")
        self.node = node
        self.up = True
        self.sim._record("start" if self.incarnation == 0 else "restart", self.name,
                         None if self.incarnation == 0 else self.incarnation)
        node.on_start()

    def crash(self) -> tuple[int, int]:
        node = self.node
        if not self.up or node is None:
            return 0, 0
        node.on_crash()
        node._host = _Unbound(self.sim)
        self.node = None
        self.up = False
        self.timers.clear()
        self.incarnation += 1
        damage = self.disk.crash()
        self.sim._record("crash", self.name, damage)
        return damage

    # -- network ------------------------------------------------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        link = self.out.get(dst)
        if link is None:
            link = self.out[dst] = self.sim.net.link(self.name, dst)
        link.send(msg)

    def _deliver(self, src: str, msg: Any, mid: int) -> None:
        sim = self.sim
        blocked = sim.net.blocked
        if not self.up or (blocked and (src, self.name) in blocked):
            sim.net.dropped += 1
            if sim._trace is not None:
                sim._trace((sim.now_ns, "drop", src, self.name, mid,
                            "down" if not self.up else "partition"))
            return
        if sim._trace is not None:
            sim._trace((sim.now_ns, "deliver", self.name, src, mid, None))
        self.delivered += 1
        self.node.on_message(src, msg)  # type: ignore[union-attr]  # up implies a node

    # -- timers -------------------------------------------------------------------------------
    def set_timer(self, delay_ns: int, name: Hashable) -> None:
        if delay_ns < 0:
            raise ValueError(f"timer {name!r}: delay_ns={delay_ns} is negative")
        sim = self.sim
        token = next(sim._count)
        self.timers[name] = token
        heappush(sim._heap, (sim.now_ns + delay_ns, token, self._fire, name, token, None))

    def cancel_timer(self, name: Hashable) -> bool:
        return self.timers.pop(name, None) is not None

    def _fire(self, name: Hashable, token: int, _unused: None) -> None:
        if self.timers.get(name) != token:
            return  # cancelled, replaced, or set before a crash
        del self.timers[name]
        sim = self.sim
        if sim._trace is not None:
            sim._trace((sim.now_ns, "timer", self.name, None, token, name))
        self.node.on_timer(name)  # type: ignore[union-attr]
