"""TickDB: the LSM tick store (WAL -> memtable -> immutable segments -> compaction).

The shape of LevelDB/RocksDB and of InfluxDB's TSM engine, for columns of ticks:

    write(batch) --> WAL append (+fsync by policy) --> memtable (per-symbol chunks)
                      memtable full: rotate WAL, flush to seg-LO-HI-GEN.seg, delete WAL <= HI
    query(symbol, [start, end)) --> blocks of every segment in range + memtable, merged
    compact() --> adjacent same-tier segments merged into one (compaction.py)

Directory contents::

    SCHEMA.json            the value columns, [["price", "float"], ["size", "int"]] by default
    RETENTION              the horizon in ns (points with ts < horizon are gone), if set
    LOCK                   flock'ed by the open writer
    wal-NNNNNNNN.log       one log per memtable generation NNNNNNNN
    seg-LO-HI-GEN.seg      a segment holding generations LO..HI

Invariants: every acknowledged point is in exactly one of {a live segment, a WAL file
whose number is above every live segment's HI}. Opening restores them: unfinished
``.tmp`` files are removed, a segment whose LO..HI lies inside another's is obsolete
(its compaction committed) and is deleted, WAL files at or below the largest HI are
deleted, the rest are replayed into the memtable (torn tails cut and reported).
One writer object per directory (enforced with flock). Writes and queries come from one
thread; with ``background_compaction=True`` merges run in a second thread (segments are
immutable, so only the swap of the segment list is locked; numpy and the numba kernels
release the GIL for most of the merge).
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from ..durable import fsync_dir, write_atomic
from . import compaction as comp
from . import recovery
from .errors import DatabaseLockedError, SchemaError
from .memtable import Memtable
from .query import INT64_MAX, INT64_MIN, BlockRef, fold_bars, iter_merged, latest, merge_range
from .recovery import RecoveryReport
from .segment import Segment, SegmentWriter
from .wal import WalWriter, replay

DEFAULT_COLUMNS: list[tuple[str, str]] = [("price", "float"), ("size", "int")]
_DTYPES = {"float": "f8", "int": "i8"}


class TickDB:
    """A tick store in one directory. Use as a context manager; ``close()`` makes it durable."""

    def __init__(
        self,
        path: str,
        *,
        fsync: str = "batch",
        fsync_interval_s: float = 1.0,
        memtable_points: int = 1_000_000,
        block_points: int = 8192,
        columns: Sequence[tuple[str, str]] | None = None,
        auto_compact: bool = True,
        background_compaction: bool = False,
        fanout: int = 4,
        base_bytes: int = 1 << 20,
        on_corrupt: str = "raise",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        os.makedirs(path, exist_ok=True)
        self._lock_fd = os.open(os.path.join(path, "LOCK"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise DatabaseLockedError(f"{path} is open in another process") from None
        self.columns = self._load_schema(columns)
        self.column_names = [c[0] for c in self.columns]
        self._dtypes = [_DTYPES[k] for _, k in self.columns]
        self.fsync, self.fsync_interval_s, self._clock = fsync, fsync_interval_s, clock
        self.memtable_points, self.block_points = memtable_points, block_points
        self.auto_compact, self.fanout, self.base_bytes = auto_compact, fanout, base_bytes
        self.horizon = self._read_retention()
        self._sid: dict[str, int] = {}
        self._names: list[str] = []
        self.recovery = RecoveryReport()
        self.segments: list[Segment] = []
        # _seg_lock guards the list of live segments (swapped by compaction, read by queries);
        # _compact_lock serialises compaction jobs and retention rewrites.
        self._seg_lock = threading.Lock()
        self._compact_lock = threading.Lock()
        self.background_error: BaseException | None = None
        self._bg: threading.Thread | None = None
        self.flushes = 0
        self.compactions = 0
        try:
            self._recover(on_corrupt)
        except BaseException:
            self._release_lock()
            raise
        if background_compaction:
            self._bg_wake = threading.Event()
            self._bg_stop = False
            self._bg_running = False
            self._bg = threading.Thread(
                target=self._background_loop, name="tsdb-compaction", daemon=True
            )
            self._bg.start()

    # ------------------------------------------------------------ open / recovery
    def _load_schema(self, columns):
        p = os.path.join(self.path, "SCHEMA.json")
        if os.path.exists(p):
            with open(p) as f:
                stored = [tuple(c) for c in json.load(f)]
            if columns is not None and list(map(tuple, columns)) != stored:
                raise SchemaError(f"{p} declares {stored}, not {list(columns)}")
            return stored
        cols = list(map(tuple, columns or DEFAULT_COLUMNS))
        for name, kind in cols:
            if kind not in _DTYPES or name in ("ts", "symbol"):
                raise SchemaError(
                    f"column {name!r}: kind must be 'float' or 'int', name not ts/symbol"
                )
        self._atomic_write("SCHEMA.json", json.dumps(cols).encode())
        return cols

    def _atomic_write(self, name: str, data: bytes) -> None:
        write_atomic(os.path.join(self.path, name), data)

    def _read_retention(self) -> int:
        p = os.path.join(self.path, "RETENTION")
        if not os.path.exists(p):
            return INT64_MIN
        with open(p) as f:
            return int(f.read().strip())

    def _recover(self, on_corrupt: str) -> None:
        rep = self.recovery
        self.segments = recovery.live_segments(self.path, on_corrupt, rep)
        for s in self.segments:
            for name in s.symbols:
                self._symbol_id(name)
        top = max((s.hi for s in self.segments), default=0)
        pending, gen = recovery.pending_wals(self.path, top)
        self.memtable = Memtable(len(self.columns), pending[0][0] if pending else gen)
        for _, w in pending:
            batches, torn = replay(w, self._dtypes)
            rep.replayed_wal_files.append(os.path.basename(w))
            if torn is not None:
                rep.torn_tails.append(str(torn))
            for b in batches:
                self._apply(b.ts_ns, b.codes, b.names, list(b.columns))
                rep.replayed_points += b.ts_ns.size
        self._open_wal(gen)

    def _open_wal(self, gen: int) -> None:
        self._wal_gen = gen
        self.memtable.wal_hi = gen
        self.wal = WalWriter(
            os.path.join(self.path, f"wal-{gen:08d}.log"),
            self.fsync,
            self.fsync_interval_s,
            self._clock,
        )

    # ------------------------------------------------------------ write path
    def _symbol_id(self, name: str) -> int:
        sid = self._sid.get(name)
        if sid is None:
            sid = self._sid[name] = len(self._names)
            self._names.append(name)
        return sid

    def _apply(self, ts, codes, names, cols) -> None:
        lut = np.array([self._symbol_id(n) for n in names], dtype=np.int64)
        if len(self._names) < 1 << 16:  # 16-bit keys let the stable sort by symbol use radix sort
            lut = lut.astype(np.uint16)
        sids = int(lut[0]) if len(names) == 1 else lut[codes]
        self.memtable.add(ts, sids, cols)

    def write(self, ts_ns, symbol, *, symbols: Sequence[str] | None = None, **columns) -> int:
        """Append a batch; returns its size once it is in the WAL (and synced, by policy).

        ``symbol`` is one name for the whole batch, an array of names, a pandas
        Categorical, or integer codes into ``symbols``. Value columns by name.
        """
        ts = np.ascontiguousarray(ts_ns, dtype=np.int64)
        n = ts.size
        if set(columns) != set(self.column_names):
            raise SchemaError(f"columns must be {self.column_names}, got {sorted(columns)}")
        cols = [
            np.ascontiguousarray(columns[c], dtype=dt)
            for c, dt in zip(self.column_names, self._dtypes)
        ]
        if any(c.shape != (n,) for c in cols):
            raise SchemaError("every column must be 1-d and as long as ts_ns")
        if symbols is not None:
            names, codes = list(symbols), np.asarray(symbol, dtype=np.uint32)
        elif isinstance(symbol, str):
            names, codes = [symbol], np.zeros(n, dtype=np.uint32)
        else:
            cat = pd.Categorical(symbol)
            names, codes = [str(c) for c in cat.categories], cat.codes.astype(np.uint32)
        if codes.shape != (n,) or (n and int(codes.max()) >= len(names)):
            raise SchemaError("symbol codes must be one per point and index the symbols list")
        if n == 0:
            return 0
        self.wal.append(ts, codes, names, cols)  # durable (by policy) before it is visible
        self._apply(ts, codes, names, cols)
        if self.memtable.count >= self.memtable_points:
            self.flush()
        return n

    def flush(self) -> None:
        """Write the memtable to a segment; the WAL files it covers are then deleted."""
        mem = self.memtable
        self.wal.close()
        if self.horizon > INT64_MIN:
            mem.drop_before(self.horizon)
        if mem.count:
            w = SegmentWriter(self.path, mem.wal_lo, mem.wal_hi, 0, self.columns)
            try:
                for sid in sorted(mem.symbols(), key=lambda s: self._names[s]):
                    ts, cols = mem.series(sid)
                    for a in range(0, ts.size, self.block_points):
                        b = a + self.block_points
                        w.add_block(self._names[sid], ts[a:b], [c[a:b] for c in cols])
                seg = Segment(w.commit())
                with self._seg_lock:
                    self.segments.append(seg)
            except BaseException:
                w.abort()
                raise
        for g in range(mem.wal_lo, mem.wal_hi + 1):
            p = os.path.join(self.path, f"wal-{g:08d}.log")
            if os.path.exists(p):
                os.unlink(p)
        self.flushes += 1
        self.memtable = Memtable(len(self.columns), self._wal_gen + 1)
        self._open_wal(self._wal_gen + 1)
        if self._bg is not None:
            self._bg_wake.set()  # compaction runs in the background thread
        elif self.auto_compact:
            self.compact()

    # ------------------------------------------------------------ compaction, retention
    def compact(self, full: bool = False) -> int:
        """Run size-tiered compaction until nothing qualifies (``full``: merge all into one).

        Inputs are immutable, so the merge runs without holding the segment list; only the
        swap of inputs for output is done under the lock, so queries never wait for a merge.
        """
        merged = 0
        with self._compact_lock:
            while True:
                live = self._live()
                if full:
                    run = live if len(live) > 1 else None
                else:
                    run = comp.plan_size_tiered(live, self.base_bytes, self.fanout)
                if not run:
                    return merged
                path = comp.merge_segments(
                    run, self.path, self.columns, self.block_points, self.horizon
                )
                self._replace(run, path)
                merged += 1
                self.compactions += 1
                if full:
                    return merged

    def _live(self) -> list[Segment]:
        with self._seg_lock:
            return list(self.segments)

    def _replace(self, old: list[Segment], new_path: str | None) -> None:
        new = [Segment(new_path)] if new_path else []
        with self._seg_lock:
            at = self.segments.index(old[0])
            self.segments[at : at + len(old)] = new
        # The rename committed; the inputs are obsolete. A query that still holds one keeps
        # reading its memory map (the file's blocks stay until the map is garbage collected).
        for s in old:
            os.unlink(s.path)
        fsync_dir(self.path)

    def _background_loop(self) -> None:
        while True:
            self._bg_wake.wait()
            self._bg_running = True
            self._bg_wake.clear()
            if self._bg_stop:
                self._bg_running = False
                return
            try:
                self.compact()
            except BaseException as e:  # kept for the owner to see; the old segments stay valid
                self.background_error = e
            finally:
                self._bg_running = False

    def wait_for_compaction(self, timeout_s: float = 60.0) -> None:
        """Block until the background thread has nothing left to do (no-op without one)."""
        deadline = time.monotonic() + timeout_s
        while self._bg is not None and (self._bg_wake.is_set() or self._bg_running):
            if time.monotonic() > deadline:
                raise TimeoutError("background compaction still running")
            time.sleep(0.002)
        if self.background_error is not None:
            raise self.background_error

    def set_retention(self, horizon_ns: int) -> None:
        """Drop every point with ts < horizon_ns: hidden at once, removed from disk now."""
        self._atomic_write("RETENTION", str(int(horizon_ns)).encode())
        self.horizon = int(horizon_ns)
        self.memtable.drop_before(self.horizon)
        with self._compact_lock:
            for s in self._live():
                if s.max_ts < self.horizon:
                    self._replace([s], None)
                elif s.min_ts < self.horizon:
                    path = comp.merge_segments(
                        [s], self.path, self.columns, self.block_points, self.horizon, s.gen + 1
                    )
                    self._replace([s], path)

    # ------------------------------------------------------------ read path
    def _refs(self, symbol: str, start: int, end: int) -> list[BlockRef]:
        live = self._live()
        refs = comp.block_refs(live, symbol, start, end)
        sid = self._sid.get(symbol)
        if sid is not None and sid in self.memtable.symbols():
            ts, cols = self.memtable.series(sid)
            if ts.size:
                refs.append(BlockRef(int(ts[0]), int(ts[-1]), len(live), 0, lambda: (ts, cols)))
        return refs

    def query(
        self,
        symbol: str,
        start_ns: int = INT64_MIN,
        end_ns: int = INT64_MAX,
        *,
        frame: bool = False,
    ):
        """Points of ``symbol`` with start_ns <= ts < end_ns, time ordered: dict of arrays or DataFrame."""
        start = max(int(start_ns), self.horizon)
        ts, cols = merge_range(self._refs(symbol, start, end_ns), start, end_ns, len(self.columns))
        cols = [
            c.astype(dt, copy=False) for c, dt in zip(cols, self._dtypes)
        ]  # typed even when empty
        out = {"ts": ts, **dict(zip(self.column_names, cols))}
        if frame:
            df = pd.DataFrame(out)
            df.insert(1, "symbol", symbol)
            return df
        return out

    def iter_query(
        self, symbol: str, start_ns: int = INT64_MIN, end_ns: int = INT64_MAX
    ) -> Iterator[dict]:
        """The same points as :meth:`query`, streamed in time-ordered chunks of about a block."""
        start = max(int(start_ns), self.horizon)
        for ts, cols in iter_merged(
            self._refs(symbol, start, end_ns), start, end_ns, len(self.columns)
        ):
            yield {"ts": ts, **dict(zip(self.column_names, cols))}

    def bars(
        self,
        symbol: str,
        start_ns: int,
        end_ns: int,
        interval_ns: int,
        price: str = "price",
        size: str = "size",
    ) -> pd.DataFrame:
        """OHLCV, count and VWAP per interval (buckets aligned to multiples of the interval)."""
        chunks = ((c["ts"], c[price], c[size]) for c in self.iter_query(symbol, start_ns, end_ns))
        return fold_bars(chunks, int(interval_ns))

    def latest(self, symbol: str) -> dict | None:
        """The newest point of ``symbol`` (largest ts; among equal ts the last written)."""
        hit = latest(self._refs(symbol, self.horizon, INT64_MAX), self.horizon, len(self.columns))
        if hit is None:
            return None
        return {"ts": hit[0], **dict(zip(self.column_names, hit[1]))}

    def memtable_ts(self, symbol: str) -> np.ndarray:
        """Timestamps of ``symbol`` held only in the memtable (not yet in a segment), in order."""
        sid = self._sid.get(symbol)
        if sid is None or sid not in self.memtable.symbols():
            return np.zeros(0, np.int64)
        return self.memtable.series(sid)[0]

    def symbols(self) -> list[str]:
        return sorted(self._names)

    def stats(self) -> dict:
        live = self._live()
        seg_points = sum(s.points for s in live)
        seg_bytes = sum(s.size_bytes for s in live)
        wal_bytes = sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.path, "wal-*.log")))
        return {
            "points": seg_points + self.memtable.count,
            "segment_points": seg_points,
            "memtable_points": self.memtable.count,
            "segments": len(live),
            "segment_bytes": seg_bytes,
            "wal_bytes": wal_bytes,
            "bytes_on_disk": seg_bytes + wal_bytes,
            "bytes_per_point": seg_bytes / seg_points if seg_points else float("nan"),
        }

    def verify(self) -> list[str]:
        """Check every block of every segment; messages name the segment and block."""
        return [p for s in self._live() for p in s.verify()]

    # ------------------------------------------------------------ lifetime
    def sync(self) -> None:
        self.wal.sync()

    def close(self) -> None:
        if self._lock_fd < 0:
            return
        if self._bg is not None:
            self._bg_stop = True
            self._bg_wake.set()
            self._bg.join()
            self._bg = None
        self.wal.close()
        for s in self._live():
            s.close()
        self._release_lock()

    def _release_lock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = -1

    def __enter__(self) -> TickDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
