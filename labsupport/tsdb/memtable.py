"""Memtable: the in-memory, per-symbol home of everything the WAL holds but no segment does.

Plays the role of LevelDB's skiplist memtable or InfluxDB's cache, for columns:
writes are appended as numpy chunks to a per-symbol list (O(1) per batch, no per-tick
work beyond one stable sort by symbol when a batch mixes symbols). Readers need a
time-ordered view, so the first read of a symbol after writes consolidates its chunks
with one stable sort by timestamp and keeps the result; ties keep write order, which is
the order every query reports duplicate timestamps in.
"""

from __future__ import annotations

import numpy as np


class Memtable:
    """Per-symbol column chunks; ``count`` points in all; covers WAL files ``wal_lo..wal_hi``."""

    def __init__(self, n_columns: int, wal_lo: int) -> None:
        self.n_columns = n_columns
        self.wal_lo = wal_lo
        self.wal_hi = wal_lo
        self.count = 0
        # sid -> list of (ts, [cols]) chunks; a list of length 1 flagged sorted is consolidated
        self._chunks: dict[int, list[tuple[np.ndarray, list[np.ndarray]]]] = {}
        self._sorted: dict[int, bool] = {}

    def add(self, ts_ns: np.ndarray, sids: np.ndarray | int, columns: list[np.ndarray]) -> None:
        """Append a batch; ``sids`` is one symbol id for the whole batch or one per point."""
        n = ts_ns.size
        if n == 0:
            return
        if np.isscalar(sids):
            self._add_one(int(sids), ts_ns, columns)
        else:
            order = np.argsort(sids, kind="stable")
            s = sids[order]
            cuts = np.flatnonzero(s[1:] != s[:-1]) + 1
            bounds = np.concatenate(([0], cuts, [n]))
            if bounds.size == 2:  # one symbol after all
                self._add_one(int(s[0]), ts_ns, columns)
            else:
                ts_o = ts_ns[order]
                cols_o = [c[order] for c in columns]
                for a, b in zip(bounds[:-1], bounds[1:]):
                    self._add_one(int(s[a]), ts_o[a:b], [c[a:b] for c in cols_o])
        self.count += n

    def _add_one(self, sid: int, ts: np.ndarray, cols: list[np.ndarray]) -> None:
        self._chunks.setdefault(sid, []).append((ts, cols))
        self._sorted[sid] = False

    def symbols(self) -> list[int]:
        return list(self._chunks)

    def series(self, sid: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """All points of one symbol in time order (ties in write order)."""
        chunks = self._chunks.get(sid)
        if not chunks:
            return np.zeros(0, np.int64), [np.zeros(0) for _ in range(self.n_columns)]
        if not self._sorted[sid]:
            ts = np.concatenate([c[0] for c in chunks]) if len(chunks) > 1 else chunks[0][0]
            cols = [
                np.concatenate([c[1][j] for c in chunks]) if len(chunks) > 1 else chunks[0][1][j]
                for j in range(self.n_columns)
            ]
            if ts.size > 1 and not (ts[1:] >= ts[:-1]).all():
                order = np.argsort(ts, kind="stable")
                ts = ts[order]
                cols = [c[order] for c in cols]
            self._chunks[sid] = [(ts, cols)]
            self._sorted[sid] = True
        ts, cols = self._chunks[sid][0]
        return ts, cols

    def drop_before(self, horizon_ns: int) -> None:
        """Forget points older than the retention horizon (they stay in the WAL until flush)."""
        for sid in list(self._chunks):
            ts, cols = self.series(sid)
            keep = ts >= horizon_ns
            if not keep.all():
                self.count -= int((~keep).sum())
                self._chunks[sid] = [(ts[keep], [c[keep] for c in cols])]
