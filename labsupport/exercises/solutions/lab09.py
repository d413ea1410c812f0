"""Reference solutions of the lab 09 exercises (the checks must pass on these)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Any


def due_times(ts: Sequence[int], start_ns: int, speed: float) -> list[int]:
    """Every due time from the first timestamp: one rounding each, none accumulated."""
    if not ts:
        return []
    t0 = ts[0]
    return [start_ns + round((t - t0) / speed) for t in ts]


def reorder(events: Iterable[tuple[int, Any]], window: int) -> list[tuple[int, Any]]:
    """A heap of (ts, file index, msg), at most ``window`` deep; late ones clamped."""
    heap: list[tuple[int, int, Any]] = []
    out: list[tuple[int, Any]] = []

    def release() -> None:
        ts, _, msg = heapq.heappop(heap)
        if out and ts < out[-1][0]:
            ts = out[-1][0]
        out.append((ts, msg))

    for i, (ts, msg) in enumerate(events):
        heapq.heappush(heap, (ts, i, msg))
        if len(heap) > window:
            release()
    while heap:
        release()
    return out


def wait_until(clock: Any, due_ns: int, margin_ns: int) -> None:
    """Sleep to the margin, then spin."""
    wait = due_ns - clock.now_ns() - margin_ns
    if wait > 0:
        clock.sleep_ns(wait)
    while clock.now_ns() < due_ns:
        pass
