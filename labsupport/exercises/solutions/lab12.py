"""Reference solutions of the lab 12 exercises (the checks must pass on these)."""

from __future__ import annotations

import numpy as np

from labsupport.backtest import crossover, sma


def cross_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing averages only, and backtrader's last-non-zero-difference rule for ties."""
    x = crossover(sma(close, fast), sma(close, slow))
    return x > 0, x < 0


def max_drawdown(equity: np.ndarray) -> tuple[float, int]:
    equity = np.asarray(equity, float)
    dd = equity / np.maximum.accumulate(equity) - 1.0
    below = np.r_[False, dd < 0, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(below))  # starts and ends of runs below the peak
    longest = int((edges[1::2] - edges[0::2]).max()) if edges.size else 0
    return float(dd.min()), longest


def chunk_params(sets: list[dict], workers: int, min_runs: int) -> list[list[dict]]:
    """Equal chunks, one per worker, unless that would make them smaller than ``min_runs``."""
    size = max(min_runs, 1, len(sets) // max(workers, 1))
    return [sets[a : a + size] for a in range(0, len(sets), size)]
