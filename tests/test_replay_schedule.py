"""Lab 09 scheduler: the absolute schedule, the wait strategies, batching and control, with a fake clock.

No test sleeps: :class:`FakeClock` moves only when read (``read_cost_ns``), slept on (the request
plus ``oversleep_ns``) or advanced, so every expected time is exact arithmetic.
"""

from __future__ import annotations

import gc
import random

import numpy as np
import pytest

from labsupport.replay import (
    CallbackSink,
    ControlError,
    FakeClock,
    NullSink,
    OrderStats,
    OutOfOrderError,
    Replayer,
    ReplayError,
    SourceError,
    ordered,
    realtime,
    set_timer_slack_ns,
    timer_slack_ns,
)


def _replay(events, *, speed=1.0, strategy="spin", oversleep=0, read_cost=50, **kw):
    clock = FakeClock(1_000_000, oversleep_ns=oversleep, read_cost_ns=read_cost)
    sink = NullSink(clock)
    r = Replayer(events, sink, speed=speed, strategy=strategy, clock=clock, freeze_gc=False, **kw)
    return r, sink, clock


@pytest.mark.parametrize("speed", [1.0, 2.0, 0.5, 3.0])
def test_due_times_follow_the_absolute_schedule_at_every_speed(speed) -> None:
    ts = [10_000, 10_000 + 7_000, 10_000 + 20_001, 10_000 + 1_000_000, 10_000 + 1_000_003]
    r, sink, _ = _replay([(t, i) for i, t in enumerate(ts)], speed=speed)
    r.run()
    start = r.anchor_wall
    intended = list(sink.log.intended)
    assert intended == [start + round((t - ts[0]) / speed) for t in ts]
    err = sink.log.errors_ns()
    assert (err >= 0).all() and (err <= 200).all()  # spinning: late by a few clock reads (50 ns each)


def test_sleep_is_late_by_its_oversleep_and_hybrid_hides_it_behind_the_margin() -> None:
    events = [(i * 200_000, i) for i in range(50)]  # 200 µs apart, more than any oversleep here
    r, sink, _ = _replay(events, strategy="sleep", oversleep=30_000)
    r.run()
    err = sink.log.errors_ns()[1:]
    assert ((err >= 30_000) & (err <= 30_100)).all()
    r, sink, clock = _replay(events, strategy="hybrid", oversleep=30_000, margin_ns=40_000)
    r.run()
    assert (sink.log.errors_ns() <= 150).all()
    assert clock.sleeps == len(events) - 1  # it did sleep, and spun only the margin
    r, sink, _ = _replay(events, strategy="hybrid", oversleep=30_000, margin_ns=10_000)
    r.run()
    assert sink.log.errors_ns()[1:].min() >= 20_000  # a margin below the oversleep does not help


def test_no_drift_over_a_million_messages() -> None:
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    n = 1_000_000
    ts = np.cumsum(np.random.default_rng(seed).integers(1, 20_000, n)).tolist()
    events = list(zip(ts, range(n)))
    r, sink, clock = _replay(events, strategy="sleep", oversleep=lambda ns: rng.randrange(0, 60_000))
    r.run()
    err = sink.log.errors_ns()
    assert len(err) == n
    # Every message is late by at most one oversleep: nothing accumulates. A relative schedule
    # would be late by the sum of all oversleeps by the end (clock.slept_ns - the schedule).
    assert err.max() < 60_000 + 1_000
    assert err[-1000:].mean() < 60_000
    assert clock.overslept_ns > 10**9  # the sum of the oversleeps, which did not add up


def test_same_instant_messages_go_in_one_batch_and_a_window_widens_it() -> None:
    events = [(0, "a"), (0, "b"), (0, "c"), (500, "d"), (900, "e"), (5_000, "f")]
    r, sink, _ = _replay(events)
    r.run()
    assert r.batches == 4
    assert len(set(sink.log.actual[:3])) == 1
    r, sink, _ = _replay(events, batch_window_ns=1_000)
    r.run()
    assert r.batches == 2 and sink.log.actual[0] == sink.log.actual[4]
    r, _, _ = _replay(events, max_batch=2)
    r.run()
    assert r.batches == 5


def test_speed_zero_sends_as_fast_as_possible_without_waiting() -> None:
    events = [(i * 10**9, i) for i in range(1000)]
    r, sink, clock = _replay(events, speed=0, strategy="sleep", max_batch=100)
    r.run()
    assert r.sent == 1000 and r.batches == 10 and clock.sleeps == 0
    assert (sink.log.errors_ns() == 0).all()


def test_pause_and_resume_shift_the_rest_of_the_schedule_by_the_pause() -> None:
    events = [(i * 1_000_000, i) for i in range(20)]
    r, sink, clock = _replay(events)
    r.run(max_messages=5)
    assert r.sent == 5
    r.pause()
    paused_at = clock.t
    clock.advance(3_000_000_000)
    r.run()  # paused: returns at once
    assert r.sent == 5
    r.resume()
    shift = clock.t - paused_at
    r.run()
    assert r.sent == 20 and r.done
    intended = np.frombuffer(sink.log.intended, dtype=np.int64)
    base = intended[0]
    expected = [base + i * 1_000_000 + (shift if i >= 5 else 0) for i in range(20)]
    assert intended.tolist() == expected


def test_seek_forward_on_a_stream_and_backward_on_a_list() -> None:
    events = [(i * 1_000, i) for i in range(100)]
    r, sink, _ = _replay(iter(events))
    r.run(max_messages=10)
    r.seek(50_500)
    r.run(max_messages=1)
    assert r.last_ts == 51_000 and r.skipped == 41
    due_after_seek = sink.log.intended[-1]
    assert due_after_seek - r.anchor_wall == 500  # 51_000 is 500 ns after the seek point
    with pytest.raises(ControlError):
        r.seek(1_000)
    r, sink, _ = _replay(events)
    r.run(until_ts=60_000)
    assert r.sent == 60 and r.last_ts == 59_000
    r.seek(10_000)
    r.run(max_messages=3)
    assert r.sent == 63 and r.last_ts == 12_000  # 10_000, 11_000, 12_000 sent again


def test_until_ts_stops_before_the_first_message_at_that_time() -> None:
    r, _, _ = _replay([(i, i) for i in range(10)])
    r.run(until_ts=4)
    assert r.sent == 4 and not r.done
    r.run()
    assert r.sent == 10 and r.done


def test_out_of_order_policies_count_what_they_did() -> None:
    events = [(10, "a"), (20, "b"), (15, "c"), (30, "d"), (5, "e"), (40, "f")]
    with pytest.raises(OutOfOrderError, match="message 2"):
        list(ordered(events, "error"))
    st = OrderStats()
    out = list(ordered(events, "clamp", stats=st))
    assert [t for t, _ in out] == [10, 20, 20, 30, 30, 40] and [m for _, m in out] == list("abcdef")
    assert (st.out_of_order, st.clamped, st.reordered, st.max_backstep_ns) == (2, 2, 0, 25)
    st = OrderStats()
    out = list(ordered(events, "reorder", window=2, stats=st))
    # 'c' is one place late (inside the window): put back; 'e' should precede 'a' and 'c', already
    # released: clamped to the last released time, and sent as soon as it is seen.
    assert [m for _, m in out] == list("acebdf") and [t for t, _ in out] == [10, 15, 15, 20, 30, 40]
    assert (st.out_of_order, st.clamped, st.reordered) == (2, 1, 1)
    st = OrderStats()
    out = list(ordered(events, "reorder", window=8, stats=st))
    assert [m for _, m in out] == list("eacbdf") and st.clamped == 0 and st.reordered == 2
    with pytest.raises(ReplayError, match="policy"):
        list(ordered(events, "shuffle"))


def test_bad_options_are_replay_errors() -> None:
    with pytest.raises(ReplayError, match="strategy"):
        _replay([], strategy="yield")
    with pytest.raises(ReplayError, match="speed"):
        _replay([], speed=-1)


def test_realtime_freezes_the_gc_and_restores_timer_slack() -> None:
    before = timer_slack_ns()
    assert gc.isenabled()
    with realtime(timer_slack=1, freeze_gc=True) as applied:
        assert not gc.isenabled() and applied.gc_frozen
        if before is not None and applied.timer_slack_ns == 1:
            assert timer_slack_ns() == 1
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert timer_slack_ns() == before
    if before is None:
        assert not set_timer_slack_ns(1)


def test_progress_callback_sees_the_replay_clock_and_lag() -> None:
    seen = []
    events = [(i * 1_000_000, i) for i in range(100)]
    r, _, _ = _replay(events, progress=lambda rep: seen.append((rep.last_ts, rep.lag_ns)),
                      progress_every_ns=10_000_000)
    r.run()
    assert 8 <= len(seen) <= 11
    assert all(0 <= lag <= 100 for _, lag in seen) and seen == sorted(seen)


def test_set_speed_reanchors_at_the_next_message() -> None:
    events = [(i * 1_000_000, i) for i in range(10)]
    r, sink, _ = _replay(events, speed=0)
    r.run(until_ts=5_000_000)
    r.set_speed(2.0)
    r.run()
    intended = list(sink.log.intended)[5:]
    assert [b - intended[0] for b in intended] == [i * 500_000 for i in range(5)]
    with pytest.raises(ReplayError, match="speed"):
        r.set_speed(-2)


def test_a_damaged_source_delivers_the_batch_in_hand_before_its_error() -> None:
    def damaged():
        yield from ((0, i) for i in range(10))  # ten messages due at once: one batch
        raise SourceError("cut", file="f", offset=99)

    seen = []
    clock = FakeClock()
    for speed in (0, 1):
        seen.clear()
        r = Replayer(damaged(), CallbackSink(seen.append, clock), speed=speed, clock=clock, freeze_gc=False)
        with pytest.raises(SourceError, match="offset 99"):
            r.run()
        assert seen == list(range(10)) and r.sent == 10


def test_realtime_pins_to_one_cpu_and_restores_the_affinity() -> None:
    import os

    before = os.sched_getaffinity(0)
    cpu = min(before)
    with realtime(timer_slack=None, cpu=cpu, freeze_gc=False) as applied:
        assert applied.cpu == cpu and os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before
    with realtime(timer_slack=None, cpu=10_000, freeze_gc=False) as applied:  # no such CPU: noted
        assert applied.cpu is None and "not pinned" in applied.notes[0]
