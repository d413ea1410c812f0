"""Lab 12 exercises: edit these, then run ``python -m labsupport check 12``
(or ``check("12.1", cross_signals)`` in the notebook).

Each function is plugged into the backtester by its check (``labsupport/exercises/lab12.py``),
which prints one PASS/FAIL line per case.
"""

from __future__ import annotations

import numpy as np

from labsupport.backtest import sma  # noqa: F401 (backtrader's SMA, bit for bit)


# 12.1 Crossover signals without look-ahead.
# entry[i]: the fast SMA of `close` crossed above the slow one at bar i; exit[i]: crossed below.
# Use backtrader's rule: compare with the last bar where the two averages differed.
# As it is, the averages are centred (np.convolve "same"): they look at future prices.
def cross_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.convolve(close, np.ones(fast) / fast, mode="same")
    s = np.convolve(close, np.ones(slow) / slow, mode="same")
    above = f > s
    entry = np.r_[False, above[1:] & ~above[:-1]]
    exit_ = np.r_[False, ~above[1:] & above[:-1]]
    return entry, exit_


# 12.2 Maximum drawdown and its duration.
# Return (the deepest fall from a running peak, as a negative fraction or 0.0,
#         the longest run of consecutive points strictly below a previous peak).
def max_drawdown(equity: np.ndarray) -> tuple[float, int]:
    return float(equity.min() / equity.max() - 1.0), 0  # ignores the order of the points


# 12.3 Chunks of a parameter sweep.
# Split `sets` (a list of parameter dicts) into consecutive chunks: every set once, in order;
# at least `workers` chunks when there are enough sets; no chunk smaller than `min_runs`
# except the last (a task must amortise the scheduler's ~1-2 ms).
def chunk_params(sets: list[dict], workers: int, min_runs: int) -> list[list[dict]]:
    raise NotImplementedError
