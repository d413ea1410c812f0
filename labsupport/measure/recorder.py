"""Latency recorder: nanosecond samples into a preallocated numpy buffer, exact percentiles.

Mirrors what HdrHistogram gives a Java or C++ engineer, traded the other way: instead of a
fixed-precision histogram we keep every sample (8 bytes each), so percentiles are exact and any
plot can be drawn afterwards. A million samples cost 8 MB, which is fine for a lab.

Theory of operation
- ``record(ns)`` stores one integer into the next slot of an int64 array and bumps a counter:
  one numpy item assignment, no allocation (a few tens of ns in CPython; see the benchmark in
  :mod:`labsupport.measure.bench`). When the buffer is full it doubles (amortised O(1)), so a
  recorder never drops samples silently.
- ``record_many(arr)`` copies a whole array in one slice assignment (load generators and
  vectorised timings hand over their samples this way).
- Percentiles use the nearest-rank definition (numpy's ``inverted_cdf``): the reported p99 is a
  latency that was actually observed, and at least 99% of the samples are at or below it. This
  is the convention of HdrHistogram and wrk, and it never interpolates a latency nobody saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .units import choose_unit, fmt_ns, fmt_rate

#: The percentiles every summary reports, as (label, percent).
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """The numbers a latency distribution is reported with (all in nanoseconds)."""

    name: str
    count: int
    min_ns: float
    mean_ns: float
    p50_ns: float
    p90_ns: float
    p99_ns: float
    p999_ns: float
    max_ns: float
    rate_per_s: float | None = None  # count / elapsed time, when the caller knows the elapsed time

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)

    def __str__(self) -> str:
        unit = choose_unit([self.p50_ns])
        parts = [f"{self.name}: n={self.count:,}"]
        for label, value in (
            ("min", self.min_ns),
            ("p50", self.p50_ns),
            ("p90", self.p90_ns),
            ("p99", self.p99_ns),
            ("p99.9", self.p999_ns),
            ("max", self.max_ns),
        ):
            parts.append(f"{label}={fmt_ns(value, unit)}")
        if self.rate_per_s is not None:
            parts.append(f"rate={fmt_rate(self.rate_per_s)}")
        return "  ".join(parts)


class LatencyRecorder:
    """Collects latency samples in integer nanoseconds and summarises them exactly.

    >>> rec = LatencyRecorder("noop")
    >>> for _ in range(3):
    ...     t0 = time.perf_counter_ns(); t1 = time.perf_counter_ns(); rec.record(t1 - t0)
    >>> rec.count
    3
    """

    __slots__ = ("name", "_buf", "_n")

    def __init__(self, name: str = "latency", capacity: int = 1 << 16) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.name = name
        self._buf = np.empty(capacity, dtype=np.int64)
        self._n = 0

    # -- recording -------------------------------------------------------------------------
    def record(self, ns: int) -> None:
        """Add one sample (nanoseconds). Cheap: one array store; grows by doubling when full."""
        n = self._n
        try:
            self._buf[n] = ns
        except IndexError:
            self._grow(n + 1)
            self._buf[n] = ns
        self._n = n + 1

    def record_many(self, samples_ns: Iterable[int] | np.ndarray) -> None:
        """Add many samples at once (an array, list or any iterable of nanoseconds)."""
        arr = np.asarray(samples_ns if not isinstance(samples_ns, Iterator) else list(samples_ns))
        arr = arr.astype(np.int64, copy=False).ravel()
        end = self._n + arr.size
        if end > self._buf.size:
            self._grow(end)
        self._buf[self._n : end] = arr
        self._n = end

    @contextmanager
    def time(self) -> Iterator[None]:
        """Time the body of a ``with`` block and record it."""
        t0 = time.perf_counter_ns()
        try:
            yield
        finally:
            self.record(time.perf_counter_ns() - t0)

    def _grow(self, needed: int) -> None:
        size = self._buf.size
        while size < needed:
            size *= 2
        buf = np.empty(size, dtype=np.int64)
        buf[: self._n] = self._buf[: self._n]
        self._buf = buf

    def reset(self) -> None:
        """Forget every sample (keeps the buffer)."""
        self._n = 0

    @classmethod
    def from_array(cls, name: str, samples_ns: Iterable[int] | np.ndarray) -> LatencyRecorder:
        """A recorder holding a copy of ``samples_ns``."""
        arr = np.asarray(samples_ns, dtype=np.int64).ravel()
        rec = cls(name, capacity=max(1, arr.size))
        rec.record_many(arr)
        return rec

    # -- reading ---------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self._n

    def __len__(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        """The samples recorded so far, in recording order (a read-only view, no copy)."""
        view = self._buf[: self._n]
        view.flags.writeable = False
        return view

    def percentile(self, p: float | Sequence[float]) -> float | np.ndarray:
        """Exact nearest-rank percentile(s), ``p`` in [0, 100]."""
        if self._n == 0:
            raise ValueError(f"recorder {self.name!r} has no samples")
        return np.percentile(self._buf[: self._n], p, method="inverted_cdf")

    def summary(self, elapsed_s: float | None = None) -> LatencySummary:
        """Count, min, mean, p50, p90, p99, p99.9, max (ns), and the rate if ``elapsed_s`` is known."""
        if self._n == 0:
            raise ValueError(f"recorder {self.name!r} has no samples")
        data = self._buf[: self._n]
        p50, p90, p99, p999 = np.percentile(
            data, [p for _, p in PERCENTILES], method="inverted_cdf"
        )
        rate = self._n / elapsed_s if elapsed_s else None
        return LatencySummary(
            name=self.name,
            count=int(self._n),
            min_ns=float(data.min()),
            mean_ns=float(data.mean()),
            p50_ns=float(p50),
            p90_ns=float(p90),
            p99_ns=float(p99),
            p999_ns=float(p999),
            max_ns=float(data.max()),
            rate_per_s=rate,
        )

    def __repr__(self) -> str:
        if self._n == 0:
            return f"<LatencyRecorder {self.name!r}: empty>"
        return f"<LatencyRecorder {self.summary()}>"


def summary_table(
    items: Sequence[LatencyRecorder | LatencySummary],
    baseline: str | None = None,
    unit: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """A table of percentiles, one row per recorder, in one unit for the whole table.

    With ``baseline`` (the name of one row), adds ``×p50`` and ``×p99`` columns: each row's
    percentile divided by the baseline's (above 1 means slower than the baseline).
    """
    summaries = [i.summary() if isinstance(i, LatencyRecorder) else i for i in items]
    if not summaries:
        raise ValueError("summary_table needs at least one recorder")
    if unit is None:
        unit = choose_unit([s.p50_ns for s in summaries])
    name, div = unit
    rows = []
    for s in summaries:
        rows.append(
            {
                "name": s.name,
                "count": s.count,
                f"min ({name})": s.min_ns / div,
                f"p50 ({name})": s.p50_ns / div,
                f"p90 ({name})": s.p90_ns / div,
                f"p99 ({name})": s.p99_ns / div,
                f"p99.9 ({name})": s.p999_ns / div,
                f"max ({name})": s.max_ns / div,
            }
        )
    import pandas as pd  # lazily: importing pandas costs about a second
    table = pd.DataFrame(rows).set_index("name")
    if baseline is not None:
        if baseline not in table.index:
            raise KeyError(f"baseline {baseline!r} is not one of {list(table.index)}")
        for label in ("p50", "p99"):
            col = f"{label} ({name})"
            table[f"×{label}"] = table[col] / table.loc[baseline, col]
    return table.round(3)
