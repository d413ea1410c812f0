"""Lab 08 exercises: edit these, then run ``python -m labsupport check 08``.

Each function or value below is plugged into the tick store by its check
(``labsupport/exercises/lab08.py``), which prints one PASS/FAIL line per case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labsupport.tsdb import TickDB


# 08.1 A count that never decodes.
# The number of points of `symbol` with start <= ts < end, as db.query(symbol, start, end)
# would return, without decoding more than the (at most two) edge blocks of each segment:
# a block lying entirely inside the range contributes its index entry's "count".
# Useful: db.segments, seg.blocks_for(symbol, start, end), seg.entries[i]["min_ts"/"max_ts"/
# "count"], seg.read_block(i) -> (ts, columns), db.memtable_ts(symbol).
def count(db: TickDB, symbol: str, start: int, end: int) -> int:
    raise NotImplementedError


# 08.2 Write amplification of size-tiered compaction.
# Segments of `flush_bytes[i]` bytes are flushed one after another; after each flush the engine
# merges runs chosen by labsupport.tsdb.compaction.plan_size_tiered(live, base_bytes, fanout)
# until none qualifies (a merged segment's size is the sum of its inputs and takes their place).
# Return bytes written (flushes + merge outputs) / bytes held at the end.
def write_amplification(flush_bytes: Sequence[int], fanout: int, base_bytes: int) -> float:
    return 1.0  # counts the flushes only: as if nothing were ever merged


# 08.3 A quote table.
# Open TickDB(path, columns=[("bid", "float"), ("ask", "float"), ("bid_size", "int"),
# ("ask_size", "int")]), write the order flow's quotes (a structured array with ts_ns, symbol
# (an index into `symbols`), bid_ticks, ask_ticks (cents), bid_qty, ask_qty), flush so they are
# in a segment, and return the open database. Prices are stored in currency units (ticks / 100).
def load_quotes(path: str, quotes: np.ndarray, symbols: Sequence[str]) -> TickDB:
    raise NotImplementedError


# 08.4 A bucket table for microsecond clocks.
# Payload widths of the five timestamp buckets (prefix codes '0', '10', '110', '1110', '1111'),
# non-decreasing, for first differences of tick timestamps rounded to the microsecond. It must
# round-trip any timestamps and take fewer bytes than every table in tsdb.prefix.BUCKET_TABLES.
bucket_table = (0, 7, 9, 12, 64)  # Gorilla's own table: built for second-resolution clocks
