"""Lab 12 sweeps on Dask: 2 workers equal the serial sweep exactly, and so does a killed worker.

One LocalCluster of two worker processes serves the whole module (each startup costs seconds).
"""

from __future__ import annotations

import os
import signal

import pandas as pd
import pytest

from labsupport.backtest import generate_dataset, make_tasks, parse_grid, run_sweep
from labsupport.backtest.sweep import local_client, param_sets

pytest.importorskip("distributed", reason="dask distributed is not installed (the dist extra)")

GRID = "fast=5:25:5,slow=20:60:10"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    generate_dataset(d, 60_000, n_symbols=2, days=3, seed=21)
    return str(d)


@pytest.fixture(scope="module")
def client():
    c = local_client(2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial(data):
    return run_sweep(make_tasks(data, "sma_cross", parse_grid(GRID), chunk=4))


def test_grid_parsing_includes_the_stop_and_skips_invalid_sets():
    grid = parse_grid("fast=5:50:5,slow=20:200:10")
    assert grid["fast"] == list(range(5, 51, 5)) and grid["slow"] == list(range(20, 201, 10))
    sets = param_sets("sma_cross", parse_grid("fast=10:30:10,slow=20:30:10"))
    assert sets == [{"fast": 10, "slow": 20}, {"fast": 10, "slow": 30}, {"fast": 20, "slow": 30}]


def test_tasks_are_partition_by_parameter_chunk(data):
    tasks = make_tasks(data, "sma_cross", parse_grid(GRID), chunk=4)
    n_sets = len(param_sets("sma_cross", parse_grid(GRID)))
    assert {t.symbol for t in tasks} == {"ACME", "BOLT"}
    assert sum(len(t.params) for t in tasks) == 2 * n_sets
    assert max(len(t.params) for t in tasks) == 4


def test_serial_sweep_has_one_row_per_symbol_and_parameter_set(serial):
    n_sets = len(param_sets("sma_cross", parse_grid(GRID)))
    assert len(serial) == 2 * n_sets
    assert not serial.duplicated(["symbol", "fast", "slow"]).any()
    assert serial["trades"].gt(0).all()


@pytest.mark.timeout(120)
def test_two_workers_equal_the_serial_sweep_exactly(data, client, serial):
    assert len(client.scheduler_info()["workers"]) == 2
    got = run_sweep(make_tasks(data, "sma_cross", parse_grid(GRID), chunk=3), client)
    pd.testing.assert_frame_equal(got, serial, check_exact=True)
    where = client.run(os.getpid)
    assert len(set(where.values())) == 2  # two processes really did the work


@pytest.mark.timeout(120)
def test_the_command_line_uses_an_existing_scheduler_by_address(data, client, serial, tmp_path, capsys):
    from labsupport.backtest.__main__ import main

    out = tmp_path / "sweep"
    assert main(["sweep", "--data", data, "--strategy", "sma_cross", "--grid", GRID,
                 "--scheduler", client.scheduler.address, "--out", str(out)]) == 0
    got = pd.read_csv(out / "results.csv")
    assert len(got) == len(serial)
    assert (got[["symbol", "fast", "slow"]].to_numpy() == serial[["symbol", "fast", "slow"]].to_numpy()).all()
    assert got["sharpe"].to_numpy() == pytest.approx(serial["sharpe"].to_numpy(), rel=1e-12, nan_ok=True)
    assert len(client.scheduler_info()["workers"]) == 2  # the cluster is left running
    assert f"{len(serial)} runs" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_sweep_gives_identical_results(data, client, serial):
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    done = []

    def progress(n: int) -> None:
        done.append(n)
        if len(done) == 2:  # mid-sweep: some tasks gathered, others running or queued
            os.kill(victim, signal.SIGKILL)

    tasks = make_tasks(data, "sma_cross", parse_grid(GRID), chunk=1)  # many small tasks
    got = run_sweep(tasks, client, progress=progress)
    pd.testing.assert_frame_equal(got, serial, check_exact=True)
    assert len(done) == len(tasks) > 2  # most tasks finished after the kill
    assert victim not in client.run(os.getpid).values()  # the victim really died (its nanny restarts it)


@pytest.mark.timeout(300)
def test_a_sweep_on_ray_equals_the_serial_sweep_exactly(data, serial):
    """The optional second backend: the same tasks on a local Ray of 2 CPUs, shut down after."""
    pytest.importorskip("ray", reason="ray is not installed (the heavy extra)")
    from labsupport.backtest.rayrun import RayPool, RayStartError
    from labsupport.backtest.sweep import children_rss

    done = []
    try:
        pool = RayPool(2)
    except RayStartError as exc:  # Ray's own 30 s start-up limit, on an overloaded machine
        pytest.skip(str(exc))
    with pool:
        assert pool.startup_s > 0 and children_rss() > 0
        got = run_sweep(make_tasks(data, "sma_cross", parse_grid(GRID), chunk=3), pool, progress=done.append)
    pd.testing.assert_frame_equal(got, serial, check_exact=True)
    assert len(done) == len(make_tasks(data, "sma_cross", parse_grid(GRID), chunk=3))
    import ray

    assert not ray.is_initialized()


def test_ray_backend_usage_errors_exit_2_with_one_line(data, tmp_path, capsys, monkeypatch):
    from labsupport.backtest import rayrun
    from labsupport.backtest.__main__ import main

    argv = ["sweep", "--data", data, "--strategy", "sma_cross", "--grid", GRID, "--out", str(tmp_path),
            "--backend", "ray"]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "with --backend ray use --workers N" in capsys.readouterr().err
    monkeypatch.setattr(rayrun, "ray_available", lambda: False)
    assert main([*argv, "--workers", "2"]) == 2
    assert "ray is not installed" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_bench_times_a_dask_sweep_with_worker_busy_share_and_tail(data, client, serial):
    from labsupport.backtest import bench

    row = bench._timed_dask(client, make_tasks(data, "sma_cross", parse_grid(GRID), chunk=3))
    assert row["runs"] == len(serial) and row["seconds"] > 0
    assert 0 < row["busy"] <= 1 and 0 <= row["tail_s"] < row["seconds"]


def test_bench_ray_rows_skip_with_a_message_without_ray(data, monkeypatch, capsys):
    from labsupport.backtest import bench, rayrun

    monkeypatch.setattr(rayrun, "ray_available", lambda: False)
    assert bench.ray_rows(make_tasks(data, "sma_cross", parse_grid(GRID), chunk=3)) == []
    assert "ray sweep: skipped: not installed" in capsys.readouterr().out
