"""The exactly-once sink: Lab 08's tick store plus high-water marks committed in the same record.

Delivery from every transport is at least once: a batch can arrive twice (a worker died after
the commit but before its acknowledgement reached the broker; a whole run is started again on
the same source). The sink makes the *write* idempotent, which together is exactly once::

    commit(batches):
        1. drop lines at or below the partition's high-water mark  (already committed)
        2. append the rejects to dead_letters.csv, fsync            (not yet committed)
        3. ONE TickDB.write: the accepted ticks + one row per partition of the reserved
           symbol "_stream" (seq = partition, line = new high-water mark, size = the
           dead-letter file's length after step 2), fdatasync'ed by the WAL   <-- commit point
        4. only now may the workers acknowledge these messages to the broker

Steps 1-2 are :meth:`prepare`, step 3 :meth:`finish`: the coordinator's group committer runs
them on two threads, so the next group's dead-letter fsync overlaps this group's WAL fdatasync
(each commit point still comes after its own dead letters are durable).

A crash before step 3 leaves a dead-letter file longer than the last committed length:
:meth:`StreamSink.open` truncates it back, and the batch is delivered again. A crash after step
3 and before 4 redelivers a batch whose lines are all at or below the mark: step 1 skips it.
The marks are kept per partition (the symbol's hash, :data:`~.clean.PARTITIONS` of them, like
a Kafka topic's partitions) because a partition's lines reach the sink in source order, which a
partition's marks need, while malformed lines may have no symbol at all.

The store's columns are ``price, size, seq, line``: ``line`` (the tick's line in the source) is
the arrival order, from which :meth:`states` rebuilds a partition's cleaning state for a
restarted worker, so its verdicts continue exactly where the committed store ends.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..tsdb import TickDB, TsdbError
from .clean import PARTITIONS, SymbolState, key_partition
from .errors import SinkError
from .vector import CleanBatch

__all__ = ["COLUMNS", "META", "DEAD_LETTERS", "DL_HEADER", "Delivery", "Staged", "StreamSink"]

COLUMNS = [("price", "float"), ("size", "int"), ("seq", "int"), ("line", "int")]
META = "_stream"  # reserved symbol holding the high-water marks
DEAD_LETTERS = "dead_letters.csv"
DL_HEADER = b"seq,symbol,reason,raw\n"


@dataclass(slots=True)
class Delivery:
    """One transport message after cleaning: its partition, last source line and verdicts."""

    partition: int
    last_line: int
    batch: CleanBatch
    sent_ns: int = 0  # the source's time of its oldest line (for end-to-end latency)
    pub_ns: int = 0  # when the coordinator published it
    recv_ns: int = 0  # when a worker took it from the transport
    done_ns: int = 0  # when that worker had cleaned it


@dataclass(slots=True)
class Staged:
    """A prepared group: its WAL record's columns, new marks and dead-letter length."""

    ts_ns: np.ndarray
    codes: np.ndarray
    names: list[str]
    columns: dict[str, np.ndarray]
    marks: dict[int, int]
    dl_len: int
    accepted: int
    rejected: int


class StreamSink:
    """One writer of one store directory; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: str = "batch") -> None:
        self.path = os.fspath(path)
        try:
            self.db = TickDB(self.path, columns=COLUMNS, fsync=fsync)
        except TsdbError as exc:
            raise SinkError(f"{self.path}: not a stream store ({exc})") from None
        self.hwm = np.zeros(PARTITIONS, dtype=np.int64)  # last committed source line
        self.commits = 0
        self.dl_path = os.path.join(self.path, DEAD_LETTERS)
        self.dl_len, self.truncated = self._recover()
        self._staged_hwm = self.hwm.copy()  # the marks with every prepared group applied
        self._dl_end = self.dl_len  # the dead-letter file's length with them
        self._dl = open(self.dl_path, "ab")  # noqa: SIM115 - open as long as the sink is
        self.accepted = 0
        self.rejected = 0

    def _recover(self) -> tuple[int, int]:
        """Marks from the store; the dead-letter file cut to its committed length."""
        meta = self.db.query(META)
        committed = len(DL_HEADER)
        if meta["ts"].size:
            np.maximum.at(self.hwm, meta["seq"], meta["line"])
            self.commits = int(meta["ts"][-1])
            committed = int(meta["size"][-1])
        if not os.path.exists(self.dl_path) or os.path.getsize(self.dl_path) == 0:
            with open(self.dl_path, "wb") as f:
                f.write(DL_HEADER)
                os.fsync(f.fileno())
        size = os.path.getsize(self.dl_path)
        if size < committed:
            raise SinkError(f"{self.dl_path}: {size} bytes, but {committed} were committed")
        if size > committed:
            os.truncate(self.dl_path, committed)
        return committed, size - committed

    def commit(self, deliveries: Sequence[Delivery]) -> tuple[int, int]:
        """Commit a group of deliveries durably in one WAL record: (accepted, rejected) added."""
        return self.finish(self.prepare(deliveries))

    def prepare(self, deliveries: Sequence[Delivery]) -> Staged | None:
        """Steps 1 and 2: what is new past the marks (committed or staged), its dead letters
        appended and fsync'ed. None if nothing is new. The next group may be prepared while
        this one's :meth:`finish` runs: its dead letters lie past this one's committed length
        until its own record commits them (a crash in between cuts them off again)."""
        cols: dict[str, list[np.ndarray]] = {c: [] for c in ("ts_ns", "price", "size", "seq",
                                                              "line")}
        names: dict[str, int] = {}  # symbol -> code in this write
        codes: list[np.ndarray] = []
        rows = []
        marks: dict[int, int] = {}
        for d in deliveries:
            mark = max(int(self._staged_hwm[d.partition]), marks.get(d.partition, 0))
            if d.last_line <= mark:
                continue  # a redelivery of what is already committed
            b = d.batch
            new = b.line > mark
            for name, arr in cols.items():
                arr.append(getattr(b, name)[new])
            codes.append(self._codes(b, names)[new])
            rows.extend(r for r in b.rejected if r.line > mark)
            marks[d.partition] = d.last_line
        if not marks:
            return None
        if rows:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerows((r.seq, r.symbol, r.reason, r.raw) for r in rows)
            data = buf.getvalue().encode("utf-8", "surrogateescape")
            self._dl.write(data)
            self._dl.flush()
            os.fsync(self._dl.fileno())
            self._dl_end += len(data)
        self.commits += 1
        parts = sorted(marks)
        for p in parts:
            self._staged_hwm[p] = marks[p]
        k = len(parts)
        meta = names.setdefault(META, len(names))
        return Staged(
            np.concatenate(cols["ts_ns"] + [np.full(k, self.commits, np.int64)]),
            np.concatenate(codes + [np.full(k, meta, np.uint32)]), list(names),
            {"price": np.concatenate(cols["price"] + [np.zeros(k)]),
             "size": np.concatenate(cols["size"] + [np.full(k, self._dl_end, np.int64)]),
             "seq": np.concatenate(cols["seq"] + [np.array(parts, np.int64)]),
             "line": np.concatenate(cols["line"] + [np.array([marks[p] for p in parts],
                                                             np.int64)])},
            marks, self._dl_end, int(sum(c.size for c in codes)), len(rows))

    def finish(self, st: Staged | None) -> tuple[int, int]:
        """Step 3, the commit point: one WAL record (ticks + marks + dead-letter length),
        fdatasync'ed; then the marks move. Groups finish in the order they were prepared."""
        if st is None:
            return 0, 0
        self.db.write(st.ts_ns, st.codes, symbols=st.names, **st.columns)
        self.dl_len = st.dl_len
        for p, line in st.marks.items():
            self.hwm[p] = line
        self.accepted += st.accepted
        self.rejected += st.rejected
        return st.accepted, st.rejected

    @staticmethod
    def _codes(b: CleanBatch, names: dict[str, int]) -> np.ndarray:
        """The batch's symbol of each accepted tick as a code into ``names`` (extended)."""
        remap = np.array([names.setdefault(s, len(names)) for s in b.names], np.uint32)
        return remap[b.codes] if remap.size else np.zeros(0, np.uint32)

    def symbols(self) -> list[str]:
        return [s for s in self.db.symbols() if s != META]

    def states(self, partitions: Iterable[int] | None = None) -> dict[str, SymbolState]:
        """The cleaning state of every symbol of ``partitions`` as the committed store implies."""
        want = set(range(PARTITIONS) if partitions is None else partitions)
        out = {}
        for s in self.symbols():
            if key_partition(s.encode()) in want:
                q = self.db.query(s)
                order = np.argsort(q["line"], kind="stable")
                out[s] = SymbolState.from_accepted(q["seq"][order], q["ts"][order],
                                                   q["price"][order])
        return out

    def close(self) -> None:
        self._dl.close()
        self.db.close()

    def __enter__(self) -> StreamSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
