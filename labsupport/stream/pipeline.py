"""The coordinator: source, worker processes and the exactly-once sink, in one loop.

::

    TickSource --chunks--> Producer ==transport==> worker 0..N-1 (asyncio, clean_batch)
        ^                                               |  PUSH results (pickled deliveries)
        | resend from the committed mark                v
        +------------------------------------ coordinator: StreamSink.commit (one WAL record)
                                                        |  PUB the marks (16 x int64)
                                         workers ack <--+  the broker's messages they cover

One thread, no locks: each turn publishes while the in-flight window has room (``window``
source lines published and not yet committed: the bounded queue that makes a slow sink slow the
source down), commits every delivery that has arrived as one group, publishes the new marks,
and checks the workers. A dead worker (``kill -9``) is replaced by a new *epoch* that starts
from the committed marks and the committed cleaning state; deliveries of the old epoch still in
flight are discarded. What the transport lost is resent from the source: at once for ZeroMQ
(which keeps nothing for a dead peer), and for any transport after ``retransmit_s`` without
progress (a broker restarted without its data). The worker's ``prev_line`` check and the sink's
marks make every resend harmless.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import zmq

from . import fastparse, wire
from .clean import PARTITIONS, Rules
from .sink import StreamSink
from .source import ReplayFeed, TickSource
from .transport import TransportSpec, open_producer
from .worker import WorkerConfig, worker_main

__all__ = ["RunResult", "Pipeline", "run_pipeline"]


@dataclass
class RunResult:
    """What one run did: counts, time, and the end-to-end latency of each committed tick."""

    transport: str
    workers: int
    ticks: int = 0  # source lines this run had to deliver (not committed before it started)
    accepted: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    commits: int = 0
    restarts: int = 0
    resends: int = 0
    seconds: float = 0.0
    latency_ns: list[tuple[int, int]] = field(default_factory=list)  # (latency, ticks)
    lag: list[tuple[float, list[int]]] = field(default_factory=list)  # (t_s, lines per worker)

    @property
    def rate(self) -> float:
        return self.ticks / self.seconds if self.seconds > 0 else float("nan")

    def latencies(self) -> np.ndarray:
        """One latency (ns) per committed tick: a delivery's latency repeated for its ticks."""
        if not self.latency_ns:
            return np.zeros(0, dtype=np.int64)
        lat, n = np.array(self.latency_ns, dtype=np.int64).T
        return np.repeat(lat, n)


class Pipeline:
    """One run of the stream into ``db``; ``run()`` returns when every line is committed."""

    def __init__(self, source: TickSource, db: str, spec: TransportSpec, *,
                 rules: Rules | None = None, paced: bool = False, speed: float = 1.0,
                 window: int = 100_000, retransmit_s: float = 3.0,
                 on_commit: Callable[[Pipeline], None] | None = None,
                 progress: Callable[[Pipeline], None] | None = None,
                 sink: Callable[[str], StreamSink] = StreamSink) -> None:
        self.source, self.spec, self.rules = source, spec, rules or Rules()
        self.sink = sink(db)  # StreamSink (the tick store) or anything with its interface
        self.paced, self.speed, self.window = paced, speed, window
        self.retransmit_s, self.on_commit, self.progress = retransmit_s, on_commit, progress
        self.result = RunResult(spec.kind, spec.workers)
        self.procs: dict[int, mp.process.BaseProcess] = {}
        self.epochs = dict.fromkeys(range(spec.workers), 0)
        self._mp = mp.get_context("fork")

    # -- workers ----------------------------------------------------------------------------
    def _spawn(self, w: int) -> None:
        parts = [p for p in range(PARTITIONS) if p % self.spec.workers == w]
        cfg = WorkerConfig(w, self.epochs[w], self.spec, self.sink.path, self.results_addr,
                           self.notices_addr, self.sink.hwm.copy(), self.sink.states(parts),
                           self.rules)
        proc = self._mp.Process(target=worker_main, args=(cfg,), name=f"stream-worker-{w}")
        proc.start()
        self.procs[w] = proc

    def worker_pids(self) -> dict[int, int]:
        return {w: p.pid for w, p in self.procs.items() if p.pid is not None}

    def _restart_dead(self) -> None:
        for w, proc in list(self.procs.items()):
            if proc.is_alive():
                continue
            proc.join()
            if proc.exitcode == 1:  # an exception in the worker: a bug, not a crash to ride out
                raise RuntimeError(f"worker {w} raised (exit status 1); its traceback is above")
            self.epochs[w] += 1
            self.result.restarts += 1
            self.producer.rebind(w)
            self._spawn(w)
            if self.spec.kind == "zmq":  # nothing was kept for the dead worker: send again
                self._resend([p for p in range(PARTITIONS) if p % self.spec.workers == w])

    # -- publishing -------------------------------------------------------------------------
    def _in_flight(self) -> int:
        """Source lines published and not yet committed (the bounded queue)."""
        committed = sum(int(np.searchsorted(self._plines[p], self.sink.hwm[p], side="right"))
                        for p in range(PARTITIONS))
        return self._published - committed + self._base

    def _publish(self, k: int, due_ns: int | None = None) -> bool:
        c = self.source.chunks[k]
        lines = self.source.lines[c.idx]
        if lines[-1] <= self.sink.hwm[c.partition]:
            return True  # committed by an earlier run
        sent = due_ns if due_ns is not None else time.perf_counter_ns()
        payload = wire.encode(c.partition, c.prev_line, sent, lines, self.source.body(k))
        if not self.producer.publish(c.partition, payload):
            return False
        self._published += c.size
        return True

    def _resend(self, partitions: list[int]) -> None:
        """Publish again every already-published chunk of ``partitions`` past the marks."""
        want = set(partitions)
        for k in range(self._cursor):
            c = self.source.chunks[k]
            if c.partition in want and self.source.lines[c.idx[-1]] > self.sink.hwm[c.partition]:
                payload = wire.encode(c.partition, c.prev_line, time.perf_counter_ns(),
                                      self.source.lines[c.idx], self.source.body(k))
                while not self.producer.publish(c.partition, payload):
                    time.sleep(0.001)
                self.result.resends += 1

    # -- the loop ---------------------------------------------------------------------------
    def _done(self) -> bool:
        return bool(np.all(self.sink.hwm >= self.source.last_line))

    def _commit(self, raw: list[bytes]) -> None:
        deliveries = []
        for data in raw:
            w, epoch, ds = pickle.loads(data)
            if epoch == self.epochs[w]:
                deliveries.extend(ds)
        acc, rej = self.sink.commit(deliveries)
        now = time.perf_counter_ns()
        self.notices.send(self.sink.hwm.tobytes())
        if acc or rej:
            r = self.result
            r.accepted += acc
            r.rejected += rej
            r.commits += 1
            for d in deliveries:
                r.reasons.update(x.reason for x in d.batch.rejected)
                if d.sent_ns and len(d.batch):
                    r.latency_ns.append((now - d.sent_ns, len(d.batch)))
            self._last_progress = time.monotonic()
            if self.on_commit is not None:
                self.on_commit(self)

    def lag(self) -> list[int]:
        """Source lines published and not committed, per worker (consumer lag)."""
        out = [0] * self.spec.workers
        for p in range(PARTITIONS):
            pub = int(np.searchsorted(self._plines[p], self._pub_mark[p], side="right"))
            com = int(np.searchsorted(self._plines[p], self.sink.hwm[p], side="right"))
            out[p % self.spec.workers] += max(0, pub - com)
        return out

    def run(self) -> RunResult:
        src, r = self.source, self.result
        self._plines = [src.lines[src.parts == p] for p in range(PARTITIONS)]
        self._base = sum(int(np.searchsorted(self._plines[p], self.sink.hwm[p], side="right"))
                         for p in range(PARTITIONS))
        r.ticks = len(src) - self._base
        self._published, self._cursor = 0, 0
        self._pub_mark = self.sink.hwm.copy()
        ctx = zmq.Context.instance()
        self.results = ctx.socket(zmq.PULL)
        self.results.bind("tcp://127.0.0.1:*")
        self.results_addr = self.results.getsockopt_string(zmq.LAST_ENDPOINT)
        self.notices = ctx.socket(zmq.PUB)
        self.notices.bind("tcp://127.0.0.1:*")
        self.notices_addr = self.notices.getsockopt_string(zmq.LAST_ENDPOINT)
        self.producer = open_producer(self.spec)
        fastparse.warm()  # forked workers inherit the compiled kernel
        feed = ReplayFeed(src, speed=self.speed) if self.paced else None
        released: list[tuple[int, int]] = []
        t0 = time.perf_counter()
        try:
            self.producer.reset()
            for w in range(self.spec.workers):
                self._spawn(w)
            if feed is not None:
                feed.start()
            self._last_progress = time.monotonic()
            next_check = 0.0
            while not self._done():
                if feed is not None:
                    released.extend(feed.released())
                while self._cursor < len(src.chunks) and self._in_flight() < self.window:
                    if feed is not None:
                        if not released or released[0][0] != self._cursor:
                            break
                        due = released[0][1]
                    else:
                        due = None
                    if not self._publish(self._cursor, due):
                        break
                    c = src.chunks[self._cursor]
                    self._pub_mark[c.partition] = src.lines[c.idx[-1]]
                    self._cursor += 1
                    if feed is not None:
                        released.pop(0)
                self.producer.flush()
                got = []
                if self.results.poll(20):
                    while len(got) < 256:
                        try:
                            got.append(self.results.recv(zmq.NOBLOCK))
                        except zmq.Again:
                            break
                if got:
                    self._commit(got)
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 0.1
                    self._restart_dead()
                    r.lag.append((time.perf_counter() - t0, self.lag()))
                    if self.progress is not None:
                        self.progress(self)
                    if now - self._last_progress > self.retransmit_s:
                        self._resend(list(range(PARTITIONS)))
                        self._last_progress = now
        finally:
            r.seconds = time.perf_counter() - t0
            self._stop()
        return r

    def _stop(self) -> None:
        for proc in self.procs.values():
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs.values():
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.producer.close()
        self.results.close(linger=0)
        self.notices.close(linger=0)
        self.sink.close()


def run_pipeline(source: str | os.PathLike[str], db: str | os.PathLike[str], *,
                 transport: str = "zmq", workers: int = 2, url: str = "", batch: int = 1000,
                 rules: Rules | None = None, paced: bool = False, **kw) -> RunResult:
    """Read ``source``, stream it through ``transport`` into the store at ``db``."""
    spec = TransportSpec(transport, url=url, workers=workers)
    return Pipeline(TickSource(source, batch=batch), os.fspath(db), spec, rules=rules,
                    paced=paced, **kw).run()
