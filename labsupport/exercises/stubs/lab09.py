"""Lab 09 exercises: edit these, then run ``python -m labsupport check 09``.

Each function below is plugged into the replay engine's tests by its check
(``labsupport/exercises/lab09.py``), which prints one PASS/FAIL line per case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


# 09.1 An absolute schedule.
# Message i, stamped ts[i] ns, is due at start_ns + (ts[i] - ts[0]) / speed on the clock,
# rounded to the nearest ns. Return the due times as a list of ints (empty for no messages).
# This version adds each gap to the previous due time, truncated: find why it drifts.
def due_times(ts: Sequence[int], start_ns: int, speed: float) -> list[int]:
    out: list[int] = []
    due = start_ns
    for i, t in enumerate(ts):
        if i:
            due += int((t - ts[i - 1]) / speed)
        out.append(due)
    return out


# 09.2 A bounded reorder window.
# Take (ts, msg) pairs in file order; hold at most `window` of them and release the earliest
# (ties: file order) whenever one more arrives, then the rest at the end. A message released
# with a timestamp below the previous released one (it came too late for the window) is
# released with that previous timestamp instead. Return the released pairs as a list.
def reorder(events: Iterable[tuple[int, Any]], window: int) -> list[tuple[int, Any]]:
    return list(events)


# 09.3 The hybrid wait.
# Wait on `clock` (clock.now_ns(), clock.sleep_ns(n)) until `due_ns`: sleep until `margin_ns`
# before the deadline (a sleep wakes late, by up to about the margin), then read the clock
# until it reaches due_ns. Never sleep when less than margin_ns remains.
def wait_until(clock: Any, due_ns: int, margin_ns: int) -> None:
    clock.sleep_ns(due_ns - clock.now_ns())
