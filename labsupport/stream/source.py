"""The source: a tick file read once into memory and cut into per-partition messages.

The file is the stream's log (the role a Kafka topic plays for a consumer): every message can
be built again from it, which is how the coordinator resends what a transport lost. Lines are
numbered as in the file (the header is line 1), so a dead letter can be found with ``sed -n``.

A *chunk* is a run of up to ``batch`` consecutive lines of one partition; chunks are published
in the order the source completes them (by their last line), so the stream as a whole keeps the
file's order and each partition's order exactly. With ``--source replay:FILE`` chunks are
released at the recorded pace by Lab 09's :class:`~labsupport.replay.Replayer` (its absolute
schedule, so a stall does not slow the rest down): a chunk is due at the newest ts_ns among its
lines, and latency is measured from that intended time (open loop).
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass

import numpy as np

from ..replay import Replayer, Sink
from .clean import HEADER, PARTITIONS
from .errors import SourceFormatError
from .fastparse import partitions_of

__all__ = ["TickSource", "Chunk", "ReplayFeed", "parse_source_arg"]


@dataclass(frozen=True, slots=True)
class Chunk:
    partition: int
    prev_line: int  # the partition's line before this chunk (0: none)
    idx: np.ndarray  # indices into TickSource.raws

    @property
    def size(self) -> int:
        return int(self.idx.size)


class TickSource:
    """The lines of a tick file (header checked), their partitions and their chunks."""

    def __init__(self, path: str | os.PathLike[str], *, batch: int = 1000) -> None:
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
        self.batch = batch
        self.chunks = self._cut(batch)
        self._bodies: dict[int, bytes] = {}
        self.last_line = np.zeros(PARTITIONS, dtype=np.int64)  # each partition's final line
        for p in range(PARTITIONS):
            hit = np.flatnonzero(self.parts == p)
            if hit.size:
                self.last_line[p] = self.lines[hit[-1]]

    def _cut(self, batch: int) -> list[Chunk]:
        chunks = []
        for p in range(PARTITIONS):
            idx = np.flatnonzero(self.parts == p)
            prev = 0
            for a in range(0, idx.size, batch):
                part = idx[a:a + batch]
                chunks.append(Chunk(p, prev, part))
                prev = int(self.lines[part[-1]])
        chunks.sort(key=lambda c: int(c.idx[-1]))
        return chunks

    def __len__(self) -> int:
        return len(self.raws)

    def body(self, k: int) -> bytes:
        """Chunk ``k``'s lines, ``b"\\n"``-joined, built once (a resend reuses it)."""
        b = self._bodies.get(k)
        if b is None:
            b = self._bodies[k] = b"\n".join([self.raws[i] for i in self.chunks[k].idx.tolist()])
        return b

    def due_ns(self) -> np.ndarray:
        """Each chunk's recorded time: the newest ts_ns up to its last line (malformed: 0)."""
        ts = np.zeros(len(self.raws), dtype=np.int64)
        for i, r in enumerate(self.raws):
            f = r.split(b",", 2)
            if len(f) > 2 and f[1].isdigit() and len(f[1]) < 19:
                ts[i] = int(f[1])
        newest = np.maximum.accumulate(ts) if ts.size else ts
        return np.array([newest[c.idx[-1]] for c in self.chunks], dtype=np.int64)


class _QueueSink(Sink):
    """Lab 09's sink interface: each released chunk number goes on a queue with its due time."""

    def __init__(self, q: queue.Queue) -> None:
        super().__init__(record=False)
        self.q = q

    def send(self, batch: list) -> None:
        for due, _, k in batch:
            self.q.put((k, due))


class ReplayFeed:
    """Releases chunk numbers at the recorded pace from a thread running Lab 09's Replayer."""

    def __init__(self, source: TickSource, *, speed: float = 1.0) -> None:
        self.q: queue.Queue = queue.Queue()
        self.sink = _QueueSink(self.q)
        events = list(zip(source.due_ns().tolist(), range(len(source.chunks))))
        self.replayer = Replayer(events, self.sink, speed=speed, strategy="sleep",
                                 freeze_gc=False, timer_slack=None)
        self.thread = threading.Thread(target=self.replayer.run, daemon=True)

    def start(self) -> ReplayFeed:
        self.thread.start()
        return self

    def now_ns(self) -> int:
        return self.sink.clock.now_ns()

    def released(self) -> list[tuple[int, int]]:
        """Chunks due by now: (chunk number, intended send time in ns)."""
        out = []
        while True:
            try:
                out.append(self.q.get_nowait())
            except queue.Empty:
                return out


def parse_source_arg(arg: str) -> tuple[str, bool]:
    """``FILE`` or ``replay:FILE``: (path, paced)."""
    if arg.startswith("replay:"):
        return arg[len("replay:"):], True
    return arg, False
