"""Lab 15 exercises: edit these, then run ``python -m labsupport check 15``.

Each function or class below is plugged into the clock-synchronisation simulator by its check
(``labsupport/exercises/lab15.py``), which prints one PASS/FAIL line per case.
"""

from __future__ import annotations

from labsupport.clocksync.servo import Sample, ServoAction


# 15.1 The four timestamps.
# t1: the master sent Sync, t2: the slave received it, t3: the slave sent Delay_Req,
# t4: the master received it (all in ns). Return (offset, mean path delay) as floats, where
# offset = slave clock minus master clock, assuming the path is symmetric.
def offset_and_delay(t1: int, t2: int, t3: int, t4: int) -> tuple[float, float]:
    raise NotImplementedError


# 15.2 A clock servo.
# sample(offset_ns, local_ns) is called once per exchange with the measured offset (slave -
# master) and the slave's clock reading; return ServoAction(freq_ppb, step_ns, state): the
# frequency the slave clock should run at relative to its oscillator (parts per billion, an
# absolute setting, not a change) and a phase step (ns, 0 for none). The slave's oscillator is
# 20 ppm fast and starts 1 ms away. Optional: expose `locked` (bool) and `integral_ppb` (your
# estimate of the oscillator's error) and the lucky-packet filter will use them.
class Servo:
    def sample(self, offset_ns: float, local_ns: int) -> ServoAction:
        # naive: jump onto the master at every sample, never touch the frequency
        return ServoAction(0.0, -round(offset_ns), "jump")


# 15.3 Packet selection.
# update(sample, freq_error_ppb) sees every exchange (sample.ms_ns = t2 - t1, sample.sm_ns =
# t4 - t3, sample.offset_ns, sample.delay_ns, sample.raw_ns / sample.virt_ns = the slave's raw
# and virtual clock when it completed); return (offset_ns, delay_ns) for the servo, or None to
# skip this exchange. freq_error_ppb is the servo's estimate of the oscillator error (None until
# it has one).
class Filter:
    def update(self, sample: Sample, freq_error_ppb: float | None) -> tuple[float, float] | None:
        return sample.offset_ns, sample.delay_ns  # no selection at all
