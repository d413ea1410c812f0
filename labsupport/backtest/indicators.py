"""Indicators over whole arrays, computed once per run and shared by every engine.

Both engines read the same arrays (backtrader's ``runonce`` mode does the same): the
event-driven engine looks up ``cross[i]`` in ``on_bar``, the vectorised path scans the whole
array. So "identical results on both engines" is a property of the engines' order handling,
not of two copies of the arithmetic.

Theory of operation
-------------------
:func:`sma` must match backtrader bit for bit, because a crossover decided on a tie (the two
averages equal to the last bit, common when prices sit on a cent grid) flips a trade.
backtrader computes each window with ``math.fsum`` (the correctly rounded sum) and divides by
the period. A rolling ``cumsum`` difference does not reproduce that. Here the window sum is kept
*exactly* as Shewchuk's non-overlapping partials (the algorithm inside ``math.fsum``): add the
new value, add minus the one leaving; both are exact, so the partials always hold the exact
window sum, and rounding them with CPython's half-even step gives ``fsum(window)`` in O(1)
amortised per bar instead of O(period). With numba the loop is compiled; without it the same
result comes from ``math.fsum`` per window.

:func:`crossover` is backtrader's ``CrossOver``: +1 when the last non-zero difference
``a - b`` before this bar was negative and it is positive now, -1 the other way round.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - the fast extra is absent
    numba = None


def _exact_rolling_sum_py(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for i in range(n - 1, x.size):
        out[i] = math.fsum(x[i - n + 1 : i + 1])
    return out


def _exact_rolling_sum(x, n, out):  # compiled by numba below when available
    partials = np.zeros(64)
    m = 0
    for i in range(x.size):
        for sign in range(2):  # add x[i], then remove x[i - n]
            if sign == 0:
                v = x[i]
            elif i >= n:
                v = -x[i - n]
            else:
                continue
            j = 0
            for k in range(m):  # Shewchuk's grow-expansion: exact, partials non-overlapping
                y = partials[k]
                if abs(v) < abs(y):
                    v, y = y, v
                hi = v + y
                lo = y - (hi - v)
                if lo != 0.0:
                    partials[j] = lo
                    j += 1
                v = hi
            partials[j] = v
            m = j + 1
        if i < n - 1:
            continue
        # CPython's final step of math.fsum: sum from the top, then round half to even.
        k = m
        hi = 0.0
        if k > 0:
            k -= 1
            hi = partials[k]
            lo = 0.0
            while k > 0:
                v = hi
                k -= 1
                y = partials[k]
                hi = v + y
                yr = hi - v
                lo = y - yr
                if lo != 0.0:
                    break
            if k > 0 and ((lo < 0.0 and partials[k - 1] < 0.0) or (lo > 0.0 and partials[k - 1] > 0.0)):
                y = lo * 2.0
                v = hi + y
                yr = v - hi
                if y == yr:
                    hi = v
        out[i] = hi


if numba is not None:
    _exact_rolling_sum = numba.njit(cache=True, nogil=True)(_exact_rolling_sum)


def rolling_sum(x: np.ndarray, n: int) -> np.ndarray:
    """``math.fsum`` of each window of ``n`` (NaN before the first full window)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if numba is None:
        return _exact_rolling_sum_py(x, n)
    out = np.full(x.size, np.nan)
    _exact_rolling_sum(x, int(n), out)
    return out


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average, equal bit for bit to backtrader's ``SMA`` (fsum / period)."""
    return rolling_sum(x, n) / n


def crossover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """backtrader's ``CrossOver(a, b)``: +1 up, -1 down, 0 otherwise (int8)."""
    d = a - b
    valid = ~np.isnan(d)
    out = np.zeros(d.size, np.int8)
    if not valid.any():
        return out
    first = int(valid.argmax())
    dv = d[first:]
    # last non-zero difference, carried forward (seeded with the first difference, even if 0)
    idx = np.where(dv != 0.0, np.arange(dv.size), 0)
    np.maximum.accumulate(idx, out=idx)
    nzd = dv[idx]
    prev = nzd[:-1]
    now = dv[1:]
    out[first + 1 :] = np.where((prev < 0) & (now > 0), 1, np.where((prev > 0) & (now < 0), -1, 0))
    return out


def rolling_zscore(x: np.ndarray, n: int) -> np.ndarray:
    """(x - mean) / std (population) over the last ``n`` values, this one included."""
    x = np.asarray(x, np.float64)
    out = np.full(x.size, np.nan)
    if x.size < n:
        return out
    w = np.lib.stride_tricks.sliding_window_view(x, n)
    mean = w.mean(axis=1)
    std = w.std(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[n - 1 :] = np.where(std > 0, (x[n - 1 :] - mean) / std, 0.0)
    return out


def rolling_extreme(x: np.ndarray, n: int, kind: str) -> np.ndarray:
    """Max (``kind="max"``) or min of the ``n`` values *before* each one (NaN until n exist)."""
    x = np.asarray(x, np.float64)
    out = np.full(x.size, np.nan)
    if x.size <= n:
        return out
    w = np.lib.stride_tricks.sliding_window_view(x[:-1], n)
    out[n:] = w.max(axis=1) if kind == "max" else w.min(axis=1)
    return out
