"""The four-timestamp arithmetic, the packet-selection filter and the PI servo.

The formulas (IEEE 1588 clause 11.3, the same for NTP's on-wire protocol)::

    master  t1 ----Sync---->  t2  slave          offset = ((t2 - t1) - (t4 - t3)) / 2
    master  t4 <--Delay_Req-- t3  slave          delay  = ((t2 - t1) + (t4 - t3)) / 2

``offset`` is slave minus master. Both assume the path is symmetric: if the master-to-slave
delay exceeds the slave-to-master one by ``A``, ``offset`` reads ``A / 2`` too high, and no
measurement at the ends can tell (the bias the notebook shows).

Packet selection, what PTP telecom profiles do without on-path support, comes in two
strengths. :class:`MinDelayFilter`: an exchange whose path delay is above the lowest of the
last ``window`` met queueing on the way, so its offset is off by half the difference of the two
directions' queues; only exchanges at the window's minimum delay reach the servo.
:class:`LuckyPacketFilter`: the least delay of each direction separately over the window (both
carried forward to now with the servo's frequency estimate), since one direction's luck does not
depend on the other's. :class:`PassAll` is no filter, for comparison.

:class:`PIServo` is linuxptp's ``pi.c`` in its shape: gains from ``kp_scale * dt**kp_exponent``
(limited by ``norm_max / dt``), and from ``ki_scale * dt**ki_exponent``; the frequency to apply is
``-(kp * offset + integral)`` with ``integral += ki * offset``. The first two samples at least
``freq_estimate_ns`` (1 s) apart measure the frequency error (offset drift over time) and the
phase is stepped; from then on the servo
is locked and steps only when ``|offset|`` exceeds ``step_threshold_ns`` (20 µs). With
``kp * dt`` past about 2 the loop over-corrects by more than the error each time and diverges:
the instability a test and the notebook show.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from .errors import ClockConfigError

__all__ = ["offset_and_delay", "Sample", "PassAll", "MinDelayFilter", "LuckyPacketFilter",
           "RawFrequencyEstimator", "PIServo", "ServoAction", "HW_GAINS", "SW_GAINS", "Gains"]


def offset_and_delay(t1: int, t2: int, t3: int, t4: int) -> tuple[float, float]:
    """(offset = slave - master, mean path delay), both in ns, from one exchange."""
    ms, sm = t2 - t1, t4 - t3
    return (ms - sm) / 2, (ms + sm) / 2


class Sample(NamedTuple):
    """One completed exchange as the slave saw it: the two one-way measurements
    (``ms_ns = t2 - t1``, ``sm_ns = t4 - t3``), and the slave's raw and virtual clock readings
    when it completed (what a filter needs to carry an old sample forward to now)."""

    ms_ns: float
    sm_ns: float
    raw_ns: int
    virt_ns: int
    t1_ns: int = 0  # the master's origin stamp of the Sync
    rx_raw_ns: int | None = None  # the Sync's receive stamp on the raw counter, if known

    @property
    def offset_ns(self) -> float:
        return (self.ms_ns - self.sm_ns) / 2

    @property
    def delay_ns(self) -> float:
        return (self.ms_ns + self.sm_ns) / 2


class PassAll:
    """No packet selection: every exchange reaches the servo."""

    name = "none"

    def update(self, sample: Sample, freq_error_ppb: float | None) -> tuple[float, float] | None:
        return sample.offset_ns, sample.delay_ns


class MinDelayFilter:
    """Exchange selection: pass an exchange only if its delay is within ``margin_ns`` of the
    lowest of the last ``window`` (itself included)."""

    name = "min-delay exchange"

    def __init__(self, window: int = 16, margin_ns: float = 0.0) -> None:
        if window < 1:
            raise ClockConfigError(f"filter window {window}: at least 1")
        self.window, self.margin_ns = window, margin_ns
        self._delays: deque[float] = deque(maxlen=window)
        self.passed = self.seen = 0

    def update(self, sample: Sample, freq_error_ppb: float | None) -> tuple[float, float] | None:
        self._delays.append(sample.delay_ns)
        self.seen += 1
        if sample.delay_ns > min(self._delays) + self.margin_ns:
            return None
        self.passed += 1
        return sample.offset_ns, sample.delay_ns


class RawFrequencyEstimator:
    """The raw oscillator's frequency error from the lower envelope of ``rx_raw - t1``.

    For every Sync, ``u = rx_raw - t1`` grows as ``y * t1`` (y the raw counter's frequency error)
    plus the path delay and its queueing, which is never negative. The least ``u`` of each
    ``bucket_ns`` of master time is close to the bare path; a least-squares line through the last
    ``buckets`` of those minima has slope ``y``, with an error that shrinks as the baseline grows.
    It does not look at the servo at all, which is the point: a filter that carries samples forward
    with the servo's own estimate feeds the servo's error back into the servo. The slope is
    refitted when a bucket closes, so :meth:`ppb` costs nothing per exchange."""

    def __init__(self, bucket_ns: int = 1_000_000_000, buckets: int = 64,
                 min_span_ns: int = 4_000_000_000) -> None:
        if bucket_ns <= 0 or buckets < 3:
            raise ClockConfigError(f"estimator: bucket {bucket_ns} ns x {buckets}: need > 0 x 3")
        self.bucket_ns, self.min_span_ns = bucket_ns, min_span_ns
        self._points: deque[tuple[int, float]] = deque(maxlen=buckets)
        self._bucket: int | None = None
        self._best: tuple[int, float] = (0, 0.0)
        self._ppb: float | None = None

    def add(self, t1_ns: int, rx_raw_ns: int) -> None:
        bucket, u = t1_ns // self.bucket_ns, float(rx_raw_ns - t1_ns)
        if bucket == self._bucket:
            if u < self._best[1]:
                self._best = (t1_ns, u)
            return
        if self._bucket is not None:
            self._points.append(self._best)
            self._ppb = self._fit()
        self._bucket, self._best = bucket, (t1_ns, u)

    def _fit(self) -> float | None:
        pts = self._points
        if len(pts) < 3 or pts[-1][0] - pts[0][0] < self.min_span_ns:
            return None
        t0, n = pts[0][0], len(pts)
        ts = [t - t0 for t, _ in pts]
        us = [u for _, u in pts]
        mx, mu = sum(ts) / n, sum(us) / n
        dts = [t - mx for t in ts]
        sxx = sum([d * d for d in dts])
        sxu = sum([d * (u - mu) for d, u in zip(dts, us)])
        return sxu / sxx * 1e9

    def ppb(self) -> float | None:
        """The frequency error in ppb, or None until the minima span ``min_span_ns``."""
        return self._ppb


class LuckyPacketFilter:
    """Per-direction selection: the least ``t2 - t1`` and the least ``t4 - t3`` of the last
    ``window`` exchanges, each carried forward to now, give the offset and the delay.

    The two directions meet their queues independently, so the minimum of each over a window
    is far closer to the bare path than the best whole exchange is (for exponential queueing of
    mean J, each minimum is about J / window). Carrying sample i forward: the offset has since
    changed by ``(V_now - V_i) - (R_now - R_i) * (1 - y)``, V and R the slave's virtual and raw
    readings and y the raw oscillator's frequency error (so this needs a frequency estimate:
    until there is one every exchange passes as it is).

    That change splits into a part of sample i alone, ``c_i = V_i - R_i * (1 - y)``, and a part
    of now, so the carried minimum is the minimum of ``ms_i - c_i`` (and of ``sm_i + c_i``) plus
    a term of now: two sliding-window minima, kept in monotonic deques in O(1) per exchange and
    rebuilt from the window only when a new y would move the oldest carried value by more than
    ``rebuild_ns`` (1 ns).

    y comes from the filter's own :class:`RawFrequencyEstimator` when samples carry
    ``rx_raw_ns`` (until its baseline is long enough, exchanges pass as they are), and from the
    servo (``freq_error_ppb``) only for samples without: the servo's estimate is noisier and,
    worse, closes a second loop through the filter, which is why windows longer than about a
    second were unstable with it."""

    name = "lucky packet per direction"
    rebuild_ns = 1.0

    def __init__(self, window: int = 16, *, estimator: RawFrequencyEstimator | None = None
                 ) -> None:
        if window < 1:
            raise ClockConfigError(f"filter window {window}: at least 1")
        self.window = window
        self._samples: deque[Sample] = deque(maxlen=window)
        self.estimator = estimator if estimator is not None else RawFrequencyEstimator()
        self._y: float | None = None
        self._r0: int | None = None  # raw readings are taken relative to this, for precision
        self._n = 0  # samples seen; index of the next one
        self._ms: deque[tuple[int, float]] = deque()  # (index, ms_i - c_i), increasing keys
        self._sm: deque[tuple[int, float]] = deque()  # (index, sm_i + c_i), increasing keys

    def _push(self, index: int, s: Sample, y: float) -> float:
        """Add sample ``index`` to both minima; its ``c_i`` (the two deques written out: this
        runs once per exchange)."""
        r0 = self._r0
        c = (s.virt_ns - r0) - (s.raw_ns - r0) * (1.0 - y)
        expired = index - self.window
        q, key = self._ms, s.ms_ns - c
        while q and q[-1][1] >= key:
            q.pop()
        q.append((index, key))
        if q[0][0] <= expired:
            q.popleft()
        q, key = self._sm, s.sm_ns + c
        while q and q[-1][1] >= key:
            q.pop()
        q.append((index, key))
        if q[0][0] <= expired:
            q.popleft()
        return c

    def _rebuild(self, index: int, y: float) -> float:
        """Both minima afresh with frequency ``y``: what pushing the window's samples in order
        would leave (the samples whose key is below every later one's), found in one pass from
        the newest; returns the newest sample's ``c``."""
        r0, k = self._r0, 1.0 - y
        ms: list[tuple[int, float]] = []
        sm: list[tuple[int, float]] = []
        low_ms = low_sm = math.inf
        c_now = None
        for i, s in zip(range(index, -1, -1), reversed(self._samples)):
            c = (s.virt_ns - r0) - (s.raw_ns - r0) * k
            if c_now is None:
                c_now = c
            key = s.ms_ns - c
            if key < low_ms:
                ms.append((i, key))
                low_ms = key
            key = s.sm_ns + c
            if key < low_sm:
                sm.append((i, key))
                low_sm = key
        ms.reverse()
        sm.reverse()
        self._ms, self._sm = deque(ms), deque(sm)
        return c_now

    def update(self, sample: Sample, freq_error_ppb: float | None) -> tuple[float, float] | None:
        if self._r0 is None:
            self._r0 = sample.raw_ns
        self._samples.append(sample)
        index, self._n = self._n, self._n + 1
        if sample.rx_raw_ns is not None:
            self.estimator.add(sample.t1_ns, sample.rx_raw_ns)
        own = self.estimator.ppb()
        if own is not None or sample.rx_raw_ns is not None:
            ppb = own  # this filter's samples feed its own estimate: wait for it
        else:
            ppb = freq_error_ppb
        if ppb is None:
            return sample.offset_ns, sample.delay_ns
        y = ppb * 1e-9
        span_ns = sample.raw_ns - self._samples[0].raw_ns
        if self._y is None or abs(y - self._y) * span_ns > self.rebuild_ns:
            # a new estimate that moves the oldest carried value by more than rebuild_ns:
            # rebuild the minima with it (smaller changes keep the keys' y, within rebuild_ns)
            self._y = y
            c_now = self._rebuild(index, y)
        else:
            c_now = self._push(index, sample, self._y)
        best_ms, best_sm = self._ms[0][1] + c_now, self._sm[0][1] - c_now
        return (best_ms - best_sm) / 2, (best_ms + best_sm) / 2


@dataclass(frozen=True, slots=True)
class Gains:
    """PI gains as linuxptp configures them, for an interval ``dt`` in seconds."""

    kp_scale: float
    ki_scale: float
    kp_exponent: float = -0.3
    ki_exponent: float = 0.4
    kp_norm_max: float = 0.7
    ki_norm_max: float = 0.3

    def at(self, dt_s: float) -> tuple[float, float]:
        kp = min(self.kp_scale * dt_s ** self.kp_exponent, self.kp_norm_max / dt_s)
        ki = min(self.ki_scale * dt_s ** self.ki_exponent, self.ki_norm_max / dt_s)
        return kp, ki


HW_GAINS = Gains(0.7, 0.3)
SW_GAINS = Gains(0.1, 0.001)


class ServoAction(NamedTuple):
    """What the servo decided: the frequency to run at (ppb) and a phase step (ns, 0 if none)."""

    freq_ppb: float
    step_ns: int
    state: str  # "unlocked" (first sample), "jump" (stepped), "locked"


class PIServo:
    """A proportional-integral clock servo; ``sample(offset_ns, local_ns)`` -> :class:`ServoAction`.

    ``gains`` may be a :class:`Gains` (scaled by the measured interval) or a fixed ``(kp, ki)``
    pair, which is how a learner sets raw gains."""

    def __init__(self, gains: Gains | tuple[float, float] = HW_GAINS, *,
                 step_threshold_ns: float = 20_000.0, max_ppb: float = 900_000.0,
                 freq_estimate_ns: int = 1_000_000_000) -> None:
        if isinstance(gains, tuple) and (gains[0] < 0 or gains[1] < 0):
            raise ClockConfigError(f"servo gains {gains}: not negative")
        self.gains, self.step_threshold_ns, self.max_ppb = gains, step_threshold_ns, max_ppb
        self.freq_estimate_ns = freq_estimate_ns  # the shortest baseline of the first estimate
        self.integral_ppb = 0.0
        self.count = 0
        self.locked = False
        self._first: tuple[float, int] | None = None
        self._last_ns: int | None = None

    def _gains(self, dt_s: float) -> tuple[float, float]:
        if hasattr(self.gains, "at"):  # Gains, or any object scaling gains by the interval
            return self.gains.at(max(dt_s, 1e-3))
        return self.gains

    def _clamp(self, ppb: float) -> float:
        return max(-self.max_ppb, min(self.max_ppb, ppb))

    def sample(self, offset_ns: float, local_ns: int) -> ServoAction:
        self.count += 1
        if self._first is None:  # remember the first; the second gives the frequency error
            self._first = (offset_ns, local_ns)
            self._last_ns = local_ns
            return ServoAction(-self.integral_ppb, 0, "unlocked")
        if self.count == 2:
            off0, t0 = self._first
            span = local_ns - t0
            if span < self.freq_estimate_ns:  # too short a baseline: the noise would dominate
                self.count = 1
                return ServoAction(-self.integral_ppb, 0, "unlocked")
            # drift of the offset per ns of local time = frequency error (ns/ns -> ppb)
            self.integral_ppb = self._clamp(self.integral_ppb + (offset_ns - off0) / span * 1e9)
            self._last_ns = local_ns
            self.locked = True
            return ServoAction(-self.integral_ppb, -round(offset_ns), "jump")
        dt_s = (local_ns - self._last_ns) / 1e9 if self._last_ns is not None else 0.0
        self._last_ns = local_ns
        if abs(offset_ns) > self.step_threshold_ns:
            return ServoAction(-self.integral_ppb, -round(offset_ns), "jump")
        kp, ki = self._gains(dt_s)
        m = self.max_ppb  # _clamp, written out on the path taken at every exchange
        integral = self.integral_ppb = max(-m, min(m, self.integral_ppb + ki * offset_ns))
        return ServoAction(-max(-m, min(m, kp * offset_ns + integral)), 0, "locked")
