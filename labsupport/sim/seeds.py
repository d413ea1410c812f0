"""Run a randomized check over many seeds; on failure, name the seed and the command to replay it.

FoundationDB's rule: a failing simulation is worth only as much as the ability to run it again.
Since a run is a pure function of its seed, the seed is the whole bug report::

    def test_counter_converges():
        run_seeds(check_counter, range(50))

    # on failure pytest shows:
    #   SeedFailure: seed=17 failed: AssertionError: replicas disagree: [41, 41, 40]
    #   replay: LAB_SIM_SEED=17 python -m pytest 'tests/test_x.py::test_counter_converges'

With ``LAB_SIM_SEED`` set, :func:`run_seeds` runs that one seed only (so the replay is quick and
a debugger or extra prints see just the failing run); ``LAB_SIM_SEEDS=N`` runs seeds
``0..N-1`` instead of the test's own list, for a longer hunt. The test's name comes from
``PYTEST_CURRENT_TEST``, which pytest sets during each test; outside pytest the function's
qualified name is used.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from .errors import SimConfigError

__all__ = ["run_seeds", "replay_command", "SeedFailure", "SEED_ENV", "SEEDS_ENV"]

SEED_ENV = "LAB_SIM_SEED"
SEEDS_ENV = "LAB_SIM_SEEDS"


class SeedFailure(AssertionError):
    """Raised by :func:`run_seeds` when the check failed for a seed; chained to the original."""

    def __init__(self, seed: int, command: str, cause: BaseException) -> None:
        self.seed = seed
        self.command = command
        super().__init__(f"seed={seed} failed: {type(cause).__name__}: {cause}\nreplay: {command}")


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SimConfigError(f"{name}={raw!r}: expected an integer") from None


def replay_command(seed: int, test_id: str | None = None) -> str:
    """The shell command that reruns the current pytest test with only ``seed``."""
    if test_id is None:
        current = os.environ.get("PYTEST_CURRENT_TEST", "")
        test_id = current.rsplit(" (", 1)[0] if current else None
    if test_id is None:
        return f"{SEED_ENV}={seed} python -m pytest  # (not running under pytest)"
    return f"{SEED_ENV}={seed} python -m pytest {shlex.quote(test_id)}"


def run_seeds(check: Callable[[int], Any], seeds: Iterable[int]) -> list[Any]:
    """Call ``check(seed)`` for each seed (or only ``$LAB_SIM_SEED``); return the results.

    The first seed whose check raises stops the run with :class:`SeedFailure` naming the seed
    and the replay command (the command is also printed, so it is in pytest's captured output).
    """
    only = _env_int(SEED_ENV)
    count = _env_int(SEEDS_ENV)
    if only is not None:
        chosen = [only]
    else:
        chosen = list(range(count)) if count is not None else list(seeds)
    results = []
    for seed in chosen:
        try:
            results.append(check(seed))
        except Exception as exc:
            command = replay_command(seed)
            print(f"seed={seed}, replay: {command}")
            raise SeedFailure(seed, command, exc) from exc
    return results
