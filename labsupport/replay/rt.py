"""Making a Linux process a better timekeeper for the length of a replay.

Three knobs, each undone on exit:

* **timer slack** (``prctl(PR_SET_TIMERSLACK)``): the kernel may wake a sleeping thread up to
  its slack late so that it can batch wake-ups; the default is 50 µs, which is most of the
  error of a ``time.sleep`` at 100 µs spacing. Set to 1 ns it wakes as soon as the timer fires.
  Called through ``ctypes`` on libc's ``prctl``; on a system without it the knob is reported as
  not applied, never faked.
* **CPU pinning** (``os.sched_setaffinity``): stay on one core (its caches, no migrations).
* **the cyclic garbage collector**: ``gc.freeze()`` moves every live object out of the
  collector's view and ``gc.disable()`` stops collections, so no multi-millisecond pause lands
  in the middle of the schedule; reference counting still frees what the replay drops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["PR_SET_TIMERSLACK", "PR_GET_TIMERSLACK", "timer_slack_ns", "set_timer_slack_ns", "realtime",
           "Applied"]

PR_SET_TIMERSLACK = 29
PR_GET_TIMERSLACK = 30


def _libc():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    return lib if hasattr(lib, "prctl") else None


def timer_slack_ns() -> int | None:
    """This thread's timer slack in ns (``None`` where prctl is not available)."""
    lib = _libc()
    if lib is None:
        return None
    value = lib.prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)
    return None if value < 0 else int(value)


def set_timer_slack_ns(ns: int) -> bool:
    """Set this thread's timer slack; True if the kernel accepted it."""
    lib = _libc()
    if lib is None:
        return False
    return lib.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(ns), 0, 0, 0) == 0


@dataclass
class Applied:
    """Which knobs :func:`realtime` could apply (what a summary reports)."""

    timer_slack_ns: int | None = None
    cpu: int | None = None
    gc_frozen: bool = False
    notes: list[str] = field(default_factory=list)


@contextmanager
def realtime(*, timer_slack: int | None = 1, cpu: int | None = None, freeze_gc: bool = True
             ) -> Iterator[Applied]:
    """Apply the knobs above for the duration of the block (``None`` leaves a knob alone)."""
    applied = Applied()
    old_slack = old_affinity = None
    gc_was_enabled = gc.isenabled()
    try:
        if timer_slack is not None:
            old_slack = timer_slack_ns()
            if set_timer_slack_ns(timer_slack):
                applied.timer_slack_ns = timer_slack
            else:
                applied.notes.append("timer slack unchanged (prctl not available)")
        if cpu is not None:
            try:
                old_affinity = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {cpu})
                applied.cpu = cpu
            except (AttributeError, OSError) as exc:
                applied.notes.append(f"not pinned to CPU {cpu} ({exc})")
        if freeze_gc:
            gc.collect()
            gc.freeze()
            gc.disable()
            applied.gc_frozen = True
        yield applied
    finally:
        if applied.gc_frozen:
            gc.unfreeze()
            if gc_was_enabled:
                gc.enable()
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
        if applied.timer_slack_ns is not None and old_slack is not None:
            set_timer_slack_ns(old_slack)
