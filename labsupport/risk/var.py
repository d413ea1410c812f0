"""Value at Risk, two ways, maintained incrementally: historical (order statistics) and EWMA.

Both estimate the loss over one sampling interval that is exceeded only 5 % of the time, from
the series of an account's equity changes between consecutive samples (the engine samples an
account at every ``mark`` of a symbol it holds).

Historical VaR (a window of the last W changes, no model)
---------------------------------------------------------
``VaR95 = max(0, -q)`` with ``q`` the 5 % quantile of the window, interpolated linearly
between order statistics, numpy's default method: with the window sorted as x[0..n-1],
``h = (n - 1) * 0.05``, ``q = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])``.
The changes are integer money units and ``h`` has a denominator of 100 (20 in lowest terms),
so ``100 * q`` is an integer: :class:`HistoricalVaR` computes it exactly, no float anywhere,
and a VaR limit compares without rounding.

The window is a ring buffer (a list of W slots, to know which change leaves) plus a *tail*:
the k smallest values of the window, sorted, for some k between ``need`` (the two ranks the
quantile reads, floor h and floor h + 1) and ``cap`` (twice that, plus slack). Every value not
in the tail is at least the tail's largest, which is all a rank below ``need`` depends on. Per
update, with ``top`` the tail's largest value:

- the usual case, the leaving value and the new one both above ``top`` (about 1 - 2k/W of the
  updates): the tail does not change, nor does the VaR; a slot write and two comparisons;
- a leaving value at or below ``top`` is deleted from the tail (bisect), a new value below it
  is inserted (insort) and the largest dropped beyond ``cap``: O(log k) search plus a memmove
  of at most k pointers;
- when deletions have left fewer than ``need`` values, the tail is refilled with the ``cap``
  smallest of the ring (``heapq.nsmallest``, O(W)): with k starting at ``cap`` this happens
  once per about ``cap - need`` net losses of tail values, so O(W / (cap - need)) = O(1)
  amortized on any series, and rarely on a stationary one.

The alternative, ``np.percentile`` of the window per event, is O(W) to copy plus the
selection plus numpy's per-call overhead, which dominates at W = 250; the whole window kept
sorted with bisect (:class:`SortedWindowVaR`, the design this one replaced) pays an insort
and a delete into all W values on every update; the benchmark measures all of them.

Failure modes, which the notebook shows: with W changes the 5 % tail is about W/20 points,
so the estimate jumps when one of them leaves the window ("ghost" effects); and it cannot see
a loss bigger than any in the window.

EWMA VaR (parametric, RiskMetrics 1996)
---------------------------------------
``sigma^2`` starts at the first change squared and follows
``sigma^2 <- 0.94 sigma^2 + 0.06 change^2``; ``VaR95 = 1.6448536269514722 x sigma`` (the
standard normal's 95 % quantile, zero mean assumed). O(1), in floats of currency: it reacts to
a shock at once and forgets it with a half-life of about 11 samples, but it assumes normal
tails, so on a fat-tailed series it understates the rare large losses that the historical
window has seen.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from fractions import Fraction
from heapq import nsmallest

from .events import MONEY_SCALE

__all__ = ["EWMA_LAMBDA", "EWMA_WEIGHT", "Z95", "EwmaVaR", "HistoricalVaR", "SortedWindowVaR",
           "historical_var_scratch"]

Z95 = 1.6448536269514722
EWMA_LAMBDA = 0.94
EWMA_WEIGHT = 0.06
_Q_PCT = 5  # the quantile, in percent


def _var100(srt: list[int], lo: int, rem: int) -> int:
    """100 x VaR from sorted values: the quantile at rank ``lo + rem / 100``, negated, >= 0."""
    x = srt[lo]
    q100 = 100 * x + (rem * (srt[lo + 1] - x) if rem else 0)
    return -q100 if q100 < 0 else 0


class HistoricalVaR:
    """The 95 % historical VaR of the last ``window`` values (integers), updated in O(1)
    amortized (see the module's docstring).

    :attr:`var100` is 100 x VaR exactly (an int); :meth:`value` is VaR in currency."""

    __slots__ = ("window", "_ring", "_head", "_tail", "_need", "_cap", "_lo", "_rem", "var100")

    def __init__(self, window: int) -> None:
        if window < 2:
            raise ValueError(f"window {window}: needs at least 2 values")
        self.window = window
        self._ring: list[int] = []  # grows to `window` slots, then overwritten oldest first
        self._head = -1  # the oldest slot once the ring is full, -1 while it fills up
        self._tail: list[int] = []  # the len(_tail) smallest values of the window, sorted
        self._lo, self._rem = divmod((window - 1) * _Q_PCT, 100)  # h = lo + rem / 100, full
        self._need = self._lo + 2
        self._cap = 2 * self._need + 8
        self.var100 = 0

    def __len__(self) -> int:
        return len(self._ring)

    def push(self, change: int) -> int:
        """Add one change (dropping the oldest beyond the window); returns the new var100."""
        ring, tail = self._ring, self._tail
        h = self._head
        if h >= 0:  # the ring is full
            old = ring[h]
            ring[h] = change
            h += 1
            self._head = h if h < self.window else 0
            top = tail[-1]
            if old > top and change >= top:
                return self.var100  # neither touches the tail: nothing below `top` moved
            if old <= top:
                del tail[bisect_left(tail, old)]
            if tail and change < tail[-1]:
                insort(tail, change)
                if len(tail) > self._cap:
                    tail.pop()
            if len(tail) < self._need:
                tail[:] = nsmallest(self._cap, ring)
            lo, rem = self._lo, self._rem
        else:  # filling up: the tail holds every value until it reaches `cap`
            if len(tail) == len(ring) or change < tail[-1]:
                insort(tail, change)
                if len(tail) > self._cap:
                    tail.pop()
            ring.append(change)
            n = len(ring)
            if n == self.window:
                self._head = 0
            if n < 2:
                return 0
            lo, rem = divmod((n - 1) * _Q_PCT, 100)
        self.var100 = v = _var100(tail, lo, rem)
        return v

    def value(self) -> Fraction:
        """VaR in currency, exact."""
        return Fraction(self.var100, 100 * MONEY_SCALE)

    def values(self) -> list[int]:
        """The window, oldest first (for tests and plots)."""
        h = max(self._head, 0)
        return self._ring[h:] + self._ring[:h]

    def last(self, k: int) -> list[int]:
        """The ``k`` most recent values, oldest first (``k`` at most ``len(self)``)."""
        ring, h = self._ring, self._head
        if h < 0:
            return ring[len(ring) - k:]
        start = h - k
        return ring[start:h] if start >= 0 else ring[start:] + ring[:h]

    def tail(self) -> list[int]:
        """The sorted tail the quantile is read from (for tests)."""
        return list(self._tail)


class SortedWindowVaR:
    """The same VaR from the whole window kept sorted (insort the new value, delete the old
    one by bisect): O(log W) searches but a memmove of up to W pointers twice per update. The
    design :class:`HistoricalVaR` replaced, kept as the benchmark's middle baseline."""

    __slots__ = ("window", "_fifo", "_sorted", "var100")

    def __init__(self, window: int) -> None:
        if window < 2:
            raise ValueError(f"window {window}: needs at least 2 values")
        self.window = window
        self._fifo: deque[int] = deque()
        self._sorted: list[int] = []
        self.var100 = 0

    def push(self, change: int) -> int:
        fifo, srt = self._fifo, self._sorted
        fifo.append(change)
        insort(srt, change)
        if len(fifo) > self.window:
            del srt[bisect_left(srt, fifo.popleft())]
        n = len(fifo)
        if n < 2:
            return 0
        self.var100 = v = _var100(srt, *divmod((n - 1) * _Q_PCT, 100))
        return v


def historical_var_scratch(window: list[int]) -> int:
    """100 x VaR of ``window`` recomputed from scratch with a sort: the reference the
    incremental structure is tested and benchmarked against."""
    n = len(window)
    if n < 2:
        return 0
    srt = sorted(window)
    lo, rem = divmod((n - 1) * _Q_PCT, 100)
    q100 = 100 * srt[lo] + rem * (srt[lo + 1] - srt[lo]) if rem else 100 * srt[lo]
    return max(0, -q100)


class EwmaVaR:
    """RiskMetrics EWMA volatility and its 95 % VaR, in currency floats, O(1) per change."""

    __slots__ = ("lam", "weight", "sigma2", "n")

    def __init__(self, lam: float = EWMA_LAMBDA) -> None:
        self.lam = lam
        # 0.06 as written, not 1 - 0.94 (= 0.06000000000000005 in binary floating point)
        self.weight = EWMA_WEIGHT if lam == EWMA_LAMBDA else 1.0 - lam
        self.sigma2 = 0.0
        self.n = 0

    def add(self, change_units: int) -> None:
        """Add one change in money units (the VaR is read when wanted: :meth:`value`)."""
        c = change_units / MONEY_SCALE
        if self.n:
            self.sigma2 = self.lam * self.sigma2 + self.weight * c * c
        else:
            self.sigma2 = c * c
        self.n += 1

    def extend(self, changes: list[int]) -> None:
        """:meth:`add` each change in turn (the same float operations, in the same order)."""
        lam, weight, s2, n = self.lam, self.weight, self.sigma2, self.n
        for change in changes:
            c = change / MONEY_SCALE
            s2 = lam * s2 + weight * c * c if n else c * c
            n += 1
        self.sigma2, self.n = s2, n

    def push(self, change_units: int) -> float:
        """Add one change in money units; returns the new VaR in currency."""
        self.add(change_units)
        return Z95 * math.sqrt(self.sigma2)

    def value(self) -> float:
        return Z95 * math.sqrt(self.sigma2)
