"""A worker process: one asyncio loop consuming its partitions, cleaning, handing to the sink.

Why processes and asyncio: cleaning is CPU work in Python, and the GIL lets one process run
Python on one core at a time, so the parallel part is processes (one per core, partitions split
``p % workers``); the waiting (the broker, the sink's notices) is I/O, which one asyncio loop
per process interleaves without threads.

The loop, per message taken from the transport::

    prev_line > mark[p]        -> a gap (a message was lost): drop it, the coordinator resends
    lines <= mark[p]           -> already handled (a redelivery): skipped
    the rest                   -> kept
    token kept until a commit notice (SUB) says mark[p] >= its last line -> ack(token)

and then, for everything kept from one ``get`` (a few messages when the worker is keeping up,
up to 64 when it is behind), *one* ``clean_batch`` call, cut into one delivery per partition
and sent to the coordinator as one results message (in runs of up to ``CALL_LINES`` lines when
the worker is behind): a call's fixed cost (~150 us) is paid once per wake-up, not once per
message, which is what lets small low-latency messages keep up. A
worker says hello (an empty results message) once its sockets are up, so a paced source starts
its clock only when every worker can take ticks.

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
import time
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
from .vector import clean_batch, split_by_partition

__all__ = ["CALL_LINES", "WorkerConfig", "clean_messages", "run_worker", "worker_main"]

CALL_LINES = 4096  # lines cleaned per call at most (unless one message is longer)


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
    await out.send(pickle.dumps((cfg.worker, cfg.epoch, None), protocol=5))  # hello: ready
    try:
        while os.getppid() == parent:
            got = await consumer.get(100)
            kept, drop = [], []
            for token, payload in got:
                m = wire.decode(payload)
                p = m.partition
                new = wire.admit(int(mark[p]), m.prev_line, m.lines)
                if new is None or not new.any():
                    drop.append(token)  # a gap to wait out, or a redelivery already handled
                    continue
                kept.append((m, new))
                mark[p] = m.last_line
                pending.append((p, m.last_line, token))
            if drop:
                await consumer.ack(drop)
            for part in _runs(kept):  # stamped when its cleaning starts: before, it queued
                deliveries = clean_messages(part, cfg.states, cfg.rules, time.perf_counter_ns())
                await out.send(pickle.dumps((cfg.worker, cfg.epoch, deliveries), protocol=5))
    finally:
        acker.cancel()
        consumer.close()
        out.close()
        sub.close(linger=0)
        ctx.term()


def _runs(kept: list[tuple[wire.Message, np.ndarray]]) -> list[list]:
    """``kept`` in runs of about :data:`CALL_LINES` lines (at least one message each): one
    call per run, each run's results sent as soon as it is cleaned, so the coordinator's commit
    of one run overlaps the cleaning of the next."""
    runs: list[list] = []
    n = CALL_LINES
    for m, new in kept:
        if n >= CALL_LINES:
            runs.append([])
            n = 0
        runs[-1].append((m, new))
        n += m.lines.size
    return runs


def clean_messages(kept: list[tuple[wire.Message, np.ndarray]], states: dict[str, SymbolState],
                   rules: Rules, recv_ns: int = 0) -> list[Delivery]:
    """The new lines (``mask``) of each message, cleaned in one call; one delivery per partition
    (its last line the partition's last message's, its ``sent_ns`` the oldest message's)."""
    lines = np.concatenate([m.lines[new] for m, new in kept])
    raws = [m.raws[i] for m, new in kept for i in np.flatnonzero(new).tolist()]
    parts = np.concatenate([np.full(int(new.sum()), m.partition, np.int16) for m, new in kept])
    batch = clean_batch(lines, raws, states, rules)
    by_part = {kept[0][0].partition: batch} if len(kept) == 1 else \
        split_by_partition(batch, lines, parts)
    last: dict[int, int] = {}
    first: dict[int, wire.Message] = {}
    for m, _ in kept:
        last[m.partition] = m.last_line
        first.setdefault(m.partition, m)
    done = time.perf_counter_ns()
    return [Delivery(p, last[p], b, first[p].sent_ns, first[p].pub_ns, recv_ns, done)
            for p, b in by_part.items()]


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
