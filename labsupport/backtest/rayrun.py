"""Ray as a second sweep backend: the same tasks on a local Ray instead of a Dask cluster.

Ray (``ray.remote`` tasks over a local raylet and its worker processes) is optional, in the
``heavy`` extra: :func:`ray_available` says whether it is installed and :class:`RayPool`
raises :class:`~.errors.BacktestError` naming the pip command when it is not. It is here to
compare with Dask on the one thing a sweep needs, running many pure tasks and gathering their
results, not to replace it.

Theory of operation
-------------------
:class:`RayPool` starts a private local Ray with ``num_cpus=workers`` (one task at a time per
CPU, as a Dask worker with one thread), no dashboard, logs kept out of the driver, a small
object store, the node on 127.0.0.1 and usage statistics off (nothing leaves the machine).
:func:`.sweep.run_sweep` hands it the very :class:`~.sweep.SweepTask` list it would give Dask,
and :meth:`RayPool.as_completed` submits :func:`.sweep.run_task` once per task and yields the
rows as tasks finish (``ray.wait``), so the progress bar, the ordering rule and the table are
the same: a sweep on Ray equals the serial sweep bit for bit. Setting ``at_once`` to 1 makes
each task reserve every CPU, so one Ray measures one worker and two without a second start. Ray costs more to start than a
``LocalCluster`` (its GCS server, raylet and agents, several seconds and several hundred MB,
see :func:`.sweep.children_rss`); :meth:`RayPool.close` shuts all of it down.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Iterator

from .errors import BacktestError


class RayStartError(BacktestError):
    """The local Ray did not come up (its raylet has 30 s to register, which a loaded
    machine can miss)."""


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


class RayPool:
    """A local Ray of ``workers`` CPUs running sweep tasks; use as a context manager."""

    def __init__(self, workers: int = 2, object_store_mb: int = 128) -> None:
        if not ray_available():
            raise BacktestError("--backend ray: ray is not installed (pip install 'ray>=2.9')")
        if workers < 1:
            raise BacktestError(f"--backend ray needs --workers >= 1, got {workers}")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # before import: no phoning home
        import ray

        from .sweep import run_task

        self.workers = workers
        t0 = time.perf_counter()
        try:
            ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.ERROR,
                     log_to_driver=False, object_store_memory=object_store_mb * 2**20,
                     _node_ip_address="127.0.0.1")
        except Exception as exc:  # Ray raises a bare Exception when its raylet is late
            ray.shutdown()
            raise RayStartError(f"--backend ray: a local Ray did not start ({exc})") from exc
        self.startup_s = time.perf_counter() - t0
        self._ray = ray
        self._task = ray.remote(max_retries=3)(run_task)
        self.at_once = workers  # tasks running at once: each reserves workers / at_once CPUs

    def as_completed(self, tasks: list) -> Iterator[list[dict]]:
        """Run every task, ``at_once`` at a time; yield each one's rows as it finishes."""
        ray = self._ray
        task = self._task.options(num_cpus=self.workers / max(1, min(self.at_once, self.workers)))
        pending = [task.remote(t) for t in tasks]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._ray.is_initialized():
            self._ray.shutdown()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["RayPool", "RayStartError", "ray_available"]
