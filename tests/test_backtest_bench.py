"""Lab 12 benchmark pieces at tiny size: the out-of-core stream (generated once, then reused), the table."""

from __future__ import annotations

import math

import pytest

from labsupport.backtest import bench
from labsupport.backtest.outofcore import MARKER, dataset_dir, stream_run


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_BUILD_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.timeout(120)
def test_stream_run_generates_the_dataset_once_then_reuses_it(build):
    row, trace = stream_run(30_000, n_symbols=2, days=3, seed=4)
    where = dataset_dir(30_000, 2, 3, 4)
    assert where.is_relative_to(build) and (where / MARKER).exists()
    assert row["ticks"] == 30_000 and row["generate_s"] > 0 and row["files"] == 6 and row["disk_MiB"] > 0
    assert 0 < row["bars"] <= 2 * 3 * 390 and row["ticks_per_s"] > 0
    assert trace["ticks_read"].is_monotonic_increasing and trace["seconds"].is_monotonic_increasing
    assert set(trace["symbol"]) == {"ACME", "BOLT"} and row["rss_peak_MiB"] >= row["rss_first_MiB"] > 0
    again, _ = stream_run(30_000, n_symbols=2, days=3, seed=4)
    assert math.isnan(again["generate_s"]) and (again["ticks"], again["bars"]) == (row["ticks"], row["bars"])
    (where / MARKER).unlink()  # as if a run died while writing: regenerated, not trusted
    third, _ = stream_run(30_000, n_symbols=2, days=3, seed=4)
    assert third["generate_s"] > 0 and third["bars"] == row["bars"]


@pytest.mark.timeout(300)
def test_bench_prints_one_table_and_its_misses(build, capsys):
    assert bench.main(["--bars", "400", "--events", "3000", "--repeats", "1", "--no-sweep",
                       "--stream-ticks", "20000"]) == 0
    out = capsys.readouterr().out
    for part in ("SMA crossover, bars/s", "tick-level fills", "out-of-core stream", "stream 20,000 ticks",
                 "misses:", "not the 100 M of the target"):
        assert part in out, part
    assert (build / "bench" / "backtest-stream-20000.csv").exists()
