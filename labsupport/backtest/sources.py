"""Where bars come from: CSV files, partitioned Parquet read lazily, Lab 08's tick store, the generator.

Layouts of ``--data DIR`` (decided by what is in the directory, in this order):

- ``DIR/bars.csv``: every symbol in one file, columns ``ts,symbol,open,high,low,close,volume``;
- ``DIR/*.csv``: one file per symbol (``symbol`` column optional: the file name is the symbol);
- Parquet partitioned hive-style by symbol and day (``DIR/symbol=ACME/day=2025-01-15/*.parquet``)
  holding ticks (``ts,price,size``) or bars (``ts,open,high,low,close,volume``).

Theory of operation
-------------------
A Parquet directory is opened as a pyarrow dataset, which reads only the footers: nothing is
loaded until a symbol is asked for. :func:`iter_tick_chunks` then prunes twice: partition
pruning keeps only that symbol's files (the filter on ``symbol`` never opens another symbol's
file) and column pruning reads only ``ts,price,size``. Files are read in (day, name) order
as record batches of ``batch_rows``, so resampling to bars holds one batch and the bars,
never the day or the dataset: this is what keeps an out-of-core run's memory bounded.

:func:`generate_dataset` writes such a directory from :func:`labsupport.marketdata.generate_ticks`
in chunks (a chunk's prices are rescaled to continue the previous chunk's last price per symbol),
laying the continuous tick clock onto 6.5-hour sessions of consecutive business days.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..marketdata import SESSION_OPEN_NS, generate_ticks, tickers
from .bars import Bars, bars_from_fold, bars_from_frame, resample_ticks
from .errors import DataError

SESSION_NS = 23_400 * 10**9  # 09:30-16:00
DAY_NS = 86_400 * 10**9
MINUTE_NS = 60 * 10**9
CHUNK_TICKS = 2_000_000
ROW_GROUP = 32_768  # rows per Parquet row group: the unit a reader must hold at once


def _dataset(path: str | os.PathLike[str]):
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet", partitioning="hive")


def _parquet_files(path: Path) -> bool:
    return any(path.rglob("*.parquet"))


def layout(path: str | os.PathLike[str]) -> str:
    """``csv`` (one file), ``bars.csv``, ``csv-per-symbol``, ``parquet-ticks`` or ``parquet-bars``."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", str(p))
    if p.is_file():
        if p.suffix == ".csv":
            return "csv"
        raise DataError(f"{p}: not a .csv file nor a directory of bars")
    if (p / "bars.csv").is_file():
        return "bars.csv"
    if any(p.glob("*.csv")):
        return "csv-per-symbol"
    if _parquet_files(p):
        names = _dataset(p).schema.names
        if {"price", "size"} <= set(names):
            return "parquet-ticks"
        if {"open", "close"} <= set(names):
            return "parquet-bars"
        raise DataError(f"{p}: Parquet with columns {','.join(names)}: neither ticks (ts,price,size) "
                        "nor bars (ts,open,high,low,close,volume)")
    raise DataError(f"{p}: no bars.csv, no *.csv and no Parquet files in this directory")


def symbols(path: str | os.PathLike[str]) -> list[str]:
    """The symbols in a data path, without loading any data of a Parquet directory."""
    kind = layout(path)
    if kind.startswith("parquet"):
        import pyarrow.dataset as ds

        found = {ds.get_partition_keys(f.partition_expression).get("symbol")
                 for f in _dataset(path).get_fragments()}
        if None in found:
            raise DataError(f"{path}: Parquet files must be partitioned by symbol (symbol=NAME/...)")
        return sorted(found)
    return sorted(load_bars(path))


def _fragments(path, symbol: str) -> list:
    import pyarrow.dataset as ds

    frags = list(_dataset(path).get_fragments(filter=ds.field("symbol") == symbol))
    key = lambda f: (str(ds.get_partition_keys(f.partition_expression).get("day", "")), f.path)  # noqa: E731
    return sorted(frags, key=key)


def iter_tick_chunks(path, symbol: str, batch_rows: int = 65_536) -> Iterator[tuple[np.ndarray, ...]]:
    """One symbol's ticks as time-ordered (ts_ns, price, size) chunks of at most ``batch_rows``.

    The dataset picks the files (partition pruning); each file is then read row group by row
    group with ``ParquetFile.iter_batches``. The dataset scanner's own ``to_batches`` buffers
    ahead (whole files with ``pre_buffer``, 16 batches of readahead): measured, its peak grew
    with the file size, while this one stays at about one row group.
    """
    import pyarrow.parquet as pq

    for frag in _fragments(path, symbol):
        with pq.ParquetFile(frag.path, pre_buffer=False) as pf:
            for batch in pf.iter_batches(batch_size=batch_rows, columns=["ts", "price", "size"],
                                         use_threads=False):
                if batch.num_rows:
                    yield tuple(batch.column(i).to_numpy(zero_copy_only=False) for i in range(3))


def load_symbol(path, symbol: str, interval_ns: int = MINUTE_NS, batch_rows: int = 65_536) -> Bars:
    """One symbol's bars, reading only its data where the layout allows (Parquet)."""
    kind = layout(path)
    if kind == "parquet-ticks":
        return resample_ticks(symbol, iter_tick_chunks(path, symbol, batch_rows), interval_ns)
    if kind == "parquet-bars":
        tables = [f.to_table() for f in _fragments(path, symbol)]
        if not tables:
            raise DataError(f"{path}: no data for symbol {symbol!r}")
        import pyarrow as pa

        return bars_from_frame(pa.concat_tables(tables).to_pandas(), f"{path} ({symbol})", symbol)[symbol]
    found = load_bars(path)
    if symbol not in found:
        raise DataError(f"{path}: no bars for symbol {symbol!r} (have {', '.join(found)})")
    return found[symbol]


def load_bars(path, interval_ns: int = MINUTE_NS, only: list[str] | None = None) -> dict[str, Bars]:
    """Every symbol's bars from any supported layout (ticks are resampled to ``interval_ns``)."""
    kind = layout(path)
    p = Path(path)
    if kind in ("csv", "bars.csv"):
        f = p if kind == "csv" else p / "bars.csv"
        out = bars_from_frame(_read_csv(f), str(f))
    elif kind == "csv-per-symbol":
        out = {}
        for f in sorted(p.glob("*.csv")):
            df = _read_csv(f)
            name = None if "symbol" in df.columns else f.stem
            out.update(bars_from_frame(df, str(f), name))
    else:
        out = {s: load_symbol(p, s, interval_ns) for s in symbols(p) if only is None or s in only}
    return {s: b for s, b in out.items() if only is None or s in only}


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"ts": str, "symbol": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({' '.join(str(exc).split())[:120]})") from None


def bars_from_tickdb(db, symbol: str, interval_ns: int = MINUTE_NS, start_ns: int = -(2**63),
                     end_ns: int = 2**63 - 1) -> Bars:
    """Bars straight out of Lab 08's :class:`~labsupport.tsdb.TickDB` (it folds them itself)."""
    return bars_from_fold(symbol, db.bars(symbol, start_ns, end_ns, interval_ns))


def session_clock(elapsed_ns: np.ndarray) -> np.ndarray:
    """Continuous trading time -> wall-clock ns on consecutive business-day sessions."""
    day = elapsed_ns // SESSION_NS
    first = np.datetime64(SESSION_OPEN_NS // DAY_NS, "D")
    dates = np.busday_offset(first, day, roll="forward").astype("datetime64[D]").astype(np.int64)
    return dates * DAY_NS + SESSION_OPEN_NS % DAY_NS + elapsed_ns % SESSION_NS


def _planned_clock(ts_ns: np.ndarray, first: int, n: int, per_tick_ns: float) -> np.ndarray:
    """Stretch a chunk's bursty clock onto its planned span (ticks first..first+n of the plan), so
    the dataset covers exactly the sessions asked for: bursts stay, the mean rate is the plan's."""
    rel = (ts_ns - ts_ns[0]).astype(np.float64)
    span = n * per_tick_ns
    return (first * per_tick_ns + rel * (span / (rel[-1] + 1.0))).astype(np.int64)


def generate_dataset(out, n_ticks: int, n_symbols: int = 4, days: int = 20, seed: int = 12,
                     chunk_ticks: int = CHUNK_TICKS) -> dict:
    """Write ``n_ticks`` trade ticks as Parquet partitioned by symbol and day; returns a summary."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if n_ticks < 1 or n_symbols < 1 or days < 1:
        raise DataError(f"need at least 1 tick, 1 symbol and 1 day (got {n_ticks}, {n_symbols}, {days})")
    names = np.array(tickers(n_symbols), dtype=object)
    rate = n_ticks / (days * SESSION_NS / 1e9)
    last = np.full(n_symbols, np.nan)
    per_tick_ns = days * SESSION_NS / n_ticks
    part = pa.schema([("symbol", pa.string()), ("day", pa.string())])
    for k, a in enumerate(range(0, n_ticks, chunk_ticks)):
        n = min(chunk_ticks, n_ticks - a)
        t = generate_ticks(n, n_symbols, seed + k, start_ts_ns=0, rate_per_s=rate, as_frame=False)
        price = t["price"].copy()
        for s in range(n_symbols):  # continue each symbol's path from the previous chunk
            m = t["symbol"] == s
            if m.any() and np.isfinite(last[s]):
                price[m] = np.round(price[m] * (last[s] / price[m][0]), 2)
            if m.any():
                last[s] = price[m][-1]
        ts = session_clock(_planned_clock(t["ts_ns"], a, n, per_tick_ns))
        day = ts.astype("datetime64[ns]").astype("datetime64[D]").astype(str)
        table = pa.table({"ts": ts, "price": price, "size": t["size"].astype(np.int32),
                          "symbol": names[t["symbol"]], "day": day})
        ds.write_dataset(table, str(out), format="parquet",
                         partitioning=ds.partitioning(part, flavor="hive"),
                         basename_template=f"part-{k:05d}-{{i}}.parquet",
                         existing_data_behavior="overwrite_or_ignore", preserve_order=True,
                         max_rows_per_group=ROW_GROUP, min_rows_per_group=min(ROW_GROUP, n))
    return {"ticks": n_ticks, "symbols": n_symbols, "days": days,
            "files": sum(1 for _ in Path(out).rglob("*.parquet"))}


def sample_bars(seed: int = 0, days: int = 5, ticks_per_day: int = 20_000, n_symbols: int = 1,
                interval_ns: int = MINUTE_NS, daily_vol: float = 0.02) -> dict[str, Bars]:
    """Generated bars in memory (no files): the tests', the exercises' and the notebook's series."""
    n = days * ticks_per_day
    t = generate_ticks(n, n_symbols, seed, start_ts_ns=0, rate_per_s=n / (days * SESSION_NS / 1e9),
                       daily_vol=daily_vol, as_frame=False)
    ts = session_clock(_planned_clock(t["ts_ns"], 0, n, days * SESSION_NS / n))
    out = {}
    for s, name in enumerate(tickers(n_symbols)):
        m = t["symbol"] == s
        out[name] = resample_ticks(name, iter([(ts[m], t["price"][m], t["size"][m])]), interval_ns)
    return out


def memory_trace(path, symbol: str, interval_ns: int = MINUTE_NS, batch_rows: int = 65_536) -> pd.DataFrame:
    """Resample one symbol out of core, recording after each batch the seconds since the start,
    the ticks read so far and the bytes Arrow and this process hold (RSS): the notebook's
    memory-over-time plot."""
    import time

    import psutil
    import pyarrow as pa

    proc = psutil.Process()
    rows = []
    seen = [0]
    t0 = time.perf_counter()

    def watched():
        for chunk in iter_tick_chunks(path, symbol, batch_rows):
            seen[0] += chunk[0].size
            rows.append((time.perf_counter() - t0, seen[0], pa.total_allocated_bytes(),
                         proc.memory_info().rss))
            yield chunk

    bars = resample_ticks(symbol, watched(), interval_ns)
    out = pd.DataFrame(rows, columns=["seconds", "ticks_read", "arrow_bytes", "rss_bytes"])
    out.attrs["bars"] = len(bars)
    out.attrs["seconds"] = time.perf_counter() - t0
    return out
