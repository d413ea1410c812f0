"""Clock sync cores without a network: clock models, codec, formulas, servo, filters, NTP parts."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.clocksync import (
    HW,
    SW,
    ClockConfigError,
    CodecError,
    Message,
    Oscillator,
    PIServo,
    VirtualClock,
    allan_deviation,
    best_master,
    decode,
    encode,
    marzullo,
    ntp_offset_delay,
    offset_and_delay,
)
from labsupport.clocksync.codec import (
    ANNOUNCE,
    DELAY_REQ,
    DELAY_RESP,
    FOLLOW_UP,
    HEADER_LEN,
    SIGNALING,
    SYNC,
)
from labsupport.clocksync.servo import (
    LuckyPacketFilter,
    MinDelayFilter,
    PassAll,
    RawFrequencyEstimator,
    Sample,
)

S = 1_000_000_000


# --- clock models -------------------------------------------------------------------------------

def test_oscillator_fixed_ppm_gains_its_error_per_second() -> None:
    osc = Oscillator(ppm=20.0, phase_ns=500)
    assert osc.read(0) == 500
    assert osc.read(S) == S + 20_000 + 500
    assert osc.read(86_400 * S) - 86_400 * S - 500 == pytest.approx(1.728e9, rel=1e-9)  # 1.7 s/day


def test_oscillator_temperature_profile_adds_about_one_ppm_per_degree() -> None:
    osc = Oscillator(temperature=lambda t_s: 25.0 + t_s / 10)  # warms 1 degree per 10 s
    osc.read(10 * S)
    assert osc.frequency_error() == pytest.approx(1e-6)


def test_oscillator_ageing_drifts_the_frequency_linearly() -> None:
    osc = Oscillator(ageing_ppb_per_day=5.0)
    assert osc.frequency_error(2 * 86_400 * S) == pytest.approx(10e-9)


def test_oscillator_wander_spreads_as_sqrt_time_and_is_seeded() -> None:
    seed = 15
    ends = []
    for i in range(300):
        osc = Oscillator(wander_ppb_per_sqrt_s=2.0, rng=random.Random(seed * 1000 + i))
        for k in range(1, 101):
            osc.read(k * S)
        ends.append(osc.frequency_error() * 1e9)
    print("seed", seed)
    assert statistics.pstdev(ends) == pytest.approx(2.0 * math.sqrt(100), rel=0.25)
    a, b = (Oscillator(wander_ppb_per_sqrt_s=2.0, rng=random.Random(7)) for _ in range(2))
    assert [a.read(k * S) for k in range(50)] == [b.read(k * S) for k in range(50)]


def test_reading_has_a_resolution_and_a_cost() -> None:
    osc = Oscillator(resolution_ns=1000, read_cost_ns=300)
    assert osc.read(12_345) == 12_000  # read at 12_645, floored to the microsecond
    assert Oscillator(read_cost_ns=300).read(1000) == 1300
    with pytest.raises(ClockConfigError):
        Oscillator(resolution_ns=0)


def test_virtual_clock_frequency_change_never_jumps_and_step_moves_phase() -> None:
    now = [1_000]
    clock = VirtualClock(lambda: now[0])
    now[0] += S
    before = clock.now()
    clock.adjust_frequency(-50_000)  # 50 ppm slower
    assert clock.now() == before
    now[0] += S
    assert clock.now() == before + S - 50_000
    clock.step(-7)
    assert clock.now() == before + S - 50_007 and clock.steps == 1


def test_hardware_stamps_carry_ns_software_stamps_microseconds_one_sided() -> None:
    rng = random.Random(3)
    hw = [HW.rx(rng, 0) for _ in range(4000)]
    assert abs(statistics.mean(hw)) < 1 and 5 < statistics.pstdev(hw) < 11
    rx = [SW.rx(rng, 0) for _ in range(4000)]
    tx = [SW.tx(rng, 0) for _ in range(4000)]
    assert 1300 < statistics.mean(rx) < 1700 and -1700 < statistics.mean(tx) < -1300


def test_allan_deviation_of_a_pure_frequency_offset_is_zero_and_of_white_fm_falls() -> None:
    linear = [20.0 * k for k in range(256)]  # 20 ns/s: a constant frequency error
    assert all(adev < 1e-15 for _, adev in allan_deviation(linear, 1.0))
    rng = random.Random(4)
    phase, x = [], 0.0
    for _ in range(4096):
        x += rng.gauss(0, 10.0)  # white frequency noise: a random walk of phase
        phase.append(x)
    curve = allan_deviation(phase, 1.0)
    assert curve[0][1] > curve[4][1] * 2  # falls as 1/sqrt(tau): 4x down over 16x tau


# --- codec ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("msg", [
    Message(SYNC, 1, two_step=True, log_interval=-4),
    Message(FOLLOW_UP, 65535, timestamp_ns=1_700_000_000_123_456_789),
    Message(DELAY_REQ, 7, clock_identity=b"SLAVE\0\0\1", port=2),
    Message(DELAY_RESP, 7, timestamp_ns=42, correction_ns=12.5,
            requesting_identity=b"SLAVE\0\0\1", requesting_port=2),
    Message(ANNOUNCE, 3, priority1=10, clock_class=6, gm_identity=b"GM\0\0\0\0\0\1"),
    Message(SIGNALING, 0),
], ids=lambda m: m.name)
def test_codec_round_trips_every_message_type(msg: Message) -> None:
    data = encode(msg)
    assert data[0] & 0x0F == msg.msg_type and data[1] == 2
    assert int.from_bytes(data[2:4], "big") == len(data)
    assert decode(data) == msg


def test_codec_header_fields_sit_at_their_1588_offsets() -> None:
    data = encode(Message(FOLLOW_UP, 0x1234, timestamp_ns=5 * S + 6, correction_ns=1.0))
    assert len(data) == 44 and HEADER_LEN == 34
    assert data[8:16] == (65536).to_bytes(8, "big")  # correctionField: ns * 2**16
    assert data[30:32] == b"\x12\x34"  # sequenceId
    assert data[34:40] == (5).to_bytes(6, "big") and data[40:44] == (6).to_bytes(4, "big")


@pytest.mark.parametrize("data, field", [
    (b"\x00" * 10, "header"),
    (bytes([0x00, 0x01]) + bytes(42), "versionPTP"),
    (bytes([0x05, 0x02]) + bytes(42), "messageType"),
    (encode(Message(SYNC, 1))[:40], "messageLength"),
    (encode(Message(SYNC, 1))[:40] + b"\xff\xff\xff\xff", "timestamp.nanoseconds"),
])
def test_codec_refuses_bad_bytes_naming_field_and_offset(data: bytes, field: str) -> None:
    with pytest.raises(CodecError) as err:
        decode(data)
    assert err.value.field == field and "offset" in str(err.value)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_codec_on_arbitrary_bytes_raises_only_codec_error(data: bytes) -> None:
    try:
        msg = decode(data)
    except CodecError:
        return
    assert decode(encode(msg)) == msg


# --- formulas, servo, filters ----------------------------------------------------------------------

def test_offset_and_delay_on_a_hand_computed_exchange() -> None:
    # slave 100 ns ahead, 500 ns each way: t2 = t1 + 500 + 100, t4 = t3 + 500 - 100
    assert offset_and_delay(1000, 1600, 2000, 2400) == (100.0, 500.0)
    # a 200 ns asymmetry (600 there, 400 back) reads as 100 ns of offset
    assert offset_and_delay(0, 600, 1000, 1400) == (100.0, 500.0)
    assert ntp_offset_delay(1000, 900, 1000, 1200) == (150.0, 100.0)


def _closed_loop(servo: PIServo, y_ppb: float, offset0: float, n: int, dt_s: float,
                 kick_at: int = 30) -> list[float]:
    """A noiseless clock of frequency error ``y_ppb`` steered by ``servo``, knocked 100 ns off
    once at sample ``kick_at``: the offsets it saw."""
    off, freq, seen = offset0, 0.0, []
    for k in range(n):
        if k == kick_at:
            off += 100.0
        seen.append(off)
        act = servo.sample(off, round(k * dt_s * S))
        off += act.step_ns
        freq = act.freq_ppb
        off += (y_ppb + freq) * dt_s
    return seen


def test_servo_default_gains_measure_frequency_step_and_converge() -> None:
    servo = PIServo()
    seen = _closed_loop(servo, 20_000.0, 1_000_000.0, 300, 1 / 16)
    assert servo.locked and abs(servo.integral_ppb - 20_000) < 1
    assert max(abs(x) for x in seen[17:30]) < 1.0  # the 1 s frequency estimate was exact
    after = seen[30:]
    assert max(abs(x) for x in after) <= 100.0 and abs(after[-1]) < 1.0  # the kick decays
    # ptp4l's defaults are a little under critical damping: any ringing dies away
    envelope = [max(abs(x) for x in after[i:i + 50]) for i in range(0, 250, 50)]
    assert all(b < a / 2 for a, b in zip(envelope, envelope[1:])), envelope


def test_servo_gains_too_high_diverge() -> None:
    seen = _closed_loop(PIServo((40.0, 0.0), step_threshold_ns=math.inf), 20_000.0, 0.0, 80,
                        1 / 16)
    # |1 - kp dt| = 1.5: each sample 1.5x the last, until the frequency limit (900 ppm) bites
    assert abs(seen[-1]) > 100 * 100
    assert all(a * b < 0 for a, b in zip(seen[32:], seen[33:]))  # and rings, sign flipping


def test_servo_steps_only_beyond_threshold_once_locked() -> None:
    servo = PIServo(step_threshold_ns=20_000)
    servo.sample(0.0, 0)
    assert servo.sample(0.0, S).state == "jump"
    assert servo.sample(15_000.0, 2 * S).step_ns == 0
    assert servo.sample(25_000.0, 3 * S).step_ns == -25_000


def test_servo_waits_for_a_baseline_before_the_frequency_estimate() -> None:
    servo = PIServo(freq_estimate_ns=S)
    servo.sample(0.0, 0)
    assert servo.sample(10_000.0, S // 16).state == "unlocked"  # 62 ms is too short
    assert servo.sample(20_000.0, S).state == "jump" and servo.integral_ppb == pytest.approx(20_000)


def test_filters_select_low_delay_exchanges_and_directions() -> None:
    samples = [Sample(5000 + q1, 5000 + q2, 0, 0) for q1, q2 in
               [(900, 100), (50, 700), (400, 400), (300, 20)]]
    assert [PassAll().update(s, 0.0) for s in samples[:1]] == [(400.0, 5500.0)]
    exch = MinDelayFilter(window=4)
    passed = [exch.update(s, 0.0) for s in samples]
    assert passed[0] is not None and passed[1] is not None and passed[2] is None
    lucky = LuckyPacketFilter(window=4)
    out = [lucky.update(s, 0.0) for s in samples]
    assert out[-1] == ((5050 - 5020) / 2, (5050 + 5020) / 2)  # best of each direction
    assert LuckyPacketFilter(4).update(samples[0], None) == (400.0, 5500.0)  # unlocked: as is


def test_lucky_filter_carries_old_samples_forward_with_the_clock_adjustments() -> None:
    f = LuckyPacketFilter(window=2)
    f.update(Sample(5000, 5000, raw_ns=0, virt_ns=0), 0.0)  # offset 0 then
    # the slave has since stepped its clock +300 ns: the old sample now says offset +300
    got = f.update(Sample(5000 + 300 + 800, 5000 - 300 + 800, raw_ns=S, virt_ns=S + 300), 0.0)
    assert got == (300.0, 5000.0)


def _carried_minima(window: list[Sample], y: float) -> tuple[float, float]:
    """The lucky filter's definition, written out: every sample carried forward to the last."""
    now = window[-1]
    best_ms = best_sm = math.inf
    for old in window:
        moved = (now.virt_ns - old.virt_ns) - (now.raw_ns - old.raw_ns) * (1.0 - y)
        best_ms, best_sm = min(best_ms, old.ms_ns + moved), min(best_sm, old.sm_ns - moved)
    return (best_ms - best_sm) / 2, (best_ms + best_sm) / 2


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000),
                                              st.integers(-400, 400)), min_size=1, max_size=40),
       st.lists(st.sampled_from([0.0, 2e-5, -3e-6]), min_size=1, max_size=40))
def test_lucky_filter_sliding_minima_equal_the_definition(window: int, steps, ys) -> None:
    f = LuckyPacketFilter(window)
    seen: list[Sample] = []
    raw = virt = 10**12
    for k, (q1, q2, steer) in enumerate(steps):
        raw += S // 16
        virt += S // 16 + steer
        sample = Sample(5000 + q1, 5000 + q2, raw, virt)
        seen.append(sample)
        y = ys[k % len(ys)]
        got = f.update(sample, y * 1e9)
        want = _carried_minima(seen[-window:], y)
        assert got == pytest.approx(want, abs=1e-3)


def test_raw_frequency_estimator_finds_the_slope_of_the_lower_envelope() -> None:
    rng = random.Random(7)
    print("seed 7")
    est = RawFrequencyEstimator(bucket_ns=S, buckets=32, min_span_ns=4 * S)
    y = 20e-6
    for k in range(16 * 40):  # 40 s of Syncs at 16 Hz, exponential queueing of mean 1 µs
        t1 = k * (S // 16)
        rx_raw = round((t1 + 5000 + rng.expovariate(1 / 1000)) * (1 + y))
        est.add(t1, rx_raw)
        if k == 16 * 3:
            assert est.ppb() is None  # a baseline of 3 s is too short
    assert est.ppb() == pytest.approx(20_000, abs=10)  # within 10 ppb of 20 ppm


# --- NTP parts, best master -------------------------------------------------------------------------

def test_marzullo_finds_the_region_most_intervals_share() -> None:
    assert marzullo([(8, 12), (11, 13), (10, 12)]) == (11, 12, 3)
    assert marzullo([(8, 12), (11, 13), (14, 15)]) == (11, 12, 2)
    assert marzullo([(0, 1)]) == (0, 1, 1)


def test_best_master_compares_priority_class_then_identity() -> None:
    a = Message(ANNOUNCE, 0, priority1=128, clock_class=6, gm_identity=b"B" * 8)
    b = Message(ANNOUNCE, 0, priority1=128, clock_class=248, gm_identity=b"A" * 8)
    c = Message(ANNOUNCE, 0, priority1=128, clock_class=6, gm_identity=b"A" * 8)
    assert best_master([a, b]) is a and best_master([a, b, c]) is c
    assert best_master([b, Message(ANNOUNCE, 0, priority1=1, gm_identity=b"Z" * 8)]).priority1 == 1
    with pytest.raises(ClockConfigError):
        best_master([])


def test_a_constant_oscillator_reads_exactly_what_the_general_integration_reads() -> None:
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    fast = Oscillator(ppm=37.5, phase_ns=123_456)
    general = Oscillator(ppm=37.5, phase_ns=123_456, temperature=lambda t: 20.0)  # adds 0.0
    t = 0
    for _ in range(2000):
        t += rng.randrange(0, 50_000_000)
        assert fast.read(t) == general.read(t)


def test_the_lucky_filter_rebuild_leaves_the_minima_a_run_of_pushes_leaves() -> None:
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    f = LuckyPacketFilter(16)
    f._r0 = 0
    for i in range(40):  # ties on purpose: the later of two equal keys is kept
        f._samples.append(Sample(float(rng.randrange(5)), float(rng.randrange(5)), i * 10**8,
                                 i * 10**8 + rng.randrange(3), 0))
    index, y = 39, 2e-8
    c_now = f._rebuild(index, y)
    pushed = LuckyPacketFilter(16)
    pushed._r0 = 0
    first = index - len(f._samples) + 1
    for i, s in enumerate(f._samples, first):
        c = pushed._push(i, s, y)
    assert (list(f._ms), list(f._sm), c_now) == (list(pushed._ms), list(pushed._sm), c)
