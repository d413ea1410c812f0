"""Clocks: a drifting oscillator, the steerable virtual clock on top of it, timestamp noise.

What a PTP slave really has (linuxptp's view of a NIC clock, or a plain crystal behind
``CLOCK_MONOTONIC_RAW``): a counter driven by an oscillator that is never exactly on frequency,
and a software layer that turns the counter into a disciplined time by adding a phase offset and
scaling its rate (``clock_adjtime(ADJ_FREQUENCY)`` / ``PTP_CLOCK_ADJFREQ`` in parts per billion).

Theory of operation
-------------------
:class:`Oscillator` maps true time (the simulation's ``now_ns``) to the counter's raw reading.
Its fractional frequency error is the sum of

- a fixed offset ``ppm`` (a cheap crystal: 20-50 ppm; 20 ppm is 1.7 s a day),
- a random walk (``wander_ppb_per_sqrt_s``: after ``t`` seconds its spread is ``w * sqrt(t)``),
- a temperature term ``temp_coeff_ppm_per_c * (T(t) - T(0))`` for a profile ``T(t)`` in degrees
  (about 1 ppm per degree for an uncompensated crystal near its turnover point),
- ageing, a linear drift of the frequency (``ageing_ppb_per_day``).

The phase is integrated piecewise: each read advances from the previous read with the frequency
of the previous read (the random walk takes its step then), so a run is a pure function of the
read times and the seeded stream. Reading costs ``read_cost_ns`` (the reading is of the counter
that much later) and has a ``resolution_ns``: readings (rounded to the ns) are floored to it.

:class:`VirtualClock` is ``virt = v0 + (raw - r0) * (1 + ppb/1e9)`` re-anchored at every
adjustment, so a frequency change never makes time jump and a step moves only the phase. The
same class steers the simulated slaves and the real ones (raw = ``CLOCK_MONOTONIC_RAW`` with an
artificial offset and frequency error, see :class:`RawClock`).

:class:`Timestamping` is where the timestamp is taken. Hardware stamps (at the PHY) carry a few
ns of noise; software stamps are taken by the kernel or the application, before the packet
leaves (transmit) or after it arrived (receive), so they carry a one-sided latency of
microseconds as well as noise. ``HW`` and ``SW`` are the two presets of the command lines.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ClockConfigError

__all__ = ["Oscillator", "VirtualClock", "RawClock", "Timestamping", "HW", "SW",
           "TIMESTAMPING", "allan_deviation"]

_S = 1_000_000_000
_DAY_S = 86_400.0


class Oscillator:
    """A free-running counter whose frequency error is offset + random walk + temperature +
    ageing; ``read(true_ns)`` gives its raw reading in ns at true time ``true_ns``."""

    __slots__ = ("ppm", "wander", "temp_coeff", "temperature", "ageing", "resolution_ns",
                 "read_cost_ns", "rng", "_t0", "_t", "_phase", "_walk", "_temp0", "_rate")

    def __init__(self, *, ppm: float = 0.0, phase_ns: int = 0, wander_ppb_per_sqrt_s: float = 0.0,
                 temperature: Callable[[float], float] | None = None,
                 temp_coeff_ppm_per_c: float = 1.0, ageing_ppb_per_day: float = 0.0,
                 resolution_ns: int = 1, read_cost_ns: int = 0,
                 rng: random.Random | None = None, start_ns: int = 0) -> None:
        if resolution_ns < 1 or read_cost_ns < 0 or wander_ppb_per_sqrt_s < 0:
            raise ClockConfigError("oscillator: resolution_ns >= 1, read_cost_ns and wander >= 0")
        self.ppm, self.wander, self.ageing = ppm, wander_ppb_per_sqrt_s, ageing_ppb_per_day
        self.temperature, self.temp_coeff = temperature, temp_coeff_ppm_per_c
        self.resolution_ns, self.read_cost_ns = resolution_ns, read_cost_ns
        self.rng = rng if rng is not None else random.Random(0)
        self._t0 = self._t = start_ns
        self._phase = float(start_ns + phase_ns)  # raw reading at true time self._t
        self._walk = 0.0  # the random-walk part of the frequency error, fractional
        self._temp0 = temperature(0.0) if temperature is not None else 0.0
        # a constant frequency (no wander, temperature or ageing): 1 + y once, the same float
        # _advance would compute at every read (y + 0.0 is y)
        constant = not (wander_ppb_per_sqrt_s or ageing_ppb_per_day or temperature is not None)
        self._rate = 1.0 + ppm * 1e-6 if constant else None

    def frequency_error(self, true_ns: int | None = None) -> float:
        """The fractional frequency error (1e-6 = 1 ppm) at ``true_ns`` (default: last read)."""
        t = self._t if true_ns is None else true_ns
        elapsed_s = (t - self._t0) / _S
        y = self.ppm * 1e-6 + self._walk + self.ageing * 1e-9 * elapsed_s / _DAY_S
        if self.temperature is not None:
            y += self.temp_coeff * 1e-6 * (self.temperature(elapsed_s) - self._temp0)
        return y

    def _advance(self, true_ns: int) -> None:
        dt = true_ns - self._t
        if dt <= 0:
            return
        self._phase += dt * (1.0 + self.frequency_error())
        self._t = true_ns
        if self.wander:  # the walk steps after the interval it did not yet influence
            self._walk += self.rng.gauss(0.0, self.wander * 1e-9 * math.sqrt(dt / _S))

    def read(self, true_ns: int) -> int:
        """The raw reading at true time ``true_ns`` (plus the read cost, floored to resolution)."""
        t = true_ns + self.read_cost_ns
        if self._rate is None:
            self._advance(t)
        elif t > self._t:
            self._phase += (t - self._t) * self._rate
            self._t = t
        res = self.resolution_ns
        return round(self._phase) // res * res


class VirtualClock:
    """A clock steered in phase and frequency on top of a raw counter (``raw() -> ns``)."""

    __slots__ = ("raw", "freq_ppb", "_r0", "_v0", "steps")

    def __init__(self, raw: Callable[[], int]) -> None:
        self.raw = raw
        self.freq_ppb = 0.0  # the frequency adjustment in force, parts per billion
        self._r0 = raw()
        self._v0 = self._r0
        self.steps = 0

    def to_virtual(self, raw_ns: int) -> int:
        """The virtual time of a raw reading (a kernel timestamp taken on the raw counter)."""
        return self._v0 + round((raw_ns - self._r0) * (1.0 + self.freq_ppb * 1e-9))

    def to_raw(self, virt_ns: int) -> int:
        """The raw reading at which this clock reads ``virt_ns`` (the inverse of to_virtual)."""
        return self._r0 + round((virt_ns - self._v0) / (1.0 + self.freq_ppb * 1e-9))

    def now(self) -> int:
        return self._v0 + round((self.raw() - self._r0) * (1.0 + self.freq_ppb * 1e-9))

    def adjust_frequency(self, ppb: float, raw_ns: int | None = None) -> None:
        """Run at ``ppb`` parts per billion faster than the raw counter from now on (from the
        raw reading ``raw_ns``, if the caller has just read it: the same line either way)."""
        r = self.raw() if raw_ns is None else raw_ns
        self._v0, self._r0 = self.to_virtual(r), r
        self.freq_ppb = ppb

    def step(self, delta_ns: int) -> None:
        """Jump the phase by ``delta_ns`` (negative: back in time)."""
        self._v0 += delta_ns
        self.steps += 1


class RawClock:
    """A real raw counter with an artificial error: ``CLOCK_MONOTONIC_RAW * (1 + ppm) + offset``.

    Real slaves may not steer the machine's clock, so each one runs on this, started with an
    offset and a frequency error; the true error of its virtual clock is then known exactly,
    since the master reads the same ``CLOCK_MONOTONIC_RAW``."""

    __slots__ = ("ppm", "offset_ns", "_base")

    def __init__(self, *, ppm: float = 0.0, offset_ns: int = 0) -> None:
        self.ppm, self.offset_ns = ppm, offset_ns
        self._base = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)

    def from_reference(self, ref_ns: int) -> int:
        """This clock's raw reading at reference (``CLOCK_MONOTONIC_RAW``) time ``ref_ns``."""
        return ref_ns + round((ref_ns - self._base) * self.ppm * 1e-6) + self.offset_ns

    def __call__(self) -> int:
        return self.from_reference(time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW))


@dataclass(frozen=True, slots=True)
class Timestamping:
    """Noise at the points PTP stamps packets: Gaussian ``sd_ns`` plus, for software stamps, an
    exponential one-sided lag of mean ``lag_ns`` (a transmit stamp is early, a receive late)."""

    name: str
    sd_ns: float
    lag_ns: float = 0.0

    def tx(self, rng: random.Random, exact_ns: int) -> int:
        lag = rng.expovariate(1.0 / self.lag_ns) if self.lag_ns else 0.0
        return exact_ns + round(rng.gauss(0.0, self.sd_ns) - lag)

    def rx(self, rng: random.Random, exact_ns: int) -> int:
        lag = rng.expovariate(1.0 / self.lag_ns) if self.lag_ns else 0.0
        return exact_ns + round(rng.gauss(0.0, self.sd_ns) + lag)


HW = Timestamping("hw", sd_ns=8.0)
SW = Timestamping("sw", sd_ns=300.0, lag_ns=1_500.0)
TIMESTAMPING = {"hw": HW, "sw": SW}


def allan_deviation(phase_ns: list[float] | tuple[float, ...], tau0_s: float,
                    taus: list[int] | None = None) -> list[tuple[float, float]]:
    """Overlapping Allan deviation of phase samples (ns) taken every ``tau0_s`` seconds:
    ``[(tau_s, adev)]`` for averaging factors ``taus`` (default: powers of two)."""
    x = [p * 1e-9 for p in phase_ns]
    n = len(x)
    if taus is None:
        taus = [2**k for k in range(0, 32) if 2 * 2**k < n]
    out = []
    for m in taus:
        if 2 * m >= n:
            break
        terms = [(x[i + 2 * m] - 2 * x[i + m] + x[i]) ** 2 for i in range(n - 2 * m)]
        tau = m * tau0_s
        out.append((tau, math.sqrt(sum(terms) / (2 * len(terms) * tau * tau))))
    return out
