"""Lab 03 exercises: edit these, then run ``python -m labsupport check 03``.

Each function below is plugged into the stream processor's checks
(``labsupport/exercises/lab03.py``), which print one PASS/FAIL line per case.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


# 03.1 The outlier rule.
# `window` holds the last (up to 20) accepted prices of a symbol, `accepted` how many of its
# ticks were accepted in all. Once at least 5 are accepted, a price is an outlier when it is
# more than `max_dev_pct` percent away from numpy.median(window). This version uses the mean
# and forgets the 5: find the cases where that differs.
def is_outlier(window: Sequence[float], accepted: int, price: float, max_dev_pct: float) -> bool:
    if not window:
        return False
    m = sum(window) / len(window)
    return abs(price - m) * 100.0 > max_dev_pct * m


# 03.2 The worker's admission rule.
# A worker has processed its partition up to source line `mark`. A message carries `lines`
# (increasing) and `prev_line`, the partition's line just before them. Return None if taking
# the message would skip lines (a message before it was lost), else a boolean array: which of
# `lines` still need processing. This version takes everything: redeliveries are processed twice.
def admit(mark: int, prev_line: int, lines: np.ndarray) -> np.ndarray | None:
    return np.ones(len(lines), dtype=bool)


# 03.3 The late rule, vectorised.
# `newest_ts` is the newest accepted ts_ns before the run (None: nothing accepted yet). If every
# tick of `ts` were accepted, tick i is late when the newest ts_ns before it, among `newest_ts`
# and ts[:i], exceeds ts[i] by more than `late_ns`. Return a boolean array, with numpy
# (np.maximum.accumulate), no Python loop.
def late_mask(newest_ts: int | None, ts: np.ndarray, late_ns: int) -> np.ndarray:
    raise NotImplementedError("03.3: compute the late mask with numpy")
