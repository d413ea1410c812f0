"""Exercises of notebook 15: pieces of PTP-lite a learner writes, plugged into the simulator.

- 15.1 the four-timestamp formulas: ``offset_and_delay(t1, t2, t3, t4)`` against exchanges
  computed by hand and against the package's own on seeded random exchanges;
- 15.2 a clock servo: a class whose ``sample(offset_ns, local_ns)`` returns a
  :class:`~labsupport.clocksync.servo.ServoAction`; the check runs it as the slave's servo on
  the simulated network (1 ms away, 20 ppm fast) and asks for convergence within 30 s and a
  residual under 1 µs;
- 15.3 packet selection: a class whose ``update(sample, freq_error_ppb)`` returns the
  ``(offset, delay)`` to steer with, or None; it must at least halve the p99 residual of no
  filter under 1 µs of mean queueing per direction.
"""

from __future__ import annotations

import random

from ..clocksync import offset_and_delay as reference_offset_and_delay
from ..clocksync.servo import PassAll
from ..clocksync.simulation import Scenario, run
from ..clocksync.summary import percentile, summarize
from . import Case, Property, exercise


def _exchanges(seed: int = 15, n: int = 200) -> list[tuple[int, int, int, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t1 = rng.randrange(10**15)
        offset, there, back = rng.randint(-10**6, 10**6), rng.randint(0, 10**5), rng.randint(0, 10**5)
        t2 = t1 + there + offset
        t3 = t2 + rng.randint(0, 10**6)
        out.append((t1, t2, t3, t3 + back - offset))
    return out


@exercise("15.1", "The four timestamps", attr="offset_and_delay")
def check_formulas(offset_and_delay):
    return [
        Case("slave 100 ns ahead, 500 ns each way", lambda: offset_and_delay(1000, 1600, 2000, 2400),
             (100.0, 500.0), input="t1=1000 t2=1600 t3=2000 t4=2400"),
        Case("in step, 5 us each way", lambda: offset_and_delay(0, 5000, 9000, 14000), (0.0, 5000.0),
             input="t1=0 t2=5000 t3=9000 t4=14000"),
        Case("slave 2 us behind", lambda: offset_and_delay(0, 3000, 10000, 17000), (-2000.0, 5000.0),
             input="t1=0 t2=3000 t3=10000 t4=17000"),
        Property("seeded random exchanges", _exchanges, lambda x: offset_and_delay(*x),
                 lambda x: reference_offset_and_delay(*x), show=lambda x: f"t1..t4 = {x}"),
    ]


def _servo_run(Servo, seed: int):  # noqa: N803 - the learner's class
    rows = run(Scenario(seed=seed, duration_s=40.0, filter="none", servo=Servo))
    return summarize([r.t_s for r in rows], [r.true_offset_ns for r in rows])


@exercise("15.2", "A clock servo", attr="Servo")
def check_servo(Servo):  # noqa: N803 - the learner's class
    runs: dict[int, object] = {}

    def summary(seed: int):
        if seed not in runs:
            runs[seed] = _servo_run(Servo, seed)
        return runs[seed]

    return [
        Case("converges (stays within 1 us) within 30 s, seed 1",
             lambda: summary(1).converged_s is not None and summary(1).converged_s < 30, True,
             input="1 ms away, 20 ppm fast, 1 us mean queueing"),
        Case("residual p99 under 1 us after convergence, seed 1",
             lambda: summary(1).converged_s is not None and summary(1).p99_ns < 1_000, True),
        Case("and on seed 2", lambda: summary(2).converged_s is not None and summary(2).p99_ns < 1_000,
             True),
    ]


def _p99(filter_factory, seed: int) -> float:
    rows = run(Scenario(seed=seed, duration_s=40.0, filter=filter_factory))
    return percentile(sorted(abs(r.true_offset_ns) for r in rows if r.t_s > 20), 99)


@exercise("15.3", "Packet selection", attr="Filter")
def check_filter(Filter):  # noqa: N803 - the learner's class
    return [
        Case(f"halves the p99 residual of no filter, seed {seed}",
             lambda seed=seed: _p99(Filter, seed) * 2 < _p99(PassAll, seed), True,
             input="1 us mean exponential queueing each way, hardware stamps")
        for seed in (1, 2)
    ]
