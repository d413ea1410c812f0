"""Simulated time for code that takes an injected clock, and an asyncio loop that runs on it.

Two ways to put a component on the simulator's clock, the same two trio's ``MockClock`` and
tokio's paused time offer:

1. **Inject a clock.** :class:`SimClock` reads the simulation's ``now_ns`` and offers it in the
   shapes this package's components ask for::

       clock = SimClock(sim)
       HttpServer(app, clock=clock.monotonic, date_clock=clock.time)   # float seconds
       Engine(clock_ms=clock.clock_ms)                                  # kv: Unix ms, int
       Keyspace(clock_ms=clock.clock_ms)

   ``monotonic()`` starts at 0 with the simulation; ``time()`` / ``time_ns()`` / ``clock_ms()``
   add a fixed epoch (default 2026-01-01T00:00:00Z), so wall-clock output is the same every run.

2. **Run asyncio on it.** :class:`SimEventLoop` is an ``asyncio.BaseEventLoop`` whose ``time()``
   is the simulated clock. When asyncio would block in ``select(timeout)`` for the next timer,
   the loop instead runs the simulation's own events due before that timer, one at a time,
   returning to asyncio as soon as one of them made a callback ready (a message put into an
   ``asyncio.Queue``), and otherwise jumps the clock to the timer. So ``asyncio.sleep(3600)``
   returns at once in wall time, ``asyncio.wait_for`` times out at exactly its deadline, and
   asyncio tasks and :class:`~labsupport.sim.node.Node` handlers interleave on one clock, in an
   order fixed by the seed. If nothing is ready, no timer and no event is left while the main
   coroutine waits, it can never finish: the loop raises :class:`SimDeadlock`. Use it with
   ``asyncio.Runner(loop_factory=SimEventLoop)``, :func:`run` below (which also works inside
   a notebook, whose kernel already runs a loop), or the policy
   (``asyncio.set_event_loop_policy(SimEventLoopPolicy())``; policies are the 3.11 route).

What the simulated loop does not do: sockets, subprocesses, signals, threads (``add_reader``
and friends raise ``NotImplementedError``). A component that does network I/O runs in the
simulation by talking to the simulated network instead: :class:`AsyncNode` is a node whose
``main()`` coroutine reads messages with ``await self.recv()``, so the same logic can sit behind
a real socket in production and behind the simulated network in a test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import SimDeadlock
from .loop import Simulation
from .node import Node

__all__ = ["SimClock", "SimEventLoop", "SimEventLoopPolicy", "AsyncNode", "run", "EPOCH_S"]

EPOCH_S = 1_767_225_600  # 2026-01-01T00:00:00Z: the wall time at simulated time zero
T = TypeVar("T")


class SimClock:
    """The simulation's clock in the signatures components take (bound methods are callables)."""

    __slots__ = ("sim", "epoch_ns")

    def __init__(self, sim: Simulation, *, epoch_s: int = EPOCH_S) -> None:
        self.sim = sim
        self.epoch_ns = epoch_s * 1_000_000_000

    def now_ns(self) -> int:
        """Simulated nanoseconds since the simulation began."""
        return self.sim.now_ns

    monotonic_ns = now_ns

    def monotonic(self) -> float:
        """Simulated seconds since the simulation began (``time.monotonic``'s shape)."""
        return self.sim.now_ns / 1e9

    def time_ns(self) -> int:
        """Simulated Unix time in nanoseconds."""
        return self.epoch_ns + self.sim.now_ns

    def time(self) -> float:
        """Simulated Unix time in seconds (``time.time``'s shape)."""
        return (self.epoch_ns + self.sim.now_ns) / 1e9

    def clock_ms(self) -> int:
        """Simulated Unix time in whole milliseconds (the kv keyspace's ``clock_ms``)."""
        return (self.epoch_ns + self.sim.now_ns) // 1_000_000


class _SimSelector:
    """Stands where the selector would: waiting becomes running simulation events."""

    def __init__(self, loop: SimEventLoop) -> None:
        self.loop = loop

    def select(self, timeout: float | None) -> list:
        if timeout == 0:
            return []  # asyncio has callbacks ready: let it run them first
        sim = self.loop.sim
        deadline = None
        if timeout is not None:
            deadline = sim.now_ns + max(1, math.ceil(timeout * 1e9))
            scheduled = self.loop._scheduled  # asyncio's timer heap: aim at its exact nanosecond
            if scheduled:
                when = scheduled[0]._when
                exact = round(when * 1e9)  # float seconds -> the nearest ns, as long as that
                while exact / 1e9 + self.loop._clock_resolution <= when:  # makes it due
                    exact += 1
                deadline = max(sim.now_ns, min(deadline, exact))
        ready = self.loop._ready  # asyncio's ready queue (a BaseEventLoop attribute)
        heap = sim._heap
        while heap and (deadline is None or heap[0][0] <= deadline):
            sim.step()
            if ready:
                return []
        if deadline is None:
            raise SimDeadlock(f"at t={sim.now_ns} ns nothing is ready and nothing is scheduled, "
                              "but the awaited coroutine has not finished")
        sim.now_ns = deadline
        return []

    def close(self) -> None:
        pass


class SimEventLoop(asyncio.BaseEventLoop):
    """An asyncio event loop on a simulation's clock (a new ``Simulation(seed)`` if none given)."""

    def __init__(self, sim: Simulation | None = None, *, seed: int = 0) -> None:
        super().__init__()
        self.sim = sim if sim is not None else Simulation(seed)
        self.sim.loop = self
        self.clock = SimClock(self.sim)
        self._selector = _SimSelector(self)
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self.sim.now_ns / 1e9

    def _process_events(self, event_list: list) -> None:
        pass  # no file descriptors: the simulated network delivers through callbacks

    def _write_to_self(self) -> None:
        pass  # single-threaded: nobody to wake


class SimEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """A policy whose new loops are :class:`SimEventLoop` (each on a fresh simulation)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed

    def new_event_loop(self) -> SimEventLoop:
        return SimEventLoop(seed=self.seed)


def run(main: Coroutine[Any, Any, T], *, sim: Simulation | None = None, seed: int = 0) -> T:
    """``asyncio.run`` in simulated time: run ``main`` on a :class:`SimEventLoop` and return its
    result (the loop is closed afterwards; the simulation, if passed, stays inspectable).

    Called where a loop is already running in this thread (a Jupyter cell runs inside the
    kernel's loop, and asyncio refuses to nest loops), the simulated loop runs in a worker
    thread of its own and this call waits for it: still one thread for the whole simulation,
    so still deterministic.
    """
    def go() -> T:
        with asyncio.Runner(loop_factory=lambda: SimEventLoop(sim, seed=seed)) as runner:
            return runner.run(main)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return go()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sim-loop") as pool:
        return pool.submit(go).result()


class AsyncNode(Node):
    """A node written as a coroutine: override ``async def main(self)``.

    Messages queue up in an ``asyncio.Queue``; ``await self.recv()`` takes the next
    ``(src, msg)``. ``send``, ``now_ns``, ``disk`` work as for any node. The simulation must be
    driven by a :class:`SimEventLoop` (``run(coro, sim=sim)``). A crash cancels ``main``'s task;
    a restart starts a fresh ``main`` on a fresh object.
    """

    inbox: asyncio.Queue
    task: asyncio.Task | None = None

    async def main(self) -> None:
        raise NotImplementedError

    def on_start(self) -> None:
        loop = self._host.sim.loop
        if loop is None:
            raise RuntimeError(f"AsyncNode {self.name!r} needs a SimEventLoop on its simulation")
        self.inbox = asyncio.Queue()
        self.task = loop.create_task(self.main(), name=f"sim-node-{self.name}")

    def on_message(self, src: str, msg: Any) -> None:
        self.inbox.put_nowait((src, msg))

    def on_crash(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def recv(self) -> tuple[str, Any]:
        """The next ``(src, msg)`` delivered to this node."""
        return await self.inbox.get()
