"""Group commit: the sink's durable commit off the coordinator's thread, one WAL record per group.

A commit is mostly waiting for the disk (an fdatasync of the dead letters, one of the WAL:
~0.3 ms each on this machine's disk when idle, several ms when it is busy). Done inline, the
coordinator could neither publish nor receive meanwhile, so every tick behind it waited too.
Here the coordinator hands a *group* (every delivery that arrived since the last hand-over) to
the committer and goes on; while that group's syncs run, the next group builds up and is handed
over as soon as the first stage is free: the commit rate follows the load, with no timer and no
lost wake-up (each stage signals on an in-process ZeroMQ socket the coordinator polls with its
others). The two syncs of a commit are in two stages on two threads (the dead letters' fsync in
``prepare``, the WAL record's fdatasync in ``finish``), so one group's WAL sync overlaps the
next group's dead-letter sync. Python releases the GIL inside both, so the waits really
overlap the coordinator's work.

What does not change is the order: a group's acknowledgements (the commit notice) are sent by
the coordinator only after :meth:`collect` returns that group, i.e. after its WAL record is
durable; groups finish in the order they were prepared, so marks never go backwards, and each
commit point (the WAL record) still follows its own dead letters' fsync. The sink is used by
the committer's threads alone while a group is in flight; ``collect(block=True)`` returns when
it is idle, before the coordinator reads it (a restarted worker's starting state).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq

from .sink import Delivery

__all__ = ["Group", "GroupCommitter"]

_ids = itertools.count()


@dataclass
class Group:
    """Deliveries committed together, with when each arrived; the outcome once durable."""

    deliveries: list[Delivery] = field(default_factory=list)
    arrived: list[int] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    durable_ns: int = 0

    def add(self, ds: Sequence[Delivery], at: int) -> None:
        self.deliveries.extend(ds)
        self.arrived.extend([at] * len(ds))


class GroupCommitter:
    """Commits groups on two threads: *prepare* (the dead letters, fsync) then *finish* (the
    WAL record, fdatasync), so group N+1's prepare overlaps group N's finish. A sink without
    the two steps (only ``commit``) runs it whole in the second stage. :attr:`socket` is
    readable when a stage hands a group on."""

    def __init__(self, sink, ctx: zmq.Context | None = None) -> None:
        ctx = ctx or zmq.Context.instance()
        self.sink = sink
        self._two_step = hasattr(sink, "prepare") and hasattr(sink, "finish")
        addr = f"inproc://stream-commit-{next(_ids)}"
        self.socket = ctx.socket(zmq.PULL)
        self.socket.bind(addr)
        self._prep: queue.SimpleQueue[Group | None] = queue.SimpleQueue()
        self._fin: queue.SimpleQueue[tuple[Group, Any] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[Group, BaseException | None]] = queue.SimpleQueue()
        self.in_flight = 0
        self._preparing = False  # a group in the first stage
        self._threads = [threading.Thread(target=self._serve, args=(ctx, addr, stage),
                                          daemon=True, name=f"group-commit-{stage}")
                         for stage in ("prepare", "finish")]
        for t in self._threads:
            t.start()

    def _serve(self, ctx: zmq.Context, addr: str, stage: str) -> None:
        sig = ctx.socket(zmq.PUSH)  # this thread's own socket
        sig.connect(addr)
        try:
            if stage == "prepare":
                while (g := self._prep.get()) is not None:
                    try:
                        staged = self.sink.prepare(g.deliveries) if self._two_step else None
                    except BaseException as exc:  # handed to the coordinator, raised there
                        self._fin.put((g, exc))
                    else:
                        self._fin.put((g, staged))
                    self._preparing = False
                    sig.send(b"")
            else:
                while (item := self._fin.get()) is not None:
                    g, staged = item
                    err = staged if isinstance(staged, BaseException) else None
                    if err is None:
                        try:
                            g.accepted, g.rejected = (self.sink.finish(staged) if self._two_step
                                                      else self.sink.commit(g.deliveries))
                            g.durable_ns = time.perf_counter_ns()
                        except BaseException as exc:
                            err = exc
                    self._done.put((g, err))
                    sig.send(b"")
        finally:
            sig.close(linger=0)

    @property
    def busy(self) -> bool:
        """True while a group is in either stage."""
        return self.in_flight > 0

    @property
    def ready(self) -> bool:
        """True when the first stage can take a group (the next one builds up meanwhile)."""
        return not self._preparing and self.in_flight < 2

    def submit(self, group: Group) -> None:
        if not self.ready:
            raise RuntimeError("a group is already being prepared")
        self._preparing = True
        self.in_flight += 1
        self._prep.put(group)

    def collect(self, block: bool = False) -> list[Group]:
        """The groups now durable, in commit order (with ``block``: every group in flight,
        waiting for them). Raises what the sink raised."""
        while True:  # the signals so far, drained *before* the queue is read: a group
            try:  # finished after this still leaves its signal, and the next poll wakes for it
                self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        out: list[Group] = []
        while self.in_flight:
            try:
                g, err = self._done.get(block=block)
            except queue.Empty:
                break
            self.in_flight -= 1
            if err is not None:
                raise err
            out.append(g)
        return out

    def close(self) -> None:
        self._prep.put(None)
        self._fin.put(None)
        for t in self._threads:
            t.join(10)
        self.socket.close(linger=0)
