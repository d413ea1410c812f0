"""Lab 12 data: CSV and partitioned Parquet sources, resampling, bad data, out-of-core memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from labsupport.backtest import (
    DataError,
    bars_from_tickdb,
    generate_dataset,
    iter_tick_chunks,
    layout,
    load_bars,
    load_symbol,
    memory_trace,
    resample_ticks,
    symbols,
)
from labsupport.tsdb import TickDB, fold_bars

MIN = 60 * 10**9
T0 = 1_736_951_400_000_000_000


def _frame(n=40, symbol="ACME", seed=1, t0=T0):
    rng = np.random.default_rng(seed)
    close = np.round(100 + np.cumsum(rng.normal(0, 0.2, n)), 2)
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"ts": t0 + MIN * np.arange(n), "symbol": symbol, "open": open_,
                         "high": np.maximum(open_, close) + 0.05, "low": np.minimum(open_, close) - 0.05,
                         "close": close, "volume": 100})


@pytest.fixture(scope="module")
def ticks_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ticks")
    generate_dataset(d, 60_000, n_symbols=3, days=3, seed=5)
    return d


def test_bars_csv_iso_and_epoch_ns_give_the_same_bars(tmp_path):
    df = pd.concat([_frame(symbol="ACME"), _frame(symbol="BOLT", seed=2)])
    df.to_csv(tmp_path / "bars.csv", index=False)
    iso = df.assign(ts=pd.to_datetime(df.ts, utc=True).map(lambda t: t.isoformat()))
    (tmp_path / "iso").mkdir()
    iso.to_csv(tmp_path / "iso" / "bars.csv", index=False)
    a, b = load_bars(tmp_path), load_bars(tmp_path / "iso")
    assert layout(tmp_path) == "bars.csv" and sorted(a) == ["ACME", "BOLT"]
    for s in a:
        assert all(np.array_equal(x, y) for x, y in zip(a[s].columns(), b[s].columns()))
    assert a["ACME"].ts_ns[0] == T0 and len(a["BOLT"]) == 40


def test_one_csv_per_symbol_takes_the_symbol_from_the_file_name(tmp_path):
    for s in ("ACME", "BOLT"):
        _frame(symbol=s).drop(columns="symbol").to_csv(tmp_path / f"{s}.csv", index=False)
    bars = load_bars(tmp_path)
    assert layout(tmp_path) == "csv-per-symbol" and sorted(bars) == ["ACME", "BOLT"]
    assert load_symbol(tmp_path, "BOLT").symbol == "BOLT"


BAD = [
    ("unsorted", lambda f: f.iloc[[0, 2, 1, *range(3, len(f))]], ["line 4", "unsorted", "column ts"]),
    ("duplicate", lambda f: f.assign(ts=f.ts.where(f.index != 5, f.ts[4])), ["line 7", "duplicate"]),
    ("NaN price", lambda f: f.assign(close=f.close.where(f.index != 9, np.nan)), ["line 11", "column close", "NaN"]),
    ("missing column", lambda f: f.drop(columns="volume"), ["missing column volume"]),
    ("bad timestamp", lambda f: f.astype({"ts": str}).assign(ts=lambda g: g.ts.where(g.index != 3, "noon")),
     ["line 5", "column ts", "'noon'"]),
    ("not a number", lambda f: f.astype({"open": object}).assign(open=lambda g: g.open.where(g.index != 2, "x")),
     ["line 4", "column open"]),
    ("high below low", lambda f: f.assign(high=f.high.where(f.index != 6, 1.0)), ["line 8", "not consistent"]),
]


@pytest.mark.parametrize("name, spoil, words", BAD, ids=[b[0] for b in BAD])
def test_bad_data_is_a_clear_error_naming_file_line_and_column(tmp_path, name, spoil, words):
    spoil(_frame()).to_csv(tmp_path / "bars.csv", index=False)
    with pytest.raises(DataError) as err:
        load_bars(tmp_path)
    assert "bars.csv" in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_gaps_are_not_errors_the_series_is_the_bars_present(tmp_path):
    f = _frame(60)
    f = f[(f.index < 20) | (f.index >= 35)]  # a 15-minute hole
    f.to_csv(tmp_path / "bars.csv", index=False)
    b = load_bars(tmp_path)["ACME"]
    assert len(b) == 45 and int(np.diff(b.ts_ns).max()) == 16 * MIN


def test_empty_directory_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="no bars.csv"):
        load_bars(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_bars(tmp_path / "nope")


def test_parquet_is_partitioned_by_symbol_and_day_and_read_by_partition(ticks_dir):
    files = sorted(p.relative_to(ticks_dir).parts[:2] for p in ticks_dir.rglob("*.parquet"))
    assert files[0] == ("symbol=ACME", "day=2025-01-15") and len(files) == 9  # 3 symbols x 3 days
    assert layout(ticks_dir) == "parquet-ticks" and symbols(ticks_dir) == ["ACME", "BOLT", "CRUX"]
    chunks = list(iter_tick_chunks(ticks_dir, "BOLT", batch_rows=1000))
    assert max(c[0].size for c in chunks) <= 1000
    ts = np.concatenate([c[0] for c in chunks])
    assert np.all(np.diff(ts) >= 0)
    import pyarrow.dataset as ds
    whole = ds.dataset(str(ticks_dir), partitioning="hive").to_table(filter=ds.field("symbol") == "BOLT")
    assert ts.size == whole.num_rows


def test_ticks_resampled_to_bars_equal_one_fold_of_all_ticks(ticks_dir):
    bars = load_symbol(ticks_dir, "ACME", 5 * MIN, batch_rows=777)  # chunk edges cut bars
    ts, price, size = (np.concatenate(c) for c in zip(*iter_tick_chunks(ticks_dir, "ACME")))
    ref = fold_bars(iter([(ts, price, size)]), 5 * MIN)
    assert np.array_equal(bars.ts_ns, ref.start.to_numpy())
    for c in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(bars, c), ref[c].to_numpy(float)), c
    assert (bars.ts_ns % (5 * MIN) == 0).all()


def test_unsorted_ticks_are_refused():
    ts = np.array([3, 2, 5], np.int64) * MIN
    with pytest.raises(DataError, match="unsorted"):
        resample_ticks("X", iter([(ts, np.ones(3) * 10, np.ones(3))]), MIN)
    with pytest.raises(DataError, match="price nan"):
        resample_ticks("X", iter([(np.arange(3), np.array([1, np.nan, 2]), np.ones(3))]), MIN)


def test_bars_from_the_tick_store(tmp_path, ticks_dir):
    ts, price, size = (np.concatenate(c) for c in zip(*iter_tick_chunks(ticks_dir, "CRUX")))
    with TickDB(tmp_path / "db") as db:
        db.write(ts, np.array(["CRUX"] * ts.size), price=price, size=size.astype(np.int64))
        db.flush()
        from_db = bars_from_tickdb(db, "CRUX", MIN)
    from_parquet = load_symbol(ticks_dir, "CRUX", MIN)
    assert len(from_db) == len(from_parquet) > 100
    assert np.array_equal(from_db.close, from_parquet.close)


def _peaks(path) -> dict:
    """Arrow bytes held (sampled after every batch) and numpy's traced peak, over one read."""
    base = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        trace = memory_trace(path, "ACME", batch_rows=32_768)
        numpy_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {"bars": trace.attrs["bars"], "ticks": int(trace.ticks_read.iloc[-1]),
            "arrow_peak": int(trace.arrow_bytes.max()) - base, "numpy_peak": numpy_peak}


@pytest.mark.timeout(120)
def test_out_of_core_read_keeps_memory_bounded(tmp_path):
    """4x the ticks, the same peak: only about a row group and the bars are ever held."""
    generate_dataset(tmp_path / "small", 200_000, n_symbols=1, days=4, seed=3, chunk_ticks=100_000)
    generate_dataset(tmp_path / "big", 800_000, n_symbols=1, days=4, seed=3, chunk_ticks=200_000)
    _peaks(tmp_path / "small")  # warm up: imports, numba, psutil
    small, big = _peaks(tmp_path / "small"), _peaks(tmp_path / "big")
    print(small, big)
    assert big["ticks"] == 800_000 and big["bars"] == 4 * 390
    budget = 4 * 2**20  # the big dataset is 16 MB of ticks (20 bytes each), the small one 4 MB
    for kind in ("arrow_peak", "numpy_peak"):
        assert big[kind] < budget, (kind, big)
        assert big[kind] < small[kind] + 2**20, (kind, small, big)
