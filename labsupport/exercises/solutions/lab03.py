"""Reference solutions of Lab 03's exercises (CI checks them; a learner edits the stubs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def is_outlier(window: Sequence[float], accepted: int, price: float, max_dev_pct: float) -> bool:
    if accepted < 5:
        return False
    m = float(np.median(np.asarray(window, dtype=np.float64)))
    return abs(price - m) * 100.0 > max_dev_pct * m


def admit(mark: int, prev_line: int, lines: np.ndarray) -> np.ndarray | None:
    if prev_line > mark:
        return None  # a gap: wait for the resend
    return np.asarray(lines) > mark


def late_mask(newest_ts: int | None, ts: np.ndarray, late_ns: int) -> np.ndarray:
    ts = np.asarray(ts, dtype=np.int64)
    if ts.size == 0:
        return np.zeros(0, dtype=bool)
    before = np.empty_like(ts)
    before[1:] = np.maximum.accumulate(ts)[:-1]
    before[0] = ts[0] if newest_ts is None else newest_ts
    if newest_ts is not None:
        np.maximum(before, newest_ts, out=before)
    late = before - ts > late_ns
    if newest_ts is None:
        late[0] = False
    return late
