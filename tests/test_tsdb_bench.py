"""The benchmark asks every system the same questions and gets the same answers (no timings)."""

import os

import pytest

from labsupport.tsdb import bench


@pytest.mark.slow
def test_peers_answer_the_same_range_and_bar_queries(tmp_path):
    w = bench.make_workload(30_000, n_symbols=4, seed=3, n_queries=4)
    paths = {k: str(tmp_path / k) for k in ("ours", "sqlite", "duckdb", "parquet")}
    assert bench.ingest_ours(w, paths["ours"], "batch", batch=7_000) > 0
    bench.ingest_sqlite(w, paths["sqlite"])
    if bench.duckdb is not None:
        bench.ingest_duckdb(w, paths["duckdb"], w.frame())
    assert bench.check_same_answers(w, paths) == (16 if bench.duckdb is not None else 8)
    if bench.pq is not None:
        bench.write_parquet(w.frame(), paths["parquet"])
        assert os.path.getsize(paths["parquet"]) > 0


def test_workload_queries_are_one_hour_inside_the_session():
    w = bench.make_workload(5_000, n_symbols=4, seed=1, n_queries=6)
    assert len(w.queries) == 6
    for s, a, b in w.queries:
        assert s in w.names and b - a == bench.HOUR_NS and w.day[0] <= a < w.day[1]
