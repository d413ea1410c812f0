"""Time units for people: pick ns, µs, ms or s so that numbers read as 1-999.

Every instrument records integer nanoseconds (``time.perf_counter_ns``); only the display
changes unit. A table or a plot picks one unit for all its numbers (the unit of the median of the
largest series) so that columns stay comparable.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# (name, nanoseconds per unit), smallest first.
UNITS: tuple[tuple[str, float], ...] = (("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9))


def choose_unit(values_ns: Iterable[float] | np.ndarray | float) -> tuple[str, float]:
    """Return ``(unit_name, divisor)`` that makes a typical value of ``values_ns`` read as 1-999.

    The typical value is the median of the finite, positive values; an empty input gives ns.
    """
    arr = np.asarray(values_ns, dtype=np.float64).ravel()
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0:
        return UNITS[0]
    typical = float(np.median(arr))
    chosen = UNITS[0]
    for name, div in UNITS:
        if typical >= div:
            chosen = (name, div)
    return chosen


def fmt_ns(ns: float, unit: tuple[str, float] | None = None, digits: int = 3) -> str:
    """Format a duration in nanoseconds with ``digits`` significant digits, e.g. ``'12.3 µs'``."""
    name, div = unit if unit is not None else choose_unit([ns])
    value = ns / div
    if value == 0 or not np.isfinite(value):
        return f"{value:g} {name}"
    # Significant digits without switching to scientific notation for lab-sized numbers.
    magnitude = int(np.floor(np.log10(abs(value))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:.{decimals}f} {name}"


def fmt_rate(per_s: float) -> str:
    """Format a rate as ``'1.23 M/s'``, ``'45.6 k/s'`` or ``'789 /s'``."""
    for div, suffix in ((1e9, "G/s"), (1e6, "M/s"), (1e3, "k/s")):
        if abs(per_s) >= div:
            return f"{per_s / div:.3g} {suffix}"
    return f"{per_s:.3g} /s"
