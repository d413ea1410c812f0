"""Benchmark: the tick store against SQLite, DuckDB and Parquet (zstd) on the same ticks.

What is measured, on one generated trading day of ticks (labsupport.marketdata):
- ingest rate through each system's Python API: ours in batches with the WAL on
  (fsync after every batch, and with no fsync), SQLite executemany into a table with an
  index on (symbol, ts), DuckDB from a DataFrame, Parquet written by pyarrow with zstd;
- bytes per point on disk (ours after a full compaction; WAL empty);
- range query latency (one symbol, one hour, a fixed list of random hours; same list for
  every system) and 1-minute bars over one symbol's day, interleaved with side_by_side.
Published anchors are quoted, not measured: Gorilla 1.37 bytes/point (VLDB 2015), InfluxDB
TSM about 2.5-2.9 bytes/point, QuestDB about 1.4 M rows/s ingest.

    flock /tmp/lab-cpu.lock python -m labsupport.tsdb.bench [--ticks N] [--repeats R]
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import cli
from ..measure import BenchReport, machine_line, scaled, side_by_side
from . import kernels
from .db import TickDB

HOUR_NS = 3600 * 10**9
DAY_S = 6.5 * 3600  # one regular trading session
ANCHORS = {
    "Gorilla (paper) bytes/point": 1.37,
    "InfluxDB TSM bytes/point": "2.5-2.9",
    "QuestDB ingest rows/s": "about 1.4 M",
}

try:
    import duckdb
except ImportError:  # pragma: no cover - peers extra absent
    duckdb = None
try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover
    pa = pq = None


@dataclass
class Workload:
    """The ticks every system gets, and the queries every system answers."""

    ts: np.ndarray
    code: np.ndarray
    price: np.ndarray
    size: np.ndarray
    names: list[str]
    queries: list[tuple[str, int, int]]  # (symbol, start, end): one hour each
    day: tuple[int, int]

    @property
    def n(self) -> int:
        return self.ts.size

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ts": self.ts,
                "symbol": np.asarray(self.names, dtype=object)[self.code],
                "price": self.price,
                "size": self.size,
            }
        )


def make_workload(n: int, n_symbols: int = 8, seed: int = 8, n_queries: int = 16) -> Workload:
    """``n`` ticks over one session (marketdata.generate_ticks), and random one-hour queries."""
    from ..marketdata import generate_ticks, tickers

    t = generate_ticks(n, n_symbols, seed, rate_per_s=n / DAY_S, as_frame=False)
    names = list(tickers(n_symbols))
    ts = t["ts_ns"].astype(np.int64)
    rng = np.random.default_rng(seed)
    day = (int(ts[0]), int(ts[-1]) + 1)
    starts = rng.integers(day[0], max(day[1] - HOUR_NS, day[0] + 1), n_queries)
    syms = rng.choice(names[: max(1, n_symbols // 2)], n_queries)  # the busier half
    queries = [(str(s), int(a), int(a) + HOUR_NS) for s, a in zip(syms, starts)]
    return Workload(ts, t["symbol"].astype(np.uint32), t["price"].copy(), t["size"].astype(np.int64), names,
                    queries, day)  # fmt: skip


# ------------------------------------------------------------------ ingest
def ingest_ours(w: Workload, path: str, fsync: str = "batch", batch: int = 100_000) -> float:
    """Seconds to write every tick in batches, flush the memtable and close (WAL on)."""
    shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    with TickDB(path, fsync=fsync, memtable_points=1_000_000, auto_compact=False) as db:
        for a in range(0, w.n, batch):
            b = slice(a, a + batch)
            db.write(w.ts[b], w.code[b], symbols=w.names, price=w.price[b], size=w.size[b])
        db.flush()
    return time.perf_counter() - t0


def compact_ours(path: str) -> float:
    t0 = time.perf_counter()
    with TickDB(path) as db:
        db.compact(full=True)
    return time.perf_counter() - t0


def ingest_sqlite(w: Workload, path: str) -> float:
    if os.path.exists(path):
        os.unlink(path)
    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE ticks (ts INTEGER, symbol TEXT, price REAL, size INTEGER)")
    con.execute("CREATE INDEX ticks_sym_ts ON ticks (symbol, ts)")
    sym = np.asarray(w.names, dtype=object)[w.code].tolist()
    with con:
        con.executemany(
            "INSERT INTO ticks VALUES (?,?,?,?)",
            zip(w.ts.tolist(), sym, w.price.tolist(), w.size.tolist()),
        )
    con.close()
    return time.perf_counter() - t0


def ingest_duckdb(w: Workload, path: str, df: pd.DataFrame) -> float:
    if os.path.exists(path):
        os.unlink(path)
    t0 = time.perf_counter()
    con = duckdb.connect(path)
    con.register("src", df)
    # Sorted by (symbol, ts): DuckDB's best layout for these queries (zone maps prune row groups).
    con.execute("CREATE TABLE ticks AS SELECT * FROM src ORDER BY symbol, ts")
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - t0


def write_parquet(df: pd.DataFrame, path: str) -> float:
    t0 = time.perf_counter()
    table = pa.Table.from_pandas(
        df.sort_values(["symbol", "ts"], kind="stable"), preserve_index=False
    )
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 17)
    return time.perf_counter() - t0


# ------------------------------------------------------------------ queries
BARS_SQL = """
SELECT DISTINCT b, first_value(price) OVER w, max(price) OVER w, min(price) OVER w,
       last_value(price) OVER w, sum(size) OVER w, count(*) OVER w
FROM (SELECT ts / {i} * {i} AS b, ts, price, size FROM ticks WHERE symbol = ? AND ts >= ? AND ts < ?)
WINDOW w AS (PARTITION BY b ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
ORDER BY b
"""
DUCK_BARS_SQL = """
SELECT ts // {i} * {i} AS b, arg_min(price, ts), max(price), min(price), arg_max(price, ts),
       sum(size), count(*)
FROM ticks WHERE symbol = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b
"""
RANGE_SQL = "SELECT ts, price, size FROM ticks WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts"


def _cycler(items: list, fn: Callable) -> Callable[[], object]:
    """A zero-argument callable that runs ``fn`` on the next item (same sequence per system)."""
    state = {"i": 0}

    def call():
        item = items[state["i"] % len(items)]
        state["i"] += 1
        return fn(*item)

    return call


def candidates(w: Workload, paths: dict[str, str], kind: str, interval_ns: int = 60 * 10**9):
    """name -> callable answering the next range query (kind='range') or day of bars ('bars')."""
    db = TickDB(paths["ours"])
    conns: list = [db]
    if kind == "range":
        items = w.queries
        out = {"ours": _cycler(items, lambda s, a, b: db.query(s, a, b))}
    else:
        items = [(q[0], *w.day) for q in w.queries[:4]]
        out = {"ours": _cycler(items, lambda s, a, b: db.bars(s, a, b, interval_ns))}
    if duckdb is not None:
        dcon = duckdb.connect(paths["duckdb"], read_only=True)
        conns.append(dcon)
        dsql = RANGE_SQL if kind == "range" else DUCK_BARS_SQL.format(i=interval_ns)
        out["duckdb"] = _cycler(items, lambda s, a, b: dcon.execute(dsql, [s, a, b]).fetchnumpy())
    scon = sqlite3.connect(paths["sqlite"])
    conns.append(scon)
    ssql = RANGE_SQL if kind == "range" else BARS_SQL.format(i=interval_ns)
    out["sqlite"] = _cycler(items, lambda s, a, b: scon.execute(ssql, (s, a, b)).fetchall())
    if pq is not None and kind == "range":
        filt = lambda s, a, b: [("symbol", "=", s), ("ts", ">=", a), ("ts", "<", b)]  # noqa: E731
        out["parquet"] = _cycler(
            items, lambda s, a, b: pq.read_table(paths["parquet"], filters=filt(s, a, b))
        )
    return out, conns


def check_same_answers(w: Workload, paths: dict[str, str], interval_ns: int = 60 * 10**9) -> int:
    """The peers answer the same questions: range queries and bars agree. Returns checks made."""
    checks = 0
    scon = sqlite3.connect(paths["sqlite"])
    dcon = duckdb.connect(paths["duckdb"], read_only=True) if duckdb is not None else None
    try:
        with TickDB(paths["ours"]) as db:
            for s, a, b in w.queries[:4]:
                ours = db.query(s, a, b)
                rows = scon.execute(RANGE_SQL, (s, a, b)).fetchall()
                assert [r[0] for r in rows] == ours["ts"].tolist(), f"sqlite range {s}"
                bars = db.bars(s, a, b, interval_ns)
                sb = scon.execute(BARS_SQL.format(i=interval_ns), (s, a, b)).fetchall()
                want = bars[["start", "open", "high", "low", "close", "volume", "count"]]
                assert [tuple(r) for r in sb] == list(want.itertuples(index=False, name=None)), (
                    f"sqlite bars {s}"
                )
                checks += 2
                if dcon is not None:
                    d = dcon.execute(RANGE_SQL, [s, a, b]).fetchnumpy()
                    assert np.array_equal(d["ts"], ours["ts"]) and np.array_equal(
                        d["price"], ours["price"]
                    )
                    db_ = dcon.execute(DUCK_BARS_SQL.format(i=interval_ns), [s, a, b]).fetchnumpy()
                    got = list(db_.values())
                    for j, col in (
                        (0, "start"),
                        (2, "high"),
                        (3, "low"),
                        (5, "volume"),
                        (6, "count"),
                    ):
                        assert np.array_equal(np.asarray(got[j]), want[col].to_numpy()), (
                            f"duckdb bars {col}"
                        )
                    checks += 2
    finally:
        scon.close()
        if dcon is not None:
            dcon.close()
    return checks


def latency_vs_range(
    db: TickDB, symbol: str, start: int, lengths_ns: list[int], repeats: int = 5
) -> pd.DataFrame:
    """Median query time for ranges of growing length (same symbol, same start)."""
    rows = []
    for ln in lengths_ns:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            q = db.query(symbol, start, start + ln)
            times.append(time.perf_counter_ns() - t0)
        rows.append(
            {"range_s": ln / 1e9, "points": q["ts"].size, "median_us": np.median(times) / 1e3}
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the whole run
def run(n: int, repeats: int = 7, workdir: str | None = None) -> dict:
    kernels.warm_up()
    w = make_workload(n)
    own_tmp = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="tsdb-bench-")
    paths = {k: os.path.join(workdir, v) for k, v in
             {"ours": "ours", "sqlite": "ticks.sqlite", "duckdb": "ticks.duckdb", "parquet": "ticks.parquet"}.items()}  # fmt: skip
    try:
        df = w.frame()
        ingest = {}
        ingest_ours(w, paths["ours"] + "-warm", "none")  # page cache and allocator warm
        shutil.rmtree(paths["ours"] + "-warm", ignore_errors=True)
        ingest["ours (fsync none)"] = ingest_ours(w, paths["ours"], "none")
        ingest["ours (fsync every batch)"] = ingest_ours(w, paths["ours"], "batch")
        compact_s = compact_ours(paths["ours"])
        ingest["sqlite"] = ingest_sqlite(w, paths["sqlite"])
        if duckdb is not None:
            ingest["duckdb"] = ingest_duckdb(w, paths["duckdb"], df)
        if pq is not None:
            ingest["parquet zstd (write)"] = write_parquet(df, paths["parquet"])
        with TickDB(paths["ours"]) as db:
            ours_bytes = db.stats()["segment_bytes"]
        size = {"ours": ours_bytes, "sqlite": os.path.getsize(paths["sqlite"])}
        if duckdb is not None:
            size["duckdb"] = os.path.getsize(paths["duckdb"])
        if pq is not None:
            size["parquet zstd"] = os.path.getsize(paths["parquet"])
        checks = check_same_answers(w, paths)
        results = {}
        for kind in ("range", "bars"):
            cands, conns = candidates(w, paths, kind)
            try:
                base = "duckdb" if "duckdb" in cands else "sqlite"
                results[kind] = side_by_side(cands, repeats=repeats, warmup=1, baseline=base)
            finally:
                for c in conns:
                    c.close()
        return {
            "workload": w,
            "ingest": pd.DataFrame(
                {"seconds": ingest, "ticks_per_s": {k: w.n / v for k, v in ingest.items()}}
            ),
            "compact_s": compact_s,
            "size": pd.DataFrame(
                {"bytes": size, "bytes_per_point": {k: v / w.n for k, v in size.items()}}
            ),
            "range": results["range"],
            "bars": results["bars"],
            "skipped": [p for p, m in (("duckdb", duckdb), ("pyarrow", pq)) if m is None],
            "answers_checked": checks,
        }
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)


def report(res: dict) -> BenchReport:
    rep = BenchReport("tsdb")
    w = res["workload"]
    for name, row in res["ingest"].iterrows():
        rep.add(f"ingest {name}", ticks=w.n, ticks_per_s=round(row.ticks_per_s))
    rep.add("compact ours (full)", seconds=round(res["compact_s"], 3))
    for name, row in res["size"].iterrows():
        rep.add(f"size {name}", bytes=int(row.bytes), bytes_per_point=round(row.bytes_per_point, 3))
    for kind in ("range", "bars"):
        t = res[kind].table
        for name in t.index:
            rep.add(f"{kind} {name}", **{k: v for k, v in t.loc[name].items()})
    return rep


def main(argv: list[str] | None = None) -> None:
    p = cli.ArgumentParser(prog="python -m labsupport.tsdb.bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--ticks", type=int, default=scaled(ci=200_000, default=2_000_000, full=10_000_000)
    )
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    res = run(args.ticks, args.repeats)
    rep = report(res)
    print(
        f"tsdb benchmark: {res['workload'].n:,} ticks, {len(res['workload'].names)} symbols, on {machine_line()}"
    )
    print("\ningest through the Python API:\n" + res["ingest"].round(3).to_string())
    print(f"(ours, full compaction afterwards: {res['compact_s']:.3f} s)")
    print("\nsize on disk:\n" + res["size"].round(3).to_string())
    for kind in ("range", "bars"):
        print(f"\n{kind} query (ratio: time vs {res[kind].baseline}):")
        print(res[kind].table.to_string())
    print("\npublished anchors (not measured here):", ANCHORS)
    if res["skipped"]:
        print("skipped (not installed):", ", ".join(res["skipped"]))
    print("wrote", rep.write())


if __name__ == "__main__":
    main()
