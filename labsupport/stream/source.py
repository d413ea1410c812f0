"""The source: a tick file read once into memory and cut into per-partition messages.

The file is the stream's log (the role a Kafka topic plays for a consumer): every message can
be built again from it, which is how the coordinator resends what a transport lost. Lines are
numbered as in the file (the header is line 1), so a dead letter can be found with ``sed -n``.

A *chunk* is a run of up to ``batch`` consecutive lines of one partition; chunks are published
in the order the source completes them (by their last line), so the stream as a whole keeps the
file's order and each partition's order exactly. With ``linger_ns`` a batch waits for size *or*
time (Kafka's ``linger.ms``): the recorded clock is cut into windows of ``linger_ns`` and every
partition's open chunk is closed at the end of its window (or earlier, when full), so no tick
waits more than ``linger_ns`` for its batch, and the chunks of all partitions that close
together are published in one turn: a worker takes them with one wake-up and cleans them in one
call (a call's fixed cost, not the ticks, is what limits small batches). With ``--source replay:FILE`` chunks are
released at the recorded pace by Lab 09's :class:`~labsupport.replay.Replayer` (its absolute
schedule, so a stall does not slow the rest down): a chunk is due when it closes (its window's
end, or its last line when it filled up first; without linger, its last line), and latency is measured from the intended time of its *first* line (open loop: the
time a tick waited for its batch to fill counts). The feed thread hands each due chunk to the
coordinator over an in-process ZeroMQ socket, so the coordinator's one poll wakes for a due
chunk as for a result.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
import zmq

from ..replay import Replayer, Sink
from .clean import HEADER, PARTITIONS
from .errors import SourceFormatError
from .fastparse import partitions_of

__all__ = ["DEFAULT_LINGER_NS", "TickSource", "Chunk", "ReplayFeed", "parse_source_arg"]

DEFAULT_LINGER_NS = 1_000_000  # a paced batch closes 1 ms of recorded time after its first tick


@dataclass(frozen=True, slots=True)
class Chunk:
    partition: int
    prev_line: int  # the partition's line before this chunk (0: none)
    idx: np.ndarray  # indices into TickSource.raws
    due: int = -1  # recorded time it closes (cut with linger_ns; -1: at its last line)
    wait_ns: int = 0  # recorded time from its first line to ``due`` (its oldest tick's wait)

    @property
    def size(self) -> int:
        return int(self.idx.size)


class TickSource:
    """The lines of a tick file (header checked), their partitions and their chunks."""

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 1000,
                 linger_ns: int | None = None) -> None:
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            data = f.read()
        raws = data.split(b"\n")
        if raws and raws[-1] == b"":
            raws.pop()
        raws = [r[:-1] if r.endswith(b"\r") else r for r in raws]
        if not raws or raws[0] != HEADER:
            got = raws[0][:60].decode("utf-8", "backslashreplace") if raws else "an empty file"
            raise SourceFormatError(f"header must be exactly {HEADER.decode()!r}, got {got!r}",
                                    file=self.path, line=1)
        self.raws = raws[1:]
        self.lines = np.arange(2, len(raws) + 1, dtype=np.int64)
        self.parts = partitions_of(self.raws)
        self.batch, self.linger_ns = batch, linger_ns
        self._newest: np.ndarray | None = None
        self.chunks = self._cut(batch)
        self._layout()  # built before any run's clock starts
        self.last_line = np.zeros(PARTITIONS, dtype=np.int64)  # each partition's final line
        for p in range(PARTITIONS):
            hit = np.flatnonzero(self.parts == p)
            if hit.size:
                self.last_line[p] = self.lines[hit[-1]]

    def _cut(self, batch: int) -> list[Chunk]:
        chunks = []
        clock = self.newest_ns() if self.linger_ns is not None else None
        for p in range(PARTITIONS):
            idx = np.flatnonzero(self.parts == p)
            prev = 0
            if clock is None:
                for a in range(0, idx.size, batch):
                    part = idx[a:a + batch]
                    chunks.append(Chunk(p, prev, part))
                    prev = int(self.lines[part[-1]])
                continue
            for part, due in self._windows(idx, batch, clock):
                chunks.append(Chunk(p, prev, part, due, due - int(clock[part[0]])))
                prev = int(self.lines[part[-1]])
        chunks.sort(key=lambda c: (c.due, int(c.idx[-1])))
        return chunks

    def _windows(self, idx: np.ndarray, batch: int, clock: np.ndarray
                 ) -> list[tuple[np.ndarray, int]]:
        """``idx`` (one partition's lines) cut at the end of each ``linger_ns`` window of the
        clock and every ``batch`` lines: (lines, when the chunk closes)."""
        linger = max(1, int(self.linger_ns or 1))
        t = clock[idx]
        win = t // linger
        out = []
        for w in np.unique(win).tolist():  # windows are increasing: the clock never goes back
            run = idx[win == w]
            for a in range(0, run.size, batch):
                part = run[a:a + batch]
                full = part.size == batch and a + batch < run.size
                out.append((part, int(clock[part[-1]]) if full else (w + 1) * linger))
        return out

    def __len__(self) -> int:
        return len(self.raws)

    def _layout(self) -> None:
        """The lines laid out partition by partition (file order within each), one buffer:
        every chunk's lines are adjacent in it."""
        order = np.argsort(self.parts, kind="stable")
        raws = [self.raws[i] for i in order.tolist()]
        lens = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws)) + 1
        self._offsets = np.zeros(len(raws) + 1, dtype=np.int64)
        self._offsets[1:] = np.cumsum(lens)
        self._rank = np.empty(len(raws), dtype=np.int64)
        self._rank[order] = np.arange(len(raws))  # line index -> place in the layout
        self._by_part = memoryview(b"\n".join(raws) + b"\n")

    def body(self, k: int) -> bytes:
        """Chunk ``k``'s lines, ``b"\\n"``-joined: a slice of the layout."""
        idx = self.chunks[k].idx
        a, b = int(self._rank[idx[0]]), int(self._rank[idx[-1]]) + 1
        return bytes(self._by_part[self._offsets[a]:self._offsets[b] - 1])

    def newest_ns(self) -> np.ndarray:
        """The source's clock at each line: the newest ts_ns up to it (a malformed line's
        second field if it is a number that fits an int64, else 0), which is when a paced replay
        releases it."""
        if self._newest is None:
            ts = np.zeros(len(self.raws), dtype=np.int64)
            for i, r in enumerate(self.raws):
                f = r.split(b",", 2)
                if len(f) > 2 and f[1].isdigit() and len(f[1]) <= 19 and int(f[1]) < 1 << 63:
                    ts[i] = int(f[1])
            self._newest = np.maximum.accumulate(ts) if ts.size else ts
        return self._newest

    def due_ns(self) -> np.ndarray:
        """Each chunk's recorded time: when it closes (without linger: its last line's)."""
        newest = self.newest_ns()
        return np.array([c.due if c.due >= 0 else newest[c.idx[-1]] for c in self.chunks],
                        dtype=np.int64)


class _SocketSink(Sink):
    """Lab 09's sink interface: each released chunk goes to the coordinator as
    ``(chunk number, intended send time)`` over an in-process PUSH socket (made, used and closed
    by the replay thread alone: a ZeroMQ socket belongs to one thread)."""

    def __init__(self, ctx: zmq.Context, addr: str) -> None:
        super().__init__(record=False)
        self.ctx, self.addr = ctx, addr
        self.sock: zmq.Socket | None = None

    def send(self, batch: list) -> None:
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.PUSH)
            self.sock.connect(self.addr)
        self.sock.send(np.array([(k, due) for due, _, k in batch], dtype=np.int64).tobytes())

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(linger=1000)


class ReplayFeed:
    """Releases chunk numbers at the recorded pace from a thread running Lab 09's Replayer;
    :attr:`socket` is readable when a chunk is due (poll it with the results)."""

    _count = 0

    def __init__(self, source: TickSource, *, speed: float = 1.0,
                 ctx: zmq.Context | None = None) -> None:
        ctx = ctx or zmq.Context.instance()
        ReplayFeed._count += 1
        addr = f"inproc://stream-feed-{os.getpid()}-{ReplayFeed._count}"
        self.socket = ctx.socket(zmq.PULL)
        self.socket.bind(addr)
        self.sink = _SocketSink(ctx, addr)
        events = list(zip(source.due_ns().tolist(), range(len(source.chunks))))
        self.replayer = Replayer(events, self.sink, speed=speed, strategy="sleep",
                                 freeze_gc=False, timer_slack=None)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.replayer.run()
        finally:
            self.sink.close()

    def start(self) -> ReplayFeed:
        self.thread.start()
        return self

    def now_ns(self) -> int:
        return self.sink.clock.now_ns()

    def released(self) -> list[tuple[int, int]]:
        """Chunks due by now: (chunk number, intended send time in ns)."""
        out: list[tuple[int, int]] = []
        while True:
            try:
                data = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return out
            out.extend(map(tuple, np.frombuffer(data, dtype=np.int64).reshape(-1, 2).tolist()))

    def close(self) -> None:
        self.thread.join(5)
        self.socket.close(linger=0)


def parse_source_arg(arg: str) -> tuple[str, bool]:
    """``FILE`` or ``replay:FILE``: (path, paced)."""
    if arg.startswith("replay:"):
        return arg[len("replay:"):], True
    return arg, False
