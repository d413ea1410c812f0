"""An NTP-style client: four timestamps per poll, the clock filter, Marzullo, a PLL.

The baseline PTP is measured against, on the same simulated network. It follows ntpd's
architecture (RFC 5905, sections 10-11) in miniature:

- On-wire: the client stamps ``t1`` at transmit, the server ``t2`` at receive and ``t3`` at
  transmit, the client ``t4`` at receive; ``offset = ((t1 - t2) + (t4 - t3)) / 2`` (client minus
  server, the sign PTP-lite uses) and ``delay = (t4 - t1) - (t3 - t2)`` (round trip).
- Clock filter: the last 8 samples of each server; the one of least synchronisation distance
  (half its delay plus 15 µs per second of age, ntpd's dispersion) is the estimate (a sample
  that met no queue is the most accurate, unless it is old), used only if newer than the last
  one used.
- Poll adaptation: the poll interval is ``2**poll`` s between minpoll 4 (16 s) and maxpoll 10;
  an offset small against the jitter (less than 4x) counts toward a longer poll, a large one
  toward a shorter one (ntpd's hysteresis counter, limit 30).
- Selection: each server gives a correctness interval ``offset +- delay / 2``; Marzullo's
  algorithm finds the region most intervals agree on and the client uses its midpoint.
- Discipline: a type-II phase-locked loop with time constant ``tau = 4 * poll interval``: a
  phase gain ``1 / tau`` and a frequency gain ``dt / tau**2``, which is :class:`~.servo.PIServo`
  with :class:`PllGains`, stepping beyond 128 ms as ntpd does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .clock import VirtualClock
from .servo import PIServo, ServoAction

__all__ = ["NtpClient", "NtpUpdate", "PllGains", "marzullo", "ntp_offset_delay", "MINPOLL",
           "MAXPOLL"]

MINPOLL, MAXPOLL = 4, 10
FILTER_STAGES = 8
POLL_LIMIT = 30
PGATE = 4.0
PHI = 15e-6  # dispersion rate: the frequency tolerance ntpd assumes of a clock, 15 ppm


def ntp_offset_delay(t1: int, t2: int, t3: int, t4: int) -> tuple[float, float]:
    """(offset = client - server, round-trip delay) in ns from one NTP exchange."""
    return ((t1 - t2) + (t4 - t3)) / 2, (t4 - t1) - (t3 - t2)


def marzullo(intervals: list[tuple[float, float]]) -> tuple[float, float, int]:
    """The interval (lo, hi) contained in the most of ``intervals``, and how many contain it."""
    edges = sorted([(lo, -1) for lo, _ in intervals] + [(hi, +1) for _, hi in intervals])
    best, count, lo, hi = 0, 0, 0.0, 0.0
    for i, (x, kind) in enumerate(edges):
        count -= kind  # a start (-1) opens one interval, an end (+1) closes one
        if count > best and i + 1 < len(edges):
            best, lo, hi = count, x, edges[i + 1][0]
    return lo, hi, best


@dataclass(frozen=True, slots=True)
class PllGains:
    """Gains of ntpd's PLL shape for an update interval ``dt``: time constant ``factor * dt``."""

    factor: float = 4.0

    def at(self, dt_s: float) -> tuple[float, float]:
        tau = self.factor * dt_s
        return 1.0 / tau, dt_s / (4 * tau * tau)  # (kp dt)**2 / 4: critically damped


@dataclass(frozen=True, slots=True)
class NtpUpdate:
    """One poll's outcome: the sample's offset and delay, the combined offset the clock was
    disciplined with (None if the filter had nothing new), the servo's action, the next poll."""

    server: str
    offset_ns: float
    delay_ns: float
    combined_ns: float | None
    action: ServoAction | None
    poll: int


class NtpClient:
    """The client of one or more servers, steering ``clock``."""

    def __init__(self, clock: VirtualClock, servers: list[str], *, minpoll: int = MINPOLL,
                 maxpoll: int = MAXPOLL, servo: PIServo | None = None) -> None:
        self.clock, self.servers = clock, list(servers)
        self.minpoll, self.maxpoll, self.poll = minpoll, maxpoll, minpoll
        self.servo = servo if servo is not None else PIServo(PllGains(),
                                                             step_threshold_ns=128e6)
        self._stages = {s: deque(maxlen=FILTER_STAGES) for s in self.servers}
        self._used: dict[str, int] = {}
        self._best: dict[str, tuple[float, float]] = {}
        self._counter = 0

    @property
    def poll_s(self) -> int:
        return 1 << self.poll

    def _filter(self, server: str, now: int) -> tuple[float, float, int] | None:
        stage = self._stages[server]
        # synchronisation distance: half the delay plus the dispersion an old sample has gained
        offset, delay, local = min(stage, key=lambda s: s[1] / 2 + PHI * (now - s[2]))
        if local <= self._used.get(server, -1):
            return None
        self._used[server] = local
        return offset, delay, local

    def _adapt(self, server: str, offset: float) -> None:
        offsets = [s[0] for s in self._stages[server]]
        jitter = (sum((o - offset) ** 2 for o in offsets) / len(offsets)) ** 0.5
        if abs(offset) < PGATE * max(jitter, 1.0):
            self._counter += self.poll
            if self._counter > POLL_LIMIT:
                self._counter, self.poll = 0, min(self.poll + 1, self.maxpoll)
        else:
            self._counter -= 2 * self.poll
            if self._counter < -POLL_LIMIT:
                self._counter, self.poll = 0, max(self.poll - 1, self.minpoll)

    def on_reply(self, server: str, t1: int, t2: int, t3: int, t4: int) -> NtpUpdate:
        offset, delay = ntp_offset_delay(t1, t2, t3, t4)
        self._stages[server].append((offset, delay, t4))
        chosen = self._filter(server, t4)
        if chosen is None:
            return NtpUpdate(server, offset, delay, None, None, self.poll)
        self._best[server] = (chosen[0], chosen[1])
        if len(self._best) > 1:
            lo, hi, _ = marzullo([(o - d / 2, o + d / 2) for o, d in self._best.values()])
            combined = (lo + hi) / 2
        else:
            combined = chosen[0]
        # the samples still held were taken before this correction: they no longer apply
        action = self.servo.sample(combined, t4)
        if action.step_ns:
            self.clock.step(action.step_ns)
            for s in self._stages.values():
                s.clear()
            self._best.clear()
        else:
            self._adapt(server, chosen[0])
        self.clock.adjust_frequency(action.freq_ppb)
        return NtpUpdate(server, offset, delay, combined, action, self.poll)
