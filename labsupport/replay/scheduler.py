"""The replay scheduler: an absolute schedule, three ways to wait, batching, pause and seek.

Schedule. Message i is due at ``anchor_wall + (ts_i - anchor_ts) / speed``: the anchor is
(first timestamp, start time) and moves only on resume (by the paused time) and on seek. A
message is never scheduled relative to the previous send, so a late wake-up makes *that*
message late and not every message after it (relative sleeps add each oversleep to all the
rest: after a million messages at 50 µs oversleep, 50 s of drift).

Waiting, until ``due`` on the injected clock:

* ``sleep``: one ``sleep(due - now)``; late by the timer slack plus the scheduler's wake-up;
* ``spin``: read the clock until it passes ``due``; accurate to a clock read, burns a core;
* ``hybrid``: sleep until ``margin_ns`` before ``due``, then spin; the margin should cover the
  sleep's usual oversleep (measure it: ``bench.py`` and the notebook sweep it).

Batching. Messages due at the same instant (or within ``batch_window_ns`` of the first of a
batch) are handed to the sink together, up to ``max_batch``; the sink times the batch once.
``speed=0`` is as fast as possible: no waiting, batches of ``max_batch``.

Control. :meth:`Replayer.pause` makes :meth:`Replayer.run` return after the current batch;
:meth:`Replayer.resume` shifts the anchor by the time spent paused; :meth:`Replayer.seek`
jumps to the first message at or after a timestamp (backward only on a sequence source), and
:meth:`Replayer.run` takes ``until_ts`` / ``max_messages`` to stop at a point. All of it is
plain state read by the one loop, so a test drives it with a :class:`~.clock.FakeClock`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .clock import Clock, MonotonicClock
from .errors import ControlError, ReplayError
from .rt import Applied, realtime
from .sinks import Sink

__all__ = ["STRATEGIES", "Replayer", "ReplaySummary", "summarize", "DEFAULT_MARGIN_NS"]

STRATEGIES = ("sleep", "spin", "hybrid")
DEFAULT_MARGIN_NS = 100_000  # 100 µs: above a sleep's typical oversleep with 1 ns timer slack


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did and how well it kept time (errors in ns, positive = late)."""

    messages: int
    batches: int
    duration_s: float
    rate_per_s: float
    p50_ns: float
    p99_ns: float
    p999_ns: float
    max_ns: float

    def line(self) -> str:
        return (f"{self.messages} messages in {self.duration_s:.3f} s ({self.rate_per_s:,.0f}/s); "
                f"send error p50 {self.p50_ns / 1e3:.1f} µs, p99 {self.p99_ns / 1e3:.1f} µs, "
                f"p99.9 {self.p999_ns / 1e3:.1f} µs, max {self.max_ns / 1e3:.1f} µs")


def summarize(errors_ns: np.ndarray, duration_ns: int, batches: int) -> ReplaySummary:
    n = len(errors_ns)
    if n:
        p50, p99, p999 = np.percentile(errors_ns, [50, 99, 99.9])
        mx = float(errors_ns.max())
    else:
        p50 = p99 = p999 = mx = 0.0
    secs = duration_ns / 1e9
    return ReplaySummary(n, batches, secs, n / secs if secs > 0 else 0.0, float(p50), float(p99),
                         float(p999), mx)


class Replayer:
    """Replays ``events`` (``(ts_ns, message)`` in time order) into ``sink``; see the module docstring."""

    def __init__(self, events: Iterable[tuple[int, Any]], sink: Sink, *, speed: float = 1.0,
                 strategy: str = "hybrid", margin_ns: int = DEFAULT_MARGIN_NS, clock: Clock | None = None,
                 batch_window_ns: int = 0, max_batch: int = 256, timer_slack: int | None = 1,
                 cpu: int | None = None, freeze_gc: bool = True,
                 progress: Callable[[Replayer], None] | None = None, progress_every_ns: int = 100_000_000,
                 ) -> None:
        if strategy not in STRATEGIES:
            raise ReplayError(f"unknown strategy {strategy!r} (expected one of {STRATEGIES})")
        if speed < 0:
            raise ReplayError(f"speed must be >= 0 (0: as fast as possible), got {speed}")
        if max_batch < 1 or batch_window_ns < 0 or margin_ns < 0:
            raise ReplayError("max_batch must be >= 1, batch_window_ns and margin_ns >= 0")
        self.sink, self.speed, self.strategy, self.margin_ns = sink, speed, strategy, margin_ns
        self.clock = clock or sink.clock or MonotonicClock()
        self.batch_window_ns, self.max_batch = batch_window_ns, max_batch
        self.rt = {"timer_slack": timer_slack, "cpu": cpu, "freeze_gc": freeze_gc}
        self.progress, self.progress_every_ns = progress, progress_every_ns
        self._seq: Sequence | None = events if isinstance(events, Sequence) else None
        self._it = self._guarded(events)
        self._error: ReplayError | None = None  # the source's, raised once what preceded it is sent
        self._pending: tuple[int, Any] | None = None
        self.anchor_ts: int | None = None
        self.anchor_wall: int | None = None
        self._reanchor_ts: int | None = None
        self.paused = False
        self._paused_at = 0
        self.done = False
        self.sent = 0
        self.batches = 0
        self.skipped = 0  # messages jumped over by a forward seek on a one-pass source
        self.last_ts: int | None = None  # the replay clock: timestamp of the last message sent
        self.last_due: int | None = None
        self.started_ns: int | None = None  # clock at the first run's start (GC already frozen)
        self.finished_ns: int | None = None  # clock when the last run returned
        self.applied: Applied | None = None

    # --- control ---------------------------------------------------------------------------

    def due(self, ts: int) -> int:
        """When a message stamped ``ts`` is due on the clock (after the replay started)."""
        assert self.anchor_ts is not None and self.anchor_wall is not None
        if self.speed == 1:
            return self.anchor_wall + (ts - self.anchor_ts)
        return self.anchor_wall + round((ts - self.anchor_ts) / self.speed)

    def pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._paused_at = self.clock.now_ns()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if self.anchor_wall is not None:
                self.anchor_wall += self.clock.now_ns() - self._paused_at

    def set_speed(self, speed: float) -> None:
        """Change the speed from the next message on (which is then due at once)."""
        if speed < 0:
            raise ReplayError(f"speed must be >= 0 (0: as fast as possible), got {speed}")
        self.speed = speed
        nxt = self.peek()
        if nxt is not None:
            self._reanchor_ts = nxt[0]

    def seek(self, ts: int) -> None:
        """Continue from the first message stamped at or after ``ts``, due as if ``ts`` were now."""
        if self._seq is not None:
            i = bisect.bisect_left(self._seq, ts, key=lambda e: e[0])
            self._it, self._pending = self._guarded(self._seq[i:]), None
        else:
            if self.last_ts is not None and ts < self.last_ts:
                raise ControlError(f"cannot seek back to {ts} ns on a one-pass source (at {self.last_ts} ns)")
            while True:
                ev = self.peek()
                if ev is None or ev[0] >= ts:
                    break
                self._pending = None
                self.skipped += 1
        self._reanchor_ts = ts
        self.done = False

    def _guarded(self, events: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """The source, ending (not raising) at a damaged record: the batch in hand still goes out."""
        try:
            yield from events
        except ReplayError as exc:
            self._error = exc

    def peek(self) -> tuple[int, Any] | None:
        """The next message to send, without sending it (``None`` at the end)."""
        if self._pending is None:
            self._pending = next(self._it, None)
        return self._pending

    # --- the loop --------------------------------------------------------------------------

    def run(self, *, max_messages: int | None = None, until_ts: int | None = None) -> Replayer:
        """Send until the source ends, ``pause()``, ``max_messages`` more, or a message at ``until_ts``."""
        with realtime(**self.rt) as self.applied:
            self._loop(max_messages, until_ts)
        return self

    def _loop(self, max_messages: int | None, until_ts: int | None) -> None:
        now, sleep, sink = self.clock.now_ns, self.clock.sleep_ns, self.sink
        strategy, margin, speed = self.strategy, self.margin_ns, self.speed
        window, max_batch = self.batch_window_ns, self.max_batch
        limit = None if max_messages is None else self.sent + max_messages
        next_progress = now() + self.progress_every_ns if self.progress else None
        if self.started_ns is None:
            self.started_ns = now()
        while not self.paused:
            first = self.peek()
            if first is None:
                if self._error is not None:
                    raise self._error
                self.done = True
                break
            if until_ts is not None and first[0] >= until_ts:
                break
            if limit is not None and self.sent >= limit:
                break
            if self.anchor_ts is None or self._reanchor_ts is not None:
                t0 = now()
                self.anchor_ts = first[0] if self._reanchor_ts is None else self._reanchor_ts
                self.anchor_wall = t0
                self._reanchor_ts = None
            room = max_batch if limit is None else min(max_batch, limit - self.sent)
            self._pending = None
            if speed == 0:
                batch = [(None, first[0], first[1])]
                for ev in self._it:
                    if until_ts is not None and ev[0] >= until_ts:
                        self._pending = ev
                        break
                    batch.append((None, ev[0], ev[1]))
                    if len(batch) >= room:
                        break
                due = None
            else:
                due = self.due(first[0])
                batch = [(due, first[0], first[1])]
                horizon = due + window
                while len(batch) < room:
                    ev = self.peek()
                    if ev is None or (until_ts is not None and ev[0] >= until_ts):
                        break
                    d = self.due(ev[0])
                    if d > horizon:
                        break
                    batch.append((d, ev[0], ev[1]))
                    self._pending = None
                if strategy == "spin":
                    while now() < due:
                        pass
                elif strategy == "sleep":
                    wait = due - now()
                    if wait > 0:
                        sleep(wait)
                else:
                    wait = due - now() - margin
                    if wait > 0:
                        sleep(wait)
                    while now() < due:
                        pass
            t = sink.emit(batch)
            self.sent += len(batch)
            self.batches += 1
            self.last_ts, self.last_due = batch[-1][1], due
            if next_progress is not None and t >= next_progress:
                self.progress(self)  # type: ignore[misc]
                next_progress = t + self.progress_every_ns
        self.finished_ns = now()

    # --- results ---------------------------------------------------------------------------

    @property
    def lag_ns(self) -> int:
        """How late the last batch went out (0 in as-fast-as-possible mode)."""
        return 0 if self.last_due is None else self.sink.last_actual_ns - self.last_due

    def summary(self) -> ReplaySummary:
        log = self.sink.log
        errors = log.errors_ns()
        span = (log.actual[-1] - (self.started_ns or log.actual[0])) if len(log) else 0
        return summarize(errors, span, self.batches)
