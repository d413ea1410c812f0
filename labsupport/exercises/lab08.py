"""Exercises of notebook 08: functions that plug into the tick store, checked against it.

- 08.1 a count that never decodes: ``count(db, symbol, start, end)`` from the block index,
  decoding at most the two edge blocks per segment, equal to ``query(...)`` sizes;
- 08.2 write amplification of size-tiered compaction: ``write_amplification(flush_bytes, fanout,
  base_bytes)`` replays the engine's policy on segment sizes, equal to a simulation driven by
  the engine's own planner (``compaction.plan_size_tiered``);
- 08.3 a quote table: ``load_quotes(path, quotes, symbols)`` stores the order flow's quotes in a
  four-column table, checked against the quotes filtered in pandas;
- 08.4 a bucket table for microsecond clocks: ``bucket_table``, five widths plugged into the
  timestamp codec (``gorilla.encode_ts_with_widths``), checked for round trips and for fewer
  bytes than every built-in table on microsecond-rounded ticks.

Every check builds its own small seeded data, in a temporary directory removed at exit.
"""

from __future__ import annotations

import atexit
import functools
import math
import random
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..tsdb import TickDB
from ..tsdb import bench as tsdb_bench
from ..tsdb.compaction import plan_size_tiered
from ..tsdb.gorilla import decode_ts, encode_ts, encode_ts_with_widths
from ..tsdb.prefix import BUCKET_TABLES
from ..tsdb.query import INT64_MAX, INT64_MIN
from . import Case, Property, exercise

QUOTE_COLUMNS = [("bid", "float"), ("ask", "float"), ("bid_size", "int"), ("ask_size", "int")]
"""The quote table of 08.3: prices in currency units (ticks / 100), sizes in shares."""


@functools.cache
def _workdir() -> str:
    path = tempfile.mkdtemp(prefix="lab08-check-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# --- 08.1 -----------------------------------------------------------------------------------

@functools.cache
def _count_store() -> TickDB:
    """Six segments of 512-point blocks, out-of-order rewrites with duplicates, a memtable."""
    w = tsdb_bench.make_workload(40_000, 3, seed=81)
    db = TickDB(f"{_workdir()}/count", memtable_points=7_000, block_points=512, auto_compact=False)
    for a in range(0, w.n, 5_000):
        b = slice(a, a + 5_000)
        db.write(w.ts[b], w.code[b], symbols=w.names, price=w.price[b], size=w.size[b])
    late = slice(10_000, 12_000)  # older ticks written again: duplicates across segments
    db.write(w.ts[late], w.code[late], symbols=w.names, price=w.price[late], size=w.size[late])
    atexit.register(db.close)
    return db


def _ranges(db: TickDB, n: int = 40, seed: int = 8) -> list[tuple[str, int, int]]:
    rng = random.Random(seed)
    lo = min(s.min_ts for s in db.segments)
    hi = max(s.max_ts for s in db.segments)
    out = []
    for _ in range(n):
        a, b = sorted(rng.randint(lo - 10**9, hi + 10**9) for _ in range(2))
        out.append((rng.choice(db.symbols()), a, b))
    return out


def _decodes(count, db: TickDB, symbol: str, start: int, end: int) -> tuple[int, int]:
    """(the count, blocks decoded while computing it)."""
    seen = [0]
    for seg in db.segments:
        real = seg.read_block

        def read_block(i: int, _real=real):
            seen[0] += 1
            return _real(i)

        seg.read_block = read_block
    try:
        return count(db, symbol, start, end), seen[0]
    finally:
        for seg in db.segments:
            del seg.read_block


@exercise("08.1", "A count that never decodes", attr="count")
def check_count(count):
    db = _count_store()
    size = lambda s, a, b: int(db.query(s, a, b)["ts"].size)  # noqa: E731
    seg = db.segments[2]
    e = seg.entries[seg.blocks_for("ACME", INT64_MIN, INT64_MAX)[3]]
    edge = (int(e["min_ts"]), int(e["max_ts"]) + 1)  # exactly one block's span
    lo, hi = min(s.min_ts for s in db.segments), max(s.max_ts for s in db.segments)
    middle = (lo + (hi - lo) // 10, hi - (hi - lo) // 10)
    bound = 2 * len(db.segments)
    return [
        Case("whole store, one symbol", lambda: count(db, "BOLT", INT64_MIN, INT64_MAX),
             size("BOLT", INT64_MIN, INT64_MAX), input="BOLT, all time"),
        Case("empty range", lambda: count(db, "ACME", middle[0], middle[0]), 0,
             input=f"ACME, [{middle[0]}, {middle[0]})"),
        Case("before the first tick", lambda: count(db, "ACME", 0, lo), 0, input=f"ACME, [0, {lo})"),
        Case("exactly one block's span", lambda: count(db, "ACME", *edge), size("ACME", *edge),
             input=f"ACME, {edge}"),
        Case("an unknown symbol", lambda: count(db, "NOPE", INT64_MIN, INT64_MAX), 0,
             input="NOPE, all time"),
        Property("equals the size of query() on random ranges", lambda: _ranges(db),
                 lambda r: count(db, *r), lambda r: size(*r)),
        Case(f"decodes at most two blocks per segment ({bound} for the middle 80% of the day)",
             lambda: _decodes(count, db, "ACME", *middle),
             (size("ACME", *middle), bound), input=f"ACME, {middle}",
             compare=lambda got, want: got[0] == want[0] and got[1] <= want[1]),
    ]


# --- 08.2 -----------------------------------------------------------------------------------

@dataclass
class _Seg:
    size_bytes: int


def reference_write_amplification(flush_bytes, fanout: int, base_bytes: int) -> float:
    """Bytes written (flushes + merge outputs) / bytes at the end, with the engine's planner."""
    live: list[_Seg] = []
    written = 0
    for b in flush_bytes:
        live.append(_Seg(b))
        written += b
        while (run := plan_size_tiered(live, base_bytes, fanout)) is not None:
            at = live.index(run[0])
            merged = _Seg(sum(s.size_bytes for s in run))
            live[at : at + len(run)] = [merged]
            written += merged.size_bytes
    final = sum(s.size_bytes for s in live)
    return written / final if final else 1.0


def _flush_runs(n: int = 30, seed: int = 82):
    rng = random.Random(seed)
    for _ in range(n):
        base = rng.choice([1_000, 64_000, 1 << 20])
        sizes = [rng.randint(base // 2, 2 * base) for _ in range(rng.randint(1, 300))]
        yield sizes, rng.choice([2, 3, 4, 6, 8]), base


@exercise("08.2", "Write amplification of size-tiered compaction", attr="write_amplification")
def check_write_amplification(write_amplification):
    close = lambda got, want: isinstance(got, (int, float)) and math.isclose(got, want)  # noqa: E731
    equal = [1 << 20] * 256
    return [
        Case("three flushes, fanout 4: nothing merges", lambda: write_amplification([1000] * 3, 4, 1000),
             1.0, input="[1000]*3, fanout 4", compare=close),
        Case("four flushes, fanout 4: one merge writes everything again",
             lambda: write_amplification([1000] * 4, 4, 1000), 2.0, input="[1000]*4, fanout 4",
             compare=close),
        Case("sixteen flushes, fanout 4: two tiers",
             lambda: write_amplification([1000] * 16, 4, 1000),
             reference_write_amplification([1000] * 16, 4, 1000), input="[1000]*16, fanout 4",
             compare=close),
        Property("equals the engine's planner on random flush sizes", _flush_runs,
                 lambda r: write_amplification(*r), lambda r: reference_write_amplification(*r),
                 show=lambda r: f"{len(r[0])} flushes of about {r[2]} bytes, fanout {r[1]}",
                 compare=close),
        Case("falls as the fanout grows (256 flushes of 1 MiB, fanout 2, 4, 8)",
             lambda: [round(write_amplification(equal, f, 1 << 20), 6) for f in (2, 4, 8)],
             [round(reference_write_amplification(equal, f, 1 << 20), 6) for f in (2, 4, 8)]),
    ]


# --- 08.3 -----------------------------------------------------------------------------------

@functools.cache
def _quotes():
    from ..marketdata import OrderFlowConfig, generate_order_flow

    flow = generate_order_flow(OrderFlowConfig(n_events=60_000, n_symbols=3, seed=83))
    return flow.quotes, flow.symbols


def _quotes_frame(quotes, symbols) -> pd.DataFrame:
    return pd.DataFrame({"ts": quotes["ts_ns"].astype(np.int64),
                         "symbol": np.asarray(symbols, dtype=object)[quotes["symbol"]],
                         "bid": quotes["bid_ticks"] / 100, "ask": quotes["ask_ticks"] / 100,
                         "bid_size": quotes["bid_qty"].astype(np.int64),
                         "ask_size": quotes["ask_qty"].astype(np.int64)})  # fmt: skip


def _expected(frame: pd.DataFrame, symbol: str, start: int = INT64_MIN, end: int = INT64_MAX):
    m = frame[(frame.symbol == symbol) & (frame.ts >= start) & (frame.ts < end)]
    m = m.sort_values("ts", kind="stable")
    return {c: m[c].tolist() for c in ("ts", "bid", "ask", "bid_size", "ask_size")}


def _got(db: TickDB, symbol: str, start: int = INT64_MIN, end: int = INT64_MAX):
    q = db.query(symbol, start, end)
    return {c: np.asarray(q[c]).tolist() for c in ("ts", "bid", "ask", "bid_size", "ask_size")}


@exercise("08.3", "A quote table", attr="load_quotes")
def check_load_quotes(load_quotes):
    quotes, symbols = _quotes()
    frame = _quotes_frame(quotes, symbols)
    opened: list[TickDB] = []

    def db() -> TickDB:
        """The learner's database, loaded on first use (so each case reports its own failure)."""
        if not opened:
            path = tempfile.mkdtemp(prefix="quotes-", dir=_workdir())
            shutil.rmtree(path)  # load_quotes creates the directory itself
            opened.append(load_quotes(path, quotes, symbols))
            atexit.register(opened[0].close)
        return opened[0]

    t0 = int(frame.ts.min())
    minute = (t0 + 60 * 10**9, t0 + 120 * 10**9)
    cases = [
        Case("the table's columns", lambda: [tuple(c) for c in db().columns], [tuple(c) for c in QUOTE_COLUMNS]),
        Case("every quote is in a segment (flushed, none only in the WAL)",
             lambda: (db().stats()["segment_points"], db().stats()["memtable_points"]), (len(quotes), 0)),
    ]
    for s in symbols:
        cases.append(Case(f"all of {s}'s quotes, in time order", lambda s=s: _got(db(), s),
                          _expected(frame, s), input=s))
    cases.append(Case("a one-minute range query", lambda: _got(db(), symbols[0], *minute),
                      _expected(frame, symbols[0], *minute), input=f"{symbols[0]}, {minute}"))
    cases.append(Case("fewer than 16 bytes per quote on disk (raw: 40)",
                      lambda: round(db().stats()["bytes_per_point"], 2), 16.0,
                      compare=lambda got, limit: got < limit))
    return cases


# --- 08.4 -----------------------------------------------------------------------------------

@functools.cache
def _micro_blocks() -> tuple[np.ndarray, ...]:
    """Blocks of 8192 tick timestamps rounded to the microsecond, two symbols."""
    w = tsdb_bench.make_workload(100_000, 4, seed=8)
    out = []
    for code in (0, 1):
        ts = (w.ts[w.code == code] // 1000) * 1000
        out += [ts[a : a + 8192] for a in range(0, ts.size, 8192)]
    return tuple(out)


def _hard_blocks() -> list[np.ndarray]:
    t = 1_700_000_000 * 10**9
    return [np.array([t, t + 1000, t + 3600 * 10**9, t + 3600 * 10**9 + 2000]),  # an hour's gap
            np.array([t, t - 5 * 10**9, t + 2**40, 0, t]),  # out of order, huge jumps
            np.array([t]), np.array([t, t, t, t])]


def _bytes_against_builtins(table) -> dict:
    blocks = _micro_blocks()
    yours = sum(len(encode_ts_with_widths(b, table, 1)) - 5 for b in blocks)  # 5: the table itself
    best = min(sum(len(encode_ts(b, order=1, table=t)) for b in blocks) for t in range(len(BUCKET_TABLES)))
    return {"yours": yours, "best built-in": best}


@exercise("08.4", "A bucket table for microsecond clocks", attr="bucket_table")
def check_bucket_table(bucket_table):
    table = tuple(int(w) for w in bucket_table)
    rt = lambda b: decode_ts(encode_ts_with_widths(b, table, 1), b.size).tolist()  # noqa: E731
    return [
        Case("five non-decreasing widths in 0..64", lambda: (len(table), list(table) == sorted(table),
                                                            all(0 <= w <= 64 for w in table)),
             (5, True, True), input=repr(table)),
        Property("round trip on microsecond-rounded ticks", _micro_blocks, rt, lambda b: b.tolist(),
                 show=lambda b: f"block of {b.size} starting at {b[0]}"),
        Property("round trip on gaps, jumps back and repeats", _hard_blocks, rt, lambda b: b.tolist()),
        Case("fewer bytes than every built-in table, same data",
             lambda: _bytes_against_builtins(table), "yours < best built-in",
             compare=lambda got, _: got["yours"] < got["best built-in"]),
    ]
