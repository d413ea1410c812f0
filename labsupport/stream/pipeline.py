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
and checks the workers. Every wait is bounded in time, not in count: the turn blocks in one
poll on the results *and* the paced feed (a due chunk wakes it at once), and the commit is a
*group commit*: whatever arrived while the previous fdatasync ran goes into the next WAL record,
so the commit rate follows the load with no timer (one fdatasync, ~0.3 ms here, per turn).
Each delivery carries its timestamps (source, published, taken by a worker, cleaned, arrived,
durable):
:meth:`RunResult.stage_table` says where a tick's latency went. A dead worker (``kill -9``) is replaced by a new *epoch* that starts
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
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import zmq

from . import fastparse, wire
from .clean import PARTITIONS, Rules
from .groupcommit import Group, GroupCommitter
from .sink import StreamSink
from .source import DEFAULT_LINGER_NS, ReplayFeed, TickSource
from .transport import TransportSpec, open_producer
from .worker import WorkerConfig, worker_main

__all__ = ["STAGES", "RunResult", "Pipeline", "run_pipeline"]


LAG_EVERY_S = 0.02  # consumer lag sampled this often
# The coordinator has three threads (the loop, the paced feed, the committer) that hand the GIL
# to each other after every blocking call; at Python's default 5 ms a thread back from an
# fdatasync can wait that long for the GIL, so a run shortens the interval while it lasts.
SWITCH_INTERVAL_S = 0.0005
STAGES = ("batching, publish", "to worker", "cleaning", "to coordinator", "commit (fdatasync)")


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
    seconds: float = 0.0  # from every worker ready to the last commit
    startup_s: float = 0.0  # starting the workers, until each said hello
    latency_ns: list[tuple[int, int]] = field(default_factory=list)  # (latency, ticks)
    stamps: list[tuple[int, ...]] = field(default_factory=list)  # per delivery, see stage_table
    lag: list[tuple[float, list[int]]] = field(default_factory=list)  # (t_s, lines per partition)

    @property
    def rate(self) -> float:
        return self.ticks / self.seconds if self.seconds > 0 else float("nan")

    def latencies(self) -> np.ndarray:
        """One latency (ns) per committed tick: a delivery's latency repeated for its ticks."""
        if not self.latency_ns:
            return np.zeros(0, dtype=np.int64)
        lat, n = np.array(self.latency_ns, dtype=np.int64).T
        return np.repeat(lat, n)

    def stage_table(self) -> pd.DataFrame:
        """Where the latency went: per stage, p50/p99/max in ms over the committed ticks
        (each delivery's stamps: source, published, taken by a worker, cleaned, arrived at the
        coordinator, durable)."""
        if not self.stamps:
            return pd.DataFrame(columns=["p50_ms", "p99_ms", "max_ms"])
        a = np.array(self.stamps, dtype=np.int64)
        n = a[:, -1]
        rows = {}
        for i, name in enumerate((*STAGES, "end to end")):
            lo, hi = (0, len(STAGES)) if i == len(STAGES) else (i, i + 1)
            d = np.repeat(a[:, hi] - a[:, lo], n) / 1e6
            rows[name] = {"p50_ms": np.percentile(d, 50), "p99_ms": np.percentile(d, 99),
                          "max_ms": d.max()}
        return pd.DataFrame(rows).T.rename_axis("stage")

    def lag_frame(self) -> pd.DataFrame:
        """Consumer lag over time, one column per partition that had any."""
        if not self.lag:
            return pd.DataFrame()
        f = pd.DataFrame([y for _, y in self.lag], index=pd.Index([t for t, _ in self.lag],
                                                                   name="t_s"))
        f.columns = [f"p{c}" for c in f.columns]
        return f.loc[:, (f > 0).any()]


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
            for g in self.committer.collect(block=True):  # its state comes from the store
                self._finished(g)
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
        return self._published - self._committed + self._base

    def _count_committed(self) -> int:
        return sum(int(np.searchsorted(self._plines[p], self.sink.hwm[p], side="right"))
                   for p in range(PARTITIONS))

    def _publish(self, k: int, due_ns: int | None = None) -> bool:
        c = self.source.chunks[k]
        lines = self.source.lines[c.idx]
        if lines[-1] <= self.sink.hwm[c.partition]:
            return True  # committed by an earlier run
        # open loop: from the intended time of the chunk's first line (it waited for the rest)
        now = time.perf_counter_ns()
        sent = due_ns - round(c.wait_ns / self.speed) if due_ns is not None else now
        payload = wire.encode(c.partition, c.prev_line, sent, lines, self.source.body(k), now)
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

    def _receive(self, timeout_ms: int, poller: zmq.Poller) -> list[tuple[bytes, int]]:
        """Results that arrived (each with its arrival time), waiting at most ``timeout_ms``
        for the first one or for a due chunk of the feed."""
        got: list[tuple[bytes, int]] = []
        if self.results in dict(poller.poll(timeout_ms)):
            while len(got) < 256:
                try:
                    got.append((self.results.recv(zmq.NOBLOCK), time.perf_counter_ns()))
                except zmq.Again:
                    break
        return got

    def _take(self, raw: list[tuple[bytes, int]]) -> None:
        """Results into the next group (a worker's hello marks it ready; an old epoch's
        deliveries are dropped)."""
        for data, at in raw:
            w, epoch, ds = pickle.loads(data)
            if ds is None:
                self._ready.add((w, epoch))
            elif epoch == self.epochs[w]:
                self._group.add(ds, at)

    def _advance(self, block: bool = False) -> None:
        """Finish the group in flight if it is durable (``block``: wait for it), then hand the
        next one to the committer."""
        for g in self.committer.collect(block):
            self._finished(g)
        if self.committer.ready and self._group.deliveries:
            self.committer.submit(self._group)
            self._group = Group()

    def _finished(self, g: Group) -> None:
        """A durable group: notices out (the workers ack), counters, latency stamps."""
        self.notices.send(self.sink.hwm.tobytes())
        if not (g.accepted or g.rejected):
            return
        self._committed = self._count_committed()
        r, now = self.result, g.durable_ns
        r.accepted += g.accepted
        r.rejected += g.rejected
        r.commits += 1
        for d, at in zip(g.deliveries, g.arrived):
            r.reasons.update(x.reason for x in d.batch.rejected)
            if d.sent_ns and len(d.batch):
                r.latency_ns.append((now - d.sent_ns, len(d.batch)))
                r.stamps.append((d.sent_ns, d.pub_ns, d.recv_ns, d.done_ns, at, now,
                                 len(d.batch)))
        self._last_progress = time.monotonic()
        if self.on_commit is not None:
            self.on_commit(self)

    def lag(self) -> list[int]:
        """Source lines published and not committed, per partition (consumer lag)."""
        out = [0] * PARTITIONS
        for p in range(PARTITIONS):
            pub = int(np.searchsorted(self._plines[p], self._pub_mark[p], side="right"))
            com = int(np.searchsorted(self._plines[p], self.sink.hwm[p], side="right"))
            out[p] = max(0, pub - com)
        return out

    def _await_ready(self, poller: zmq.Poller, timeout_s: float = 60.0) -> None:
        """Until every worker said hello (a paced source must not start its clock before)."""
        deadline = time.monotonic() + timeout_s
        want = {(w, e) for w, e in self.epochs.items()}
        while not want <= self._ready:
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers {sorted(want - self._ready)} did not start "
                                   f"in {timeout_s:.0f} s")
            self._restart_dead()
            want = {(w, e) for w, e in self.epochs.items()}
            self._take(self._receive(50, poller))

    def run(self) -> RunResult:
        src, r = self.source, self.result
        self._plines = [src.lines[src.parts == p] for p in range(PARTITIONS)]
        self._base = self._committed = self._count_committed()
        r.ticks = len(src) - self._base
        self._published, self._cursor = 0, 0
        self._ready: set[tuple[int, int]] = set()
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
        feed = ReplayFeed(src, speed=self.speed, ctx=ctx) if self.paced else None
        self.committer, self._group = GroupCommitter(self.sink, ctx), Group()
        poller = zmq.Poller()
        poller.register(self.results, zmq.POLLIN)
        poller.register(self.committer.socket, zmq.POLLIN)
        if feed is not None:
            poller.register(feed.socket, zmq.POLLIN)
        released: deque[tuple[int, int]] = deque()
        t_start = time.perf_counter()
        t0 = t_start
        switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        try:
            self.producer.reset()
            for w in range(self.spec.workers):
                self._spawn(w)
            self._last_progress = time.monotonic()
            self._await_ready(poller)
            t0 = time.perf_counter()
            r.startup_s = t0 - t_start
            if feed is not None:
                feed.start()
            next_check = next_lag = 0.0
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
                        released.popleft()
                self.producer.flush()
                self._take(self._receive(20, poller))
                self._advance()
                now = time.monotonic()
                if now >= next_lag:  # the lag's time series, finer than the checks
                    next_lag = now + LAG_EVERY_S
                    r.lag.append((time.perf_counter() - t0, self.lag()))
                if now >= next_check:
                    next_check = now + 0.1
                    self._restart_dead()
                    if self.progress is not None:
                        self.progress(self)
                    if now - self._last_progress > self.retransmit_s:
                        self._resend(list(range(PARTITIONS)))
                        self._last_progress = now
            self._advance(block=True)  # the last group's counters
        finally:
            sys.setswitchinterval(switch)
            r.seconds = time.perf_counter() - t0
            if feed is not None:
                feed.close()
            self._stop()
        return r

    def _stop(self) -> None:
        self.committer.close()  # joins a group in flight: the sink is closed below
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
                 rules: Rules | None = None, paced: bool = False,
                 linger_ns: int | None = None, **kw) -> RunResult:
    """Read ``source``, stream it through ``transport`` into the store at ``db``. A paced
    source cuts its batches by size or ``linger_ns`` of recorded time (default 1 ms)."""
    spec = TransportSpec(transport, url=url, workers=workers)
    if paced and linger_ns is None:
        linger_ns = DEFAULT_LINGER_NS
    return Pipeline(TickSource(source, batch=batch, linger_ns=linger_ns), os.fspath(db), spec,
                    rules=rules, paced=paced, **kw).run()
