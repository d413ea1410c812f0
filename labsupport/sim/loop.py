"""The simulation: one event loop, one clock, one seed, and the machines and network it drives.

The design of FoundationDB's deterministic simulation, in Python: every source of
nondeterminism is replaced by something the loop controls. There are no threads and nothing
sleeps: time is an integer ``now_ns`` that jumps to the next event. Randomness comes from one
seed. The order of events is total: two events at the same nanosecond run in the order they
were scheduled. So a run is a pure function of (seed, scenario code), and
``Simulation(seed).trace.digest()`` proves it bit for bit.

Theory of operation
-------------------
The pending events are a binary heap (``heapq``) of 6-tuples::

    (t_ns, seq, fn, a, b, c)        ->  at time t_ns, call fn(a, b, c)

``seq`` comes from one counter, so it is unique and the heap never compares beyond it: the
order is (time, scheduling order) and no callable is ever compared. A message delivery is
``(t, mid, host.deliver, src, msg, mid)``: no object is created per event beyond the tuple, and
``host.deliver`` is a bound method made once per host. Cost: O(log n) per event, n the number
of pending events; the loop body is a pop, a store of ``now_ns`` and a call.

Randomness: ``sim.rng`` is ``random.Random(seed)``, for the scenario's own choices. Components
draw from streams derived from the seed and a name (``stream("link/a->b")``, ``"node/a/0"``,
``"disk/a"``) through BLAKE2b, so streams are independent of each other and of the order
components are created in: a change on one link does not shift the delays of another, which
keeps a failing seed meaningful while the scenario is edited.

Scenario control: ``at``/``after`` schedule a plain callback (a crash, a partition, a client
request) in simulated time; ``run(until_ns=..)`` / ``run(for_ns=..)`` / ``run(max_events=..)``
advance; ``step()`` runs one event (the asyncio bridge in :mod:`labsupport.sim.aio` uses it).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable, Hashable
from heapq import heappop, heappush
from typing import Any

from .disk import SimDisk
from .errors import SimConfigError, UnknownNode
from .network import Network
from .node import Host, Node
from .trace import Trace

__all__ = ["Simulation", "derive_seed"]

_FOREVER = 1 << 62


def derive_seed(seed: int, name: str) -> int:
    """A 64-bit seed for stream ``name`` of run ``seed`` (stable across processes and machines)."""
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Simulation:
    """A deterministic discrete-event simulation of nodes on a network.

    ``trace=False`` records no trace (the benchmark's mode); counts are still kept.
    """

    def __init__(self, seed: int = 0, *, trace: bool = True) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now_ns = 0
        self.events = 0  # events run so far
        self.trace = Trace(trace)
        self._trace: Callable[[tuple], None] | None = self.trace.entries.append if trace else None
        self._heap: list[tuple] = []
        self._count = itertools.count(1)
        self._stopped = False
        self.hosts: dict[str, Host] = {}
        self.net = Network(self)
        self.loop: Any = None  # the SimEventLoop driving this simulation, if any

    # -- randomness ---------------------------------------------------------------------------
    def stream(self, name: str) -> random.Random:
        """A random stream of its own for component ``name``, derived from the seed."""
        return random.Random(derive_seed(self.seed, name))

    # -- nodes --------------------------------------------------------------------------------
    def add_node(self, name: str, factory: Callable[[], Node], *, unsynced: str = "random",
                 torn_writes: bool = False) -> Host:
        """Add a node built by ``factory()`` (a class or a closure); it starts at the current
        time, after every node added before the next event. Disk options: see :class:`SimDisk`."""
        if name in self.hosts:
            raise SimConfigError(f"a node named {name!r} already exists")
        if not callable(factory):
            raise SimConfigError(f"node {name!r}: factory {factory!r} is not callable")
        disk = SimDisk(self.stream(f"disk/{name}"), unsynced=unsynced, torn_writes=torn_writes)
        host = self.hosts[name] = Host(self, name, factory, disk)
        self._push(self.now_ns, self._call, host.start, ())
        return host

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise UnknownNode(f"no node named {name!r} (nodes: {', '.join(self.hosts)})") from None

    def node(self, name: str) -> Node | None:
        """The live node object of ``name`` (None while it is down)."""
        return self.host(name).node

    def crash(self, name: str, *, restart_after_ns: int | None = None) -> tuple[int, int]:
        """Crash ``name`` now: volatile state and timers lost, disk damaged as its policy says.
        Returns ``(records lost, torn)``; with ``restart_after_ns`` schedules the restart too."""
        damage = self.host(name).crash()
        if restart_after_ns is not None:
            self.after(restart_after_ns, self.restart, name)
        return damage

    def restart(self, name: str) -> None:
        """Start a fresh node object for ``name`` on its surviving disk (no-op if it is up)."""
        host = self.host(name)
        if not host.up:
            host.start()

    def send(self, src: str, dst: str, msg: Any) -> None:
        """Send ``msg`` from ``src`` now, as if the node had (a scenario's injected request).
        A node that is down sends nothing: the message is traced as sent and dropped
        (``sender down``)."""
        host = self.host(src)
        if host.up:
            host.send(dst, msg)
            return
        self.net._known(dst)
        mid = next(self._count)
        self.net.dropped += 1
        if self._trace is not None:
            self._trace((self.now_ns, "send", src, dst, mid, msg))
            self._trace((self.now_ns, "drop", src, dst, mid, "sender down"))

    # -- scheduling ---------------------------------------------------------------------------
    def _push(self, t_ns: int, fn: Callable, a: Any = None, b: Any = None, c: Any = None) -> int:
        seq = next(self._count)
        heappush(self._heap, (t_ns, seq, fn, a, b, c))
        return seq

    @staticmethod
    def _call(fn: Callable, args: tuple, kwargs: dict | None) -> None:
        if kwargs:
            fn(*args, **kwargs)
        else:
            fn(*args)

    def at(self, t_ns: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` at simulated time ``t_ns`` (not in the past)."""
        if t_ns < self.now_ns:
            raise SimConfigError(f"at({t_ns}): that is before now ({self.now_ns} ns)")
        self._push(t_ns, self._call, fn, args, kwargs)

    def after(self, delay_ns: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn(*args, **kwargs)`` ``delay_ns`` from now."""
        if delay_ns < 0:
            raise SimConfigError(f"after({delay_ns}): a delay is not negative")
        self._push(self.now_ns + delay_ns, self._call, fn, args, kwargs)

    def log(self, text: str, node: Hashable = "*") -> None:
        """Write a line into the trace (a scenario's annotation: "client starts")."""
        self._record("log", node, text)

    def _record(self, kind: str, node: Hashable, detail: Any) -> None:
        if self._trace is not None:
            self._trace((self.now_ns, kind, node, None, None, detail))

    # -- running ------------------------------------------------------------------------------
    def run(self, until_ns: int | None = None, *, for_ns: int | None = None,
            max_events: int | None = None) -> int:
        """Run events in order until none is left, the clock would pass ``until_ns`` (or
        ``now + for_ns``), ``max_events`` have run, or a handler called :meth:`stop`. When it
        stops at a time limit the clock is left at that limit. Returns the events run."""
        if for_ns is not None:
            until_ns = self.now_ns + for_ns
        limit = _FOREVER if until_ns is None else until_ns
        budget = -1 if max_events is None else max_events
        heap = self._heap
        pop = heappop
        n = 0
        self._stopped = False
        while heap and n != budget:
            t, seq, fn, a, b, c = pop(heap)
            if t > limit:
                heappush(heap, (t, seq, fn, a, b, c))  # put it back: it belongs to a later run
                break
            self.now_ns = t
            fn(a, b, c)
            n += 1
            if self._stopped:
                break
        if until_ns is not None and not self._stopped and n != budget and self.now_ns < until_ns:
            self.now_ns = until_ns  # nothing left before the horizon: time passes to it
        self.events += n
        return n

    def stop(self) -> None:
        """Make :meth:`run` return after the current event."""
        self._stopped = True

    def step(self) -> bool:
        """Run the next event; False when there is none."""
        if not self._heap:
            return False
        t, _, fn, a, b, c = heappop(self._heap)
        self.now_ns = t
        fn(a, b, c)
        self.events += 1
        return True

    def next_event_ns(self) -> int | None:
        """When the next event is due (None if there is none)."""
        return self._heap[0][0] if self._heap else None

    def advance_to(self, t_ns: int) -> None:
        """Move the clock forward to ``t_ns`` without running anything (the next event must not
        be earlier: time does not skip events)."""
        nxt = self.next_event_ns()
        if t_ns < self.now_ns or (nxt is not None and nxt < t_ns):
            raise SimConfigError(f"advance_to({t_ns}): now is {self.now_ns}, next event at {nxt}")
        self.now_ns = t_ns

    @property
    def pending(self) -> int:
        """Events waiting on the heap (including cancelled timers not yet reached)."""
        return len(self._heap)
