"""Latency distributions for simulated links, all in integer nanoseconds.

What a network emulator such as Linux ``netem`` (``delay 10ms 2ms distribution normal``) or
FoundationDB's simulated network offers, as small objects: each has ``sample(rng) -> int`` (a
delay in ns, never negative) and ``mean_ns`` (the exact mean, so tests can check the sampled
mean against it). The random stream is passed in, never owned: every link draws from its own
stream, so two runs with one seed draw the same delays in the same order.

================  =====================================  ==========================================
distribution      parameters                             shape and when to use it
================  =====================================  ==========================================
``Fixed``         ``ns``                                 one delay; the fast path of the network
``Uniform``       ``lo_ns, hi_ns``                       flat between two bounds
``Normal``        ``mu_ns, sd_ns`` (clipped at 0)        symmetric jitter around a mean
``LogNormal``     ``median_ns, sigma``                   the long right tail real RTTs have
``Exponential``   ``scale_ns, min_ns=0``                 memoryless queueing delay over a floor
``Custom``        ``fn(rng) -> ns``, ``expected_ns``     anything else (a mixture, a replay)
================  =====================================  ==========================================

:func:`as_latency` turns an ``int`` into ``Fixed`` and a plain callable into ``Custom``, so a
link accepts ``latency=2_000_000`` or ``latency=lambda rng: ...`` as well as an object.
Normal's mean is the unclipped mean (exact while ``sd_ns`` is small against ``mu_ns``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from .errors import SimConfigError

__all__ = ["Latency", "Fixed", "Uniform", "Normal", "LogNormal", "Exponential", "Custom",
           "as_latency", "US", "MS", "S"]

US = 1_000  # nanoseconds per microsecond, millisecond and second: write ``5 * MS``
MS = 1_000_000
S = 1_000_000_000


class Latency:
    """Interface: a delay distribution over integer nanoseconds."""

    __slots__ = ()
    mean_ns: float

    def sample(self, rng: random.Random) -> int:
        raise NotImplementedError


def _non_negative(name: str, value: float) -> None:
    if value < 0:
        raise SimConfigError(f"latency {name}={value} must not be negative")


@dataclass(frozen=True, slots=True)
class Fixed(Latency):
    ns: int

    def __post_init__(self) -> None:
        _non_negative("ns", self.ns)

    @property
    def mean_ns(self) -> float:
        return float(self.ns)

    def sample(self, rng: random.Random) -> int:
        return self.ns


@dataclass(frozen=True, slots=True)
class Uniform(Latency):
    lo_ns: int
    hi_ns: int

    def __post_init__(self) -> None:
        _non_negative("lo_ns", self.lo_ns)
        if self.hi_ns < self.lo_ns:
            raise SimConfigError(f"Uniform: hi_ns={self.hi_ns} is below lo_ns={self.lo_ns}")

    @property
    def mean_ns(self) -> float:
        return (self.lo_ns + self.hi_ns) / 2

    def sample(self, rng: random.Random) -> int:
        # lo..hi inclusive; random() is a third of randint()'s cost, and over any span of delays
        # (far below 2**53 ns) its rounding bias is below one part in a billion
        return self.lo_ns + int(rng.random() * (self.hi_ns - self.lo_ns + 1))


@dataclass(frozen=True, slots=True)
class Normal(Latency):
    mu_ns: int
    sd_ns: int

    def __post_init__(self) -> None:
        _non_negative("mu_ns", self.mu_ns)
        _non_negative("sd_ns", self.sd_ns)

    @property
    def mean_ns(self) -> float:
        return float(self.mu_ns)

    def sample(self, rng: random.Random) -> int:
        v = int(rng.gauss(self.mu_ns, self.sd_ns))
        return v if v > 0 else 0


@dataclass(frozen=True, slots=True)
class LogNormal(Latency):
    median_ns: int
    sigma: float

    def __post_init__(self) -> None:
        if self.median_ns <= 0:
            raise SimConfigError(f"LogNormal: median_ns={self.median_ns} must be positive")
        _non_negative("sigma", self.sigma)

    @property
    def mean_ns(self) -> float:
        return self.median_ns * math.exp(self.sigma ** 2 / 2)

    def sample(self, rng: random.Random) -> int:
        return int(rng.lognormvariate(math.log(self.median_ns), self.sigma))


@dataclass(frozen=True, slots=True)
class Exponential(Latency):
    scale_ns: int
    min_ns: int = 0

    def __post_init__(self) -> None:
        if self.scale_ns <= 0:
            raise SimConfigError(f"Exponential: scale_ns={self.scale_ns} must be positive")
        _non_negative("min_ns", self.min_ns)

    @property
    def mean_ns(self) -> float:
        return float(self.min_ns + self.scale_ns)

    def sample(self, rng: random.Random) -> int:
        return self.min_ns + int(rng.expovariate(1.0 / self.scale_ns))


@dataclass(frozen=True, slots=True)
class Custom(Latency):
    fn: Callable[[random.Random], float]
    expected_ns: float = math.nan  # the mean, if the caller knows it

    @property
    def mean_ns(self) -> float:
        return self.expected_ns

    def sample(self, rng: random.Random) -> int:
        v = int(self.fn(rng))
        return v if v > 0 else 0


def as_latency(value: Latency | int | Callable[[random.Random], float]) -> Latency:
    """Accept a distribution, a fixed delay in ns, or a callable ``rng -> ns``."""
    if isinstance(value, Latency):
        return value
    if isinstance(value, bool):  # bool is an int, but True ns is surely a mistake
        raise SimConfigError(f"latency {value!r} is not a delay")
    if isinstance(value, int):
        return Fixed(value)
    if callable(value):
        return Custom(value)
    raise SimConfigError(f"latency {value!r}: expected ns (int), a Latency or a callable rng -> ns")
