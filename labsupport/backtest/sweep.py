"""Parameter sweeps, serial or on a Dask cluster, with results that do not depend on which.

A sweep is every parameter set of a grid (``fast=5:50:5,slow=20:200:10``: start, stop
*inclusive*, step) run on every symbol. It mirrors what one does with Dask by hand, packaged:

Theory of operation
-------------------
Work is cut into tasks of (partition, parameter chunk): a partition is one symbol's series (its
day files are read together, since an indicator needs the days before), a chunk is a run of
consecutive parameter sets. A task reads its partition where it runs (:func:`.sources.load_symbol`,
cached per worker process, so a worker reads a partition once however many chunks it gets),
runs the vectorised engine on each set and returns rows of statistics. Chunks are sized so that
each task does at least ``min_runs_per_task`` runs: Dask costs about 1-2 ms per task, a
vectorised run costs tens to hundreds of microseconds, so one run per task would spend most of
the time in the scheduler. And there are about ``TASKS_PER_WORKER`` (16) tasks per worker, not 1:
runs differ in cost (a fast window trades more), and with many tasks the scheduler hands the
next one to whichever worker is free, so the workers finish within a fraction of one task of
each other (the tail) instead of one waiting for the other's last big chunk. With a sweep of
total work ``T`` and a per-task cost ``o``, the wall time on ``W`` workers is about
``T/W + n·o/W + T/(2n)`` for ``n`` tasks, smallest near ``n = sqrt(W·T/(2·o))``: for a
3 s sweep at 2 ms a task, about 40 tasks on 2 workers.

Determinism: a task is a pure function of its arguments (no RNG, no clock), rows are sorted by
(symbol, parameters) after gathering, so 1 worker, N workers, a rerun after a killed worker and
the serial path give the same table, bit for bit. ``client`` is any ``distributed.Client``:
a :class:`LocalCluster` of processes (the default) or one at ``--scheduler tcp://HOST:8786``;
or a :class:`~.rayrun.RayPool`, the same tasks on a local Ray.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from .costs import Costs
from .errors import BacktestError, ParamError
from .sources import MINUTE_NS, load_symbol, symbols
from .stats import compute_stats
from .strategies import make_strategy
from .vector import VectorEngine


def parse_grid(text: str) -> dict[str, list[float]]:
    """``"fast=5:50:5,slow=20:200:10"`` -> values per parameter (``a:b:s`` includes ``b``; ``x`` alone)."""
    grid: dict[str, list[float]] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, spec = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            parts = [float(v) for v in spec.split(":")]
            if len(parts) == 1:
                values = parts
            elif len(parts) == 3 and parts[2] > 0 and parts[1] >= parts[0]:
                a, b, s = parts
                values = [a + k * s for k in range(int(math.floor((b - a) / s + 1e-9)) + 1)]
            else:
                raise ValueError
        except ValueError:
            raise ParamError(f"--grid: {item!r} is not NAME=START:STOP:STEP or NAME=VALUE "
                             "(e.g. fast=5:50:5,slow=20:200:10)") from None
        grid[name.strip()] = [int(v) if float(v).is_integer() else v for v in values]
    if not grid:
        raise ParamError("--grid is empty")
    return grid


def param_sets(strategy: str, grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination that makes a valid strategy (e.g. fast < slow), in grid order."""
    names = list(grid)
    out = []
    for combo in itertools.product(*(grid[n] for n in names)):
        params = dict(zip(names, combo))
        try:
            make_strategy(strategy, params)
        except ParamError as exc:
            if "unknown parameter" in str(exc) or "unknown strategy" in str(exc):
                raise
            continue
        out.append(params)
    if not out:
        raise ParamError(f"--grid: no valid parameter set for {strategy} in {grid}")
    return out


@dataclass(frozen=True)
class SweepTask:
    data: str
    symbol: str
    strategy: str
    params: tuple[tuple[tuple[str, float], ...], ...]
    size: float = 100
    cash: float = 100_000.0
    fee_bps: float = 0.0
    interval_ns: int = MINUTE_NS


TASKS_PER_WORKER = 16


@functools.lru_cache(maxsize=16)
def _bars(data: str, symbol: str, interval_ns: int, stamp: float):
    return load_symbol(data, symbol, interval_ns)


def _stamp(path: str) -> float:
    return os.stat(path).st_mtime_ns


def run_task(task: SweepTask) -> list[dict]:
    """One (partition, parameter chunk): rows of parameters and statistics."""
    bars = _bars(task.data, task.symbol, task.interval_ns, _stamp(task.data))
    engine = VectorEngine(cash=task.cash, costs=Costs(fee_bps=task.fee_bps))
    rows = []
    for items in task.params:
        params = dict(items)
        result = engine.run(make_strategy(task.strategy, params, task.size), bars)
        rows.append({"symbol": task.symbol, **params, **compute_stats(result),
                     "final_equity": result.final_equity})
    return rows


def make_tasks(data: str, strategy: str, grid: dict[str, list[float]], *, size: float = 100,
               cash: float = 100_000.0, fee_bps: float = 0.0, interval_ns: int = MINUTE_NS,
               chunk: int | None = None, workers: int = 1, min_runs_per_task: int = 20) -> list[SweepTask]:
    sets = param_sets(strategy, grid)
    syms = symbols(data)
    if chunk is None:  # TASKS_PER_WORKER, but never tasks smaller than the minimum
        chunk = max(min_runs_per_task, math.ceil(len(sets) / (TASKS_PER_WORKER * max(workers, 1))))
    chunk = max(1, min(chunk, len(sets)))
    items = [tuple(p.items()) for p in sets]
    return [SweepTask(str(data), s, strategy, tuple(items[a : a + chunk]), size, cash, fee_bps, interval_ns)
            for s in syms for a in range(0, len(items), chunk)]


def _table(rows: Iterable[dict], names: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows))
    return df.sort_values(["symbol", *names], kind="stable").reset_index(drop=True)


def run_sweep(tasks: list[SweepTask], client=None, progress: Callable[[int], None] | None = None,
              workers: list[str] | None = None) -> pd.DataFrame:
    """Run the tasks (in this process, or on ``client``: a Dask ``Client``, optionally only on
    the ``workers`` addresses given, or a :class:`~.rayrun.RayPool`) and gather one sorted
    table."""
    if not tasks:
        raise BacktestError("nothing to sweep")
    names = [k for k, _ in tasks[0].params[0]]
    rows: list[dict] = []
    if client is None:
        for t in tasks:
            rows += run_task(t)
            if progress:
                progress(1)
        return _table(rows, names)
    from .rayrun import RayPool

    if isinstance(client, RayPool):
        for chunk in client.as_completed(tasks):
            rows += chunk
            if progress:
                progress(1)
        return _table(rows, names)
    from distributed import as_completed

    futures = client.map(run_task, tasks, pure=False, workers=workers)
    try:
        for fut in as_completed(futures):
            rows += fut.result()
            if progress:
                progress(1)
    finally:
        client.cancel(futures)
    return _table(rows, names)


def local_client(workers: int = 2):
    """A ``distributed.Client`` on a new LocalCluster of ``workers`` single-threaded processes."""
    import logging

    from distributed import Client, LocalCluster

    # loopback only, OS-assigned ports; the scheduler's HTTP server (health, metrics) on port 0
    # rather than 8787, with the Bokeh dashboard off
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                           silence_logs=logging.ERROR)
    return Client(cluster)


def children_rss() -> int:
    """Resident bytes of every process this one started (a LocalCluster's or Ray's)."""
    import psutil

    total = 0
    for p in psutil.Process().children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a process that just exited
            continue
    return total


def _noop(x: int) -> int:
    return x


def task_overhead_ms(client, n: int = 200) -> float:
    """Wall time per task of ``n`` tasks that do nothing: what the scheduler costs per task."""
    import time

    from distributed import wait

    wait(client.map(_noop, range(8), pure=False))  # warm the path first
    t0 = time.perf_counter()
    wait(client.map(_noop, range(n), pure=False))
    return (time.perf_counter() - t0) / n * 1e3


def best_runs(results: pd.DataFrame, metric: str = "sharpe", n: int = 10) -> pd.DataFrame:
    """The ``n`` best rows by ``metric`` (NaN last)."""
    return results.sort_values(metric, ascending=False, na_position="last").head(n)


def heatmap_frame(results: pd.DataFrame, x: str, y: str, metric: str = "sharpe") -> pd.DataFrame:
    """Mean of ``metric`` over symbols, ``y`` down and ``x`` across."""
    return results.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")


__all__ = ["SweepTask", "best_runs", "children_rss", "heatmap_frame", "local_client", "make_tasks",
           "param_sets", "parse_grid", "run_sweep", "run_task", "task_overhead_ms"]
