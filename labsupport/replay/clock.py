"""Clocks for the scheduler: the machine's monotonic clock and a fake one that tests advance.

The scheduler never calls :mod:`time` itself: it asks its clock for ``now_ns()`` and to
``sleep_ns(n)``. :class:`MonotonicClock` maps these to ``time.perf_counter_ns`` (CLOCK_MONOTONIC
on Linux, about 100 ns per read from Python) and ``time.sleep`` (nanosleep, which wakes late by
the timer slack, 50 µs by default, plus scheduling delay). :class:`FakeClock` is a counter:
sleeping adds the requested time plus a configurable ``oversleep`` (what a real sleep costs
beyond what was asked), and every read adds ``read_cost_ns`` so that a busy-wait on it ends.
With it a million-message schedule is checked in a second, without sleeping, exactly.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "MonotonicClock", "FakeClock"]


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def sleep_ns(self, ns: int) -> None: ...


class MonotonicClock:
    """The real clock: ``perf_counter_ns`` and ``time.sleep``."""

    now_ns = staticmethod(time.perf_counter_ns)

    @staticmethod
    def sleep_ns(ns: int) -> None:
        if ns > 0:
            time.sleep(ns * 1e-9)


class FakeClock:
    """A clock that moves only when read, slept on, or :meth:`advance`-d.

    ``oversleep_ns``: extra time every sleep takes (a constant, or a callable of the request for
    jitter). ``read_cost_ns``: time each ``now_ns()`` takes (must be > 0 for spinning to end).
    """

    def __init__(self, start_ns: int = 0, *, oversleep_ns: int = 0, read_cost_ns: int = 50) -> None:
        self.t = start_ns
        self.oversleep_ns = oversleep_ns
        self.read_cost_ns = read_cost_ns
        self.reads = 0
        self.sleeps = 0
        self.slept_ns = 0
        self.overslept_ns = 0  # what the sleeps took beyond what was asked, in total

    def now_ns(self) -> int:
        self.reads += 1
        self.t += self.read_cost_ns
        return self.t

    def sleep_ns(self, ns: int) -> None:
        if ns <= 0:
            return
        extra = self.oversleep_ns(ns) if callable(self.oversleep_ns) else self.oversleep_ns
        self.sleeps += 1
        self.slept_ns += ns + extra
        self.overslept_ns += extra
        self.t += ns + extra

    def advance(self, ns: int) -> None:
        self.t += ns
