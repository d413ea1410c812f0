"""Read path: merge blocks from overlapping sources in time order; OHLCV bars; latest value.

A query for one symbol and [start, end) gathers *block references* from every source
that may hold points: each live segment (oldest first) and the memtable (newest). A
source's blocks never overlap each other, but different sources may (out-of-order
writes land in later segments), so the answer is a merge.

Order of equal timestamps: by source age, then by position in the source, i.e. write
order, because flushes and compactions sort stably. ``merge_range`` loads everything
and sorts once; ``iter_merged`` streams: refs are visited by ``min_ts``, and once the
next unloaded block starts at ``t``, every buffered point with ``ts < t`` is final and
is emitted. Memory stays at a few blocks unless many sources overlap the same instant.

Bars are folded chunk by chunk from that stream: bucket = floor(ts / interval) *
interval (aligned to multiples of the interval since the epoch), open/close = first/last
in time order, high/low/volume/count/sum(price * size) by ``reduceat``; a bucket cut by
a chunk boundary is combined with the next chunk's first bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import bits, kernels

Loader = Callable[[], tuple[np.ndarray, list[np.ndarray]]]
INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)


@dataclass(frozen=True, slots=True)
class BlockRef:
    """A block that may hold points of the query: its time span, source rank and loader."""

    min_ts: int
    max_ts: int
    rank: int  # source age: 0 oldest segment ... memtable last
    seq: int  # position within the source
    load: Loader


def _trim(ts, cols, start, end):
    a = np.searchsorted(ts, start, side="left")
    b = np.searchsorted(ts, end, side="left")
    if a == 0 and b == ts.size:
        return ts, cols
    return ts[a:b], [c[a:b] for c in cols]


def _ordered(ts, ranks, cols):
    """Sort by (ts, rank) stably, skipping the sort when already in order."""
    if ts.size < 2:
        return ts, cols
    d = np.diff(ts)
    if (d > 0).all() or ((d >= 0).all() and (np.diff(ranks)[d == 0] >= 0).all()):
        return ts, cols
    order = np.lexsort((ranks, ts))
    return ts[order], [c[order] for c in cols]


def merge_range(refs: list[BlockRef], start: int, end: int, n_cols: int):
    """Every point in [start, end) from ``refs``, in time order (ties in write order)."""
    refs = sorted(refs, key=lambda r: (r.min_ts, r.rank, r.seq))
    pieces = []
    for r in refs:
        ts, cols = _trim(*r.load(), start, end)
        if ts.size:
            pieces.append((ts, cols, r.rank))
    if not pieces:
        return np.zeros(0, np.int64), [np.zeros(0) for _ in range(n_cols)]
    if len(pieces) == 1:
        return pieces[0][0], pieces[0][1]
    ts = np.concatenate([p[0] for p in pieces])
    ranks = np.concatenate([np.full(p[0].size, p[2], np.int32) for p in pieces])
    cols = [np.concatenate([p[1][j] for p in pieces]) for j in range(n_cols)]
    return _ordered(ts, ranks, cols)


def iter_merged(
    refs: list[BlockRef], start: int, end: int, n_cols: int
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """The same points as :func:`merge_range`, yielded in time-ordered chunks (streaming)."""
    refs = sorted(refs, key=lambda r: (r.min_ts, r.rank, r.seq))
    if all(a.max_ts < b.min_ts for a, b in zip(refs, refs[1:])):
        # No two blocks overlap in time (the usual case: one segment, in-order ticks):
        # each block is already a final, time-ordered chunk.
        for r in refs:
            ts, cols = _trim(*r.load(), start, end)
            if ts.size:
                yield ts, cols
        return
    buf_ts: list[np.ndarray] = []
    buf_rank: list[np.ndarray] = []
    buf_cols: list[list[np.ndarray]] = []
    i = 0
    while True:
        frontier = refs[i].min_ts if i < len(refs) else None
        if buf_ts:
            ts = np.concatenate(buf_ts)
            rk = np.concatenate(buf_rank)
            cols = [np.concatenate([b[j] for b in buf_cols]) for j in range(n_cols)]
            if frontier is None:
                out = np.ones(ts.size, dtype=bool)
            else:
                out = ts < frontier
            if out.any():
                keep = ~out
                ets, ecols = _ordered(ts[out], rk[out], [c[out] for c in cols])
                yield ets, ecols
                ts, rk, cols = ts[keep], rk[keep], [c[keep] for c in cols]
            buf_ts, buf_rank, buf_cols = ([ts], [rk], [cols]) if ts.size else ([], [], [])
        if frontier is None:
            return
        # Load every ref that starts at the frontier before emitting again.
        while i < len(refs) and refs[i].min_ts == frontier:
            r = refs[i]
            ts, cols = _trim(*r.load(), start, end)
            if ts.size:
                buf_ts.append(ts)
                buf_rank.append(np.full(ts.size, r.rank, np.int32))
                buf_cols.append(cols)
            i += 1


def latest(refs: list[BlockRef], horizon: int, n_cols: int):
    """(ts, [values]) of the newest point (largest ts; among equals the last written), or None."""
    refs = [r for r in refs if r.max_ts >= horizon]
    if not refs:
        return None
    top = max(r.max_ts for r in refs)
    best = None
    for r in sorted((r for r in refs if r.max_ts == top), key=lambda r: (r.rank, r.seq)):
        ts, cols = r.load()
        hit = np.flatnonzero(ts == top)
        if hit.size:
            j = int(hit[-1])
            best = (int(ts[j]), [c[j] for c in cols])
    return best


BAR_COLUMNS = ["start", "open", "high", "low", "close", "volume", "count", "vwap"]


def _bars_of_chunk(ts, price, size, interval):
    if bits.USE_KERNELS:
        n = ts.size
        out = {k: np.empty(n, np.int64) for k in ("start", "volume", "count")}
        out.update({k: np.empty(n) for k in ("open", "high", "low", "close", "pv")})
        m = kernels.bars_loop(ts, price, size, interval, out["start"], out["open"], out["high"], out["low"],
                              out["close"], out["volume"], out["count"], out["pv"])  # fmt: skip
        # copies, so the tick-sized scratch arrays are freed: a view would keep each chunk's alive
        return {k: v[:m].copy() for k, v in out.items()}
    b = np.floor_divide(ts, interval) * interval
    starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
    ends = np.concatenate((starts[1:], [ts.size]))
    size_f = size.astype(np.float64)
    return {
        "start": b[starts],
        "open": price[starts],
        "high": np.maximum.reduceat(price, starts),
        "low": np.minimum.reduceat(price, starts),
        "close": price[ends - 1],
        "volume": np.add.reduceat(size, starts),
        "count": (ends - starts).astype(np.int64),
        "pv": np.add.reduceat(price * size_f, starts),
    }


def fold_bars(
    chunks: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]], interval_ns: int
) -> pd.DataFrame:
    """OHLCV + count + VWAP per interval from time-ordered (ts, price, size) chunks."""
    if interval_ns <= 0:
        raise ValueError("interval must be positive")
    parts: list[dict] = []
    carry = None
    for ts, price, size in chunks:
        if ts.size == 0:
            continue
        cur = _bars_of_chunk(ts, price, size, interval_ns)
        if carry is not None:
            if carry["start"][-1] == cur["start"][0]:  # a bucket cut by the chunk boundary
                cur["open"][0] = carry["open"][-1]
                cur["high"][0] = max(cur["high"][0], carry["high"][-1])
                cur["low"][0] = min(cur["low"][0], carry["low"][-1])
                cur["volume"][0] += carry["volume"][-1]
                cur["count"][0] += carry["count"][-1]
                cur["pv"][0] += carry["pv"][-1]
                carry = {k: v[:-1] for k, v in carry.items()}
            parts.append(carry)
        carry = cur
    if carry is not None:
        parts.append(carry)
    if not parts:
        df = pd.DataFrame(
            {
                c: np.zeros(0, np.int64 if c in ("start", "volume", "count") else np.float64)
                for c in BAR_COLUMNS
            }
        )
        return df
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    with np.errstate(invalid="ignore", divide="ignore"):
        out["vwap"] = out.pop("pv") / out["volume"]
    return pd.DataFrame({c: out[c] for c in BAR_COLUMNS})
