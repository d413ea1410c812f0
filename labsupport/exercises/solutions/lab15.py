"""Reference solutions of lab 15's exercises (the checks must pass on these)."""

from __future__ import annotations

from collections import deque

from labsupport.clocksync.servo import Sample, ServoAction


def offset_and_delay(t1: int, t2: int, t3: int, t4: int) -> tuple[float, float]:
    there, back = t2 - t1, t4 - t3
    return (there - back) / 2, (there + back) / 2


class Servo:
    """PI with a frequency estimate from two samples a second apart, then a step."""

    kp, ki = 1.6, 0.1  # ptp4l's hardware defaults at a 16 Hz sync rate

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None
        self.locked = False
        self.integral_ppb = 0.0

    def sample(self, offset_ns: float, local_ns: int) -> ServoAction:
        if not self.locked:
            if self.first is None:
                self.first = (offset_ns, local_ns)
                return ServoAction(0.0, 0, "unlocked")
            off0, t0 = self.first
            if local_ns - t0 < 1_000_000_000:
                return ServoAction(0.0, 0, "unlocked")
            self.integral_ppb = (offset_ns - off0) / (local_ns - t0) * 1e9
            self.locked = True
            return ServoAction(-self.integral_ppb, -round(offset_ns), "jump")
        if abs(offset_ns) > 20_000:
            return ServoAction(-self.integral_ppb, -round(offset_ns), "jump")
        self.integral_ppb += self.ki * offset_ns
        return ServoAction(-(self.kp * offset_ns + self.integral_ppb), 0, "locked")


class Filter:
    """The least t2 - t1 and the least t4 - t3 of the last 16 exchanges, each carried forward
    to now by what the slave's clock has done since (its virtual minus raw time) and by the
    oscillator error the servo estimates."""

    def __init__(self) -> None:
        self.window: deque[Sample] = deque(maxlen=16)

    def update(self, sample: Sample, freq_error_ppb: float | None) -> tuple[float, float] | None:
        self.window.append(sample)
        if freq_error_ppb is None:
            return sample.offset_ns, sample.delay_ns
        there = back = float("inf")
        for old in self.window:
            moved = ((sample.virt_ns - old.virt_ns)
                     - (sample.raw_ns - old.raw_ns) * (1 - freq_error_ppb * 1e-9))
            there = min(there, old.ms_ns + moved)
            back = min(back, old.sm_ns - moved)
        return (there - back) / 2, (there + back) / 2
