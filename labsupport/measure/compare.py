"""Side by side: time several callables interleaved, report medians, spread and ratios.

On a shared 2-core machine an absolute number is mostly noise; what survives is the ratio of
two things measured in the same minutes. So the runner
- calibrates, per candidate, how many calls make one timing last about ``target_s`` (so the
  clock's resolution and the loop's overhead vanish),
- warms every candidate up (caches, lazy imports, branch predictors, allocator pools),
- then runs ``repeats`` rounds; in each round every candidate is timed once, in an order
  rotated from round to round, so a slow minute of the machine hits all of them alike,
- and reports each candidate's median time per call, its min/max, and its ratio to the
  baseline: median of the per-round ratios, with their min and max as the spread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .units import choose_unit


@dataclass(frozen=True)
class SideBySide:
    """What :func:`side_by_side` measured. ``table`` has one row per candidate."""

    baseline: str
    repeats: int
    numbers: dict[str, int]
    per_call_ns: dict[str, np.ndarray]  # candidate -> per-round time per call, ns

    @property
    def table(self) -> pd.DataFrame:
        unit_name, div = choose_unit([float(np.median(v)) for v in self.per_call_ns.values()])
        base = self.per_call_ns[self.baseline]
        rows = []
        for name, times in self.per_call_ns.items():
            ratios = times / base
            rows.append(
                {
                    "candidate": name,
                    "calls/round": self.numbers[name],
                    f"median ({unit_name}/call)": float(np.median(times)) / div,
                    f"min ({unit_name})": float(times.min()) / div,
                    f"max ({unit_name})": float(times.max()) / div,
                    "spread %": 100.0 * float(np.ptp(times) / np.median(times)),
                    f"time vs {self.baseline}": float(np.median(ratios)),
                    "ratio min": float(ratios.min()),
                    "ratio max": float(ratios.max()),
                }
            )
        import pandas as pd  # lazily: importing pandas costs about a second
        return pd.DataFrame(rows).set_index("candidate").round(3)

    def ratio(self, name: str) -> float:
        """Median per-round time ratio ``name / baseline`` (below 1: faster than the baseline)."""
        return float(np.median(self.per_call_ns[name] / self.per_call_ns[self.baseline]))

    def speedup(self, name: str) -> float:
        """How many times faster than the baseline ``name`` is (the inverse of :meth:`ratio`)."""
        return 1.0 / self.ratio(name)

    def __repr__(self) -> str:
        return (
            f"side by side, {self.repeats} interleaved rounds, baseline {self.baseline!r}\n"
            f"{self.table.to_string()}"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p>side by side, {self.repeats} interleaved rounds, "
            f"baseline <code>{self.baseline}</code></p>"
        )
        return head + self.table.to_html()


def _time_calls(fn: Callable[[], Any], number: int) -> int:
    perf = time.perf_counter_ns
    t0 = perf()
    for _ in range(number):
        fn()
    return perf() - t0


def side_by_side(
    candidates: Mapping[str, Callable[[], Any]],
    *,
    repeats: int = 7,
    warmup: int = 1,
    number: int | None = None,
    baseline: str | None = None,
    target_s: float = 0.02,
) -> SideBySide:
    """Time each zero-argument callable interleaved over ``repeats`` rounds after ``warmup`` rounds.

    ``number`` calls per timing (default: calibrated per candidate to last about ``target_s``).
    ``baseline`` names the candidate ratios are taken against (default: the first).
    """
    if not candidates:
        raise ValueError("side_by_side needs at least one candidate")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    names = list(candidates)
    baseline = names[0] if baseline is None else baseline
    if baseline not in candidates:
        raise KeyError(f"baseline {baseline!r} is not one of {names}")

    numbers: dict[str, int] = {}
    for name in names:
        if number is not None:
            numbers[name] = number
            continue
        # Grow the call count until one timing is long enough to trust.
        n = 1
        while True:
            elapsed = _time_calls(candidates[name], n)
            if elapsed >= target_s * 1e9 / 10 or n >= 1 << 24:
                numbers[name] = max(1, math.ceil(n * target_s * 1e9 / max(elapsed, 1)))
                break
            n *= 10

    for _ in range(warmup):
        for name in names:
            _time_calls(candidates[name], numbers[name])

    per_call: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed = _time_calls(candidates[name], numbers[name])
            per_call[name].append(elapsed / numbers[name])
    return SideBySide(
        baseline=baseline,
        repeats=repeats,
        numbers=numbers,
        per_call_ns={k: np.asarray(v) for k, v in per_call.items()},
    )
