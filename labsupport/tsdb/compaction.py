"""Compaction: merge adjacent segments into one, atomically; rewrite for retention.

Policy: size-tiered over *adjacent* segments (RocksDB's "universal" compaction, Cassandra's
STCS restricted to neighbours in age). Segments are ordered by age; each gets a tier,
``floor(log_fanout(bytes / base))``; the first run of at least ``fanout`` neighbours in
one tier is merged into a single segment of the next tier.

Why this and not levelled: tick data is written far more than it is rewritten or
point-read. Size-tiered compaction rewrites each point about ``log_fanout(total / base)``
times; levelled compaction rewrites it about ``fanout`` times per level (RocksDB quotes
write amplification 10-30). Its weakness, read amplification (several overlapping
segments per query), is small for ticks: arrivals are almost in time order, so
segments barely overlap and a range query touches one or two blocks per segment in its
range. Only *adjacent* segments are merged so that a merged segment sits in one place
in the age order, which keeps duplicate timestamps in write order.

Atomicity: the output is written to ``.tmp`` and renamed (segment.SegmentWriter); its
``lo..hi`` covers the inputs' ranges. A crash before the rename leaves the inputs as
they were; after it, opening the database sees the inputs covered by the output and
deletes them. Retention uses the same path: a segment that straddles the horizon is
rewritten as generation ``gen + 1`` of the same range, without the old points.
"""

from __future__ import annotations

import math

import numpy as np

from .query import INT64_MAX, BlockRef, iter_merged
from .segment import Segment, SegmentWriter


def tier_of(size_bytes: int, base: int, fanout: int) -> int:
    return int(math.log(max(size_bytes, base) / base, fanout))


def plan_size_tiered(
    segments: list[Segment], base_bytes: int = 1 << 20, fanout: int = 4
) -> list[Segment] | None:
    """The first run of >= fanout adjacent same-tier segments (oldest first), or None."""
    run: list[Segment] = []
    for seg in segments:
        if run and tier_of(seg.size_bytes, base_bytes, fanout) != tier_of(
            run[0].size_bytes, base_bytes, fanout
        ):
            if len(run) >= fanout:
                break
            run = []
        run.append(seg)
        if len(run) >= 2 * fanout:
            break
    return run if len(run) >= fanout else None


def block_refs(
    segments: list[Segment], symbol: str, start: int, end: int, rank0: int = 0
) -> list[BlockRef]:
    refs = []
    for rank, seg in enumerate(segments, start=rank0):
        for i in seg.blocks_for(symbol, start, end):
            e = seg.entries[i]
            refs.append(
                BlockRef(
                    int(e["min_ts"]),
                    int(e["max_ts"]),
                    rank,
                    int(i),
                    lambda s=seg, j=int(i): s.read_block(j),
                )
            )
    return refs


def rechunk(chunks, size: int):
    """Regroup time-ordered (ts, cols) chunks into blocks of exactly ``size`` points (last shorter)."""
    pend_ts: list[np.ndarray] = []
    pend_cols: list[list[np.ndarray]] = []
    have = 0
    for ts, cols in chunks:
        pend_ts.append(ts)
        pend_cols.append(cols)
        have += ts.size
        if have >= size:
            all_ts = np.concatenate(pend_ts)
            all_cols = [np.concatenate([c[j] for c in pend_cols]) for j in range(len(cols))]
            cut = (have // size) * size
            for a in range(0, cut, size):
                yield all_ts[a : a + size], [c[a : a + size] for c in all_cols]
            pend_ts, pend_cols = [all_ts[cut:]], [[c[cut:] for c in all_cols]]
            have -= cut
    if have:
        all_ts = np.concatenate(pend_ts)
        yield all_ts, [np.concatenate([c[j] for c in pend_cols]) for j in range(len(pend_cols[0]))]


def merge_segments(
    inputs: list[Segment],
    directory: str,
    columns: list[tuple[str, str]],
    block_points: int,
    horizon: int,
    gen: int = 0,
) -> str:
    """Merge ``inputs`` (adjacent, oldest first) into one committed segment; returns its path.

    Streams symbol by symbol, block by block, so memory stays near a few blocks.
    Points older than ``horizon`` are left out.
    """
    lo = min(s.lo for s in inputs)
    hi = max(s.hi for s in inputs)
    writer = SegmentWriter(directory, lo, hi, gen, columns)
    try:
        symbols = sorted({name for s in inputs for name in s.symbols})
        for sym in symbols:
            refs = block_refs(inputs, sym, horizon, INT64_MAX)
            stream = iter_merged(refs, horizon, INT64_MAX, len(columns))
            for ts, cols in rechunk(stream, block_points):
                writer.add_block(sym, ts, cols)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
