"""A worker process: one asyncio loop consuming its partitions, cleaning, handing to the sink.

Why processes and asyncio: cleaning is CPU work in Python, and the GIL lets one process run
Python on one core at a time, so the parallel part is processes (one per core, partitions split
``p % workers``); the waiting (the broker, the sink's notices) is I/O, which one asyncio loop
per process interleaves without threads.

The loop, per message taken from the transport::

    prev_line > mark[p]        -> a gap (a message was lost): drop it, the coordinator resends
    lines <= mark[p]           -> already handled (a redelivery): skipped
    the rest                   -> clean_batch() -> results socket (PUSH to the coordinator)
    token kept until a commit notice (SUB) says mark[p] >= its last line -> ack(token)

``mark[p]`` starts at the committed high-water mark and the cleaning state starts from the
committed store (both passed in by the coordinator), so a restarted worker continues exactly
where the last durable commit ended. A worker exits when its parent dies (PR_SET_PDEATHSIG), so
killing the coordinator with -9 leaves no orphans.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import pickle
import signal
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import zmq
import zmq.asyncio

from . import wire
from .clean import PARTITIONS, Rules, SymbolState
from .sink import Delivery
from .transport import TransportSpec, open_consumer
from .vector import clean_batch

__all__ = ["WorkerConfig", "run_worker", "worker_main"]


@dataclass
class WorkerConfig:
    worker: int
    epoch: int
    spec: TransportSpec
    store: str  # the tick store's directory (the worker closes its inherited descriptors)
    results: str  # the coordinator's PULL address
    notices: str  # the coordinator's PUB address
    marks: np.ndarray  # committed high-water mark per partition
    states: dict[str, SymbolState]
    rules: Rules

    @property
    def partitions(self) -> list[int]:
        return [p for p in range(PARTITIONS) if p % self.spec.workers == self.worker]


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the worker notices the parent's death through getppid()
        pass


async def run_worker(cfg: WorkerConfig) -> None:
    ctx = zmq.asyncio.Context()
    out = ctx.socket(zmq.PUSH)
    out.setsockopt(zmq.SNDHWM, cfg.spec.hwm)
    out.setsockopt(zmq.LINGER, 2000)
    out.connect(cfg.results)
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(cfg.notices)
    consumer = open_consumer(cfg.spec, cfg.worker, cfg.partitions, ctx)
    mark = cfg.marks.astype(np.int64).copy()
    pending: deque[tuple[int, int, Any]] = deque()  # (partition, last line, token) to ack
    parent = os.getppid()

    async def acks() -> None:
        while True:
            committed = np.frombuffer(await sub.recv(), dtype=np.int64)
            done = []
            while pending and committed[pending[0][0]] >= pending[0][1]:
                done.append(pending.popleft()[2])
            if done:
                await consumer.ack(done)

    acker = asyncio.ensure_future(acks())
    try:
        while os.getppid() == parent:
            got = await consumer.get(100)
            deliveries, drop = [], []
            for token, payload in got:
                m = wire.decode(payload)
                p = m.partition
                new = wire.admit(int(mark[p]), m.prev_line, m.lines)
                if new is None or not new.any():
                    drop.append(token)  # a gap to wait out, or a redelivery already handled
                    continue
                idx = np.flatnonzero(new)
                batch = clean_batch(m.lines[new], [m.raws[i] for i in idx.tolist()],
                                    cfg.states, cfg.rules)
                deliveries.append(Delivery(p, m.last_line, batch, m.sent_ns))
                mark[p] = m.last_line
                pending.append((p, m.last_line, token))
            if drop:
                await consumer.ack(drop)
            if deliveries:
                await out.send(pickle.dumps((cfg.worker, cfg.epoch, deliveries), protocol=5))
    finally:
        acker.cancel()
        consumer.close()
        out.close()
        sub.close(linger=0)
        ctx.term()


def _close_store_files(store: str) -> None:
    """Close what fork copied of the sink's open files (the store's LOCK, WAL, dead letters):
    a worker outliving the coordinator by a moment must not keep the store locked."""
    root = os.path.realpath(store) + os.sep
    try:
        fds = [int(f) for f in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: nothing to find them by
        return
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(root):
                os.close(fd)
        except OSError:
            pass  # closed meanwhile (the listing's own descriptor)


def worker_main(cfg: WorkerConfig) -> None:
    """The entry point of a worker process (multiprocessing target)."""
    _die_with_parent()
    _close_store_files(cfg.store)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    asyncio.run(run_worker(cfg))
