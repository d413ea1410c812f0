"""Codec round trips (bit exact), numpy vs numba paths, and malformed input."""

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport.tsdb import bits, codecs, gorilla, kernels

I64 = st.integers(-(2**63), 2**63 - 1)
U64 = st.integers(0, 2**64 - 1)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    # the `path` fixture only selects a code path; it holds no state between examples
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(
    params=[True, False] if kernels.HAVE_NUMBA else [False], ids=lambda p: "numba" if p else "numpy"
)
def path(request, monkeypatch):
    monkeypatch.setattr(bits, "USE_KERNELS", request.param)
    return request.param


def same_bits(a, b):
    return a.dtype == b.dtype and np.array_equal(a.view(np.uint64), b.view(np.uint64))


# ---------------------------------------------------------------- bit streams
@SETTINGS
@given(st.lists(st.tuples(U64, st.integers(0, 64)), max_size=300))
def test_pack_unpack_round_trip(fields):
    values = np.array([v for v, _ in fields], dtype=np.uint64)
    widths = np.array([w for _, w in fields], dtype=np.int64)
    for use in {False, kernels.HAVE_NUMBA}:
        bits.USE_KERNELS = use
        stream, total = bits.pack_bits(values, widths)
        assert total == widths.sum() and len(stream) == (total + 7) // 8
        starts = np.cumsum(widths) - widths
        back = bits.unpack_bits(stream, starts, widths)
        masked = [v & ((1 << w) - 1) for v, w in fields]
        assert back.tolist() == masked
    bits.USE_KERNELS = kernels.HAVE_NUMBA


def test_pack_is_msb_first_as_drawn():
    stream, n = bits.pack_bits(np.array([0b10, 0b1, 0b110101]), np.array([2, 1, 6]))
    assert bits.bits_to_str(stream, n) == "101110101"


@SETTINGS
@given(st.lists(U64, max_size=200))
def test_bit_width_clz_ctz(xs):
    x = np.array(xs, dtype=np.uint64)
    assert bits.bit_width(x).tolist() == [v.bit_length() for v in xs]
    assert bits.clz64(x).tolist() == [64 - v.bit_length() for v in xs]
    assert bits.ctz64(x).tolist() == [(v & -v).bit_length() - 1 if v else 64 for v in xs]


@SETTINGS
@given(st.lists(I64, max_size=200))
def test_zigzag_round_trip(xs):
    x = np.array(xs, dtype=np.int64)
    assert np.array_equal(bits.unzigzag(bits.zigzag(x)), x)
    small = np.array([0, -1, 1, -2, 2], dtype=np.int64)
    assert bits.zigzag(small).tolist() == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- timestamps
@SETTINGS
@given(st.lists(I64, max_size=400))
def test_timestamps_round_trip_any_int64(path, xs):
    ts = np.array(xs, dtype=np.int64)
    out = codecs.decode_ts(codecs.encode_ts(ts), ts.size)
    assert np.array_equal(out, ts)


@SETTINGS
@given(st.lists(st.integers(-5_000, 5_000), min_size=1, max_size=300), I64, st.sampled_from([1, 2]),
       st.sampled_from([*range(len(codecs.BUCKET_TABLES)), codecs.ADAPTIVE]))  # fmt: skip
def test_timestamps_every_order_and_table(path, gaps, start, order, table):
    # cumulative small gaps: non-monotonic and equal timestamps, wrapping near the int64 ends
    ts = (np.int64(start) + np.cumsum(np.array(gaps, dtype=np.int64))).astype(np.int64)
    data = codecs.encode_ts(ts, order=order, table=table)
    assert data[1] == order and data[2] == table
    assert np.array_equal(codecs.decode_ts(data, ts.size), ts)


def test_regular_timestamps_cost_one_bit_each():
    ts = np.arange(1_000, dtype=np.int64) * 1_000_000_000
    data = codecs.encode_ts(ts)
    assert data[1] == 2  # delta-of-delta wins on a regular clock
    # a 1-bit "0" per point after the first delta (one prefix code and a 32-bit payload)
    assert len(data) - gorilla._TS_HDR.size <= (998 + 4 + 7) // 8 + 4


def test_cost_estimate_matches_encoded_size():
    rng = np.random.default_rng(3)
    ts = np.cumsum(rng.exponential(1e6, 5_000).astype(np.int64))
    costs = codecs.ts_cost_bits(ts)
    assert len(costs) == 2 * (len(codecs.BUCKET_TABLES) + 1)
    for (order, table), nbits in costs.items():
        data = codecs.encode_ts(ts, order=order, table=table)
        body = len(data) - gorilla._TS_HDR.size - (5 if table == codecs.ADAPTIVE else 0)
        assert (nbits + 7) // 8 <= body <= (nbits + 7) // 8 + 1


@SETTINGS
@given(st.lists(st.integers(0, 64), min_size=1, max_size=500))
def test_adaptive_buckets_are_optimal_for_five_prefix_codes(widths):
    hist = np.bincount(widths, minlength=65)
    table, cost = codecs.adaptive_table(hist)
    assert list(table) == sorted(table) and table[-1] == max(widths)
    b = np.searchsorted(np.asarray(table), widths, side="left")
    assert cost == int(sum(np.array(gorilla._CODE_LEN)[b] + np.asarray(table)[b]))
    # no fixed table can beat the fitted one
    fixed = gorilla._table_costs(hist)
    assert cost <= fixed.min()


def test_numpy_and_numba_write_identical_bytes():
    rng = np.random.default_rng(11)
    ts = np.cumsum(rng.exponential(3e5, 20_000).astype(np.int64))
    ts[::97] -= 5_000  # some out of order
    x = np.round(100 + np.cumsum(rng.normal(0, 0.01, 20_000)), 2) * 1.0001
    outs = []
    for use in {False, kernels.HAVE_NUMBA}:
        bits.USE_KERNELS = use
        outs.append((codecs.encode_ts(ts), codecs.encode_xor(x), codecs.encode_int(ts)))
    bits.USE_KERNELS = kernels.HAVE_NUMBA
    assert all(o == outs[0] for o in outs)


# ---------------------------------------------------------------- Gorilla XOR
FLOATS = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)


@SETTINGS
@given(st.lists(FLOATS, max_size=300))
def test_xor_round_trip_floats(path, xs):
    x = np.array(xs, dtype=np.float64)
    assert same_bits(codecs.decode_xor(codecs.encode_xor(x), x.size), x)


@SETTINGS
@given(st.lists(U64, max_size=300))
def test_xor_round_trip_every_bit_pattern(path, us):
    # NaN payloads, signalling NaNs, -0.0: any 64-bit pattern comes back unchanged
    x = np.array(us, dtype=np.uint64).view(np.float64)
    assert same_bits(codecs.decode_xor(codecs.encode_xor(x), x.size), x)


def test_xor_special_values():
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, -0.0, 1.5, 1.5, np.nan])
    assert same_bits(codecs.decode_xor(codecs.encode_xor(x), x.size), x)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 31), st.integers(0, 63)), max_size=300))
def test_vectorised_window_choice_equals_greedy_scan(pairs):
    lead = np.array([a for a, _ in pairs], dtype=np.int64)
    trail = np.array([b for _, b in pairs], dtype=np.int64)
    bits.USE_KERNELS = False
    try:
        assert np.array_equal(codecs.xor_windows(lead, trail), codecs.xor_windows_scan(lead, trail))
    finally:
        bits.USE_KERNELS = kernels.HAVE_NUMBA


def test_repeated_value_costs_one_bit():
    x = np.full(1_000, 123.25)
    assert len(codecs.encode_xor(x)) - gorilla._XOR_HDR.size == (999 + 7) // 8


# ---------------------------------------------------------------- integers, tick grid
@SETTINGS
@given(st.lists(I64, max_size=300))
def test_int_pack_round_trip(path, xs):
    x = np.array(xs, dtype=np.int64)
    assert np.array_equal(codecs.decode_int(codecs.encode_int(x), x.size), x)


@SETTINGS
@given(st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=300), st.integers(0, 6))
def test_grid_prices_round_trip(path, ticks, k):
    x = np.array(ticks, dtype=np.int64) / 10.0**k
    got = codecs.grid_exponent(x)
    assert got is not None and got <= k
    data = codecs.encode_float(x)
    assert data[0] == codecs.GRID
    assert same_bits(codecs.decode_column(data, x.size), x)


@SETTINGS
@given(st.lists(FLOATS, max_size=200))
def test_float_column_choice_is_always_exact(path, xs):
    x = np.array(xs, dtype=np.float64)
    assert same_bits(codecs.decode_column(codecs.encode_float(x), x.size), x)


def test_negative_zero_is_not_put_on_the_grid():
    x = np.array([1.25, -0.0, 2.5])
    assert codecs.grid_exponent(x) is None
    assert same_bits(codecs.decode_column(codecs.encode_float(x), 3), x)


def test_grid_beats_xor_on_cent_prices():
    rng = np.random.default_rng(5)
    p = np.round(100 + np.cumsum(rng.normal(0, 0.02, 8192)), 2)
    assert len(codecs.encode_float(p)) < len(codecs.encode_xor(p)) / 3


# ---------------------------------------------------------------- malformed input
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 50))
def test_decoding_garbage_raises_only_codec_error(data, n):
    with contextlib.suppress(codecs.CodecError):
        codecs.decode_column(data, n)


def test_unknown_codec_id_is_named():
    with pytest.raises(codecs.CodecError, match="unknown codec id 99"):
        codecs.decode_column(bytes([99, 0, 0]), 1)


@SETTINGS
@given(st.lists(I64, max_size=300))
def test_timestamp_column_round_trip_whichever_codec_wins(path, xs):
    ts = np.array(xs, dtype=np.int64)
    data = codecs.encode_timestamps(ts)
    assert len(data) <= min(len(codecs.encode_ts(ts)), len(codecs.encode_int(ts)))
    assert np.array_equal(codecs.decode_column(data, ts.size), ts)


def test_int_pack_modes_are_chosen_by_width():
    sorted_ts = np.cumsum(np.full(100, 1_000_003, dtype=np.int64))
    sorted_ts[::10] += 5
    assert codecs.encode_int(sorted_ts)[1] == 2  # deltas minus their minimum: 3 bits
    walk = np.cumsum(np.random.default_rng(1).integers(-3, 4, 100)) + 10**12
    assert codecs.encode_int(walk)[1] == 1  # small signed steps
    lots = np.random.default_rng(2).integers(1, 1_000, 100)
    assert codecs.encode_int(lots)[1] == 0  # independent small values
    for v in (sorted_ts, walk, lots):
        assert np.array_equal(codecs.decode_int(codecs.encode_int(v), v.size), v)


def test_a_bucket_table_of_ones_own_round_trips_and_a_narrow_one_shows_it():
    from labsupport.tsdb.codecs import CodecError, decode_ts
    from labsupport.tsdb.gorilla import encode_ts_with_widths

    rng = np.random.default_rng(44)
    print("seed", 44)
    ts = 1_700_000_000 * 10**9 + np.cumsum(rng.integers(0, 10**9, 5_000))
    wide = encode_ts_with_widths(ts, (20, 26, 28, 30, 64), order=1)
    assert np.array_equal(decode_ts(wide, ts.size), ts)
    narrow = encode_ts_with_widths(ts, (0, 7, 9, 12, 20), order=1)  # 20 bits cannot hold 1e9 ns
    assert not np.array_equal(decode_ts(narrow, ts.size), ts)
    with pytest.raises(CodecError, match="five widths"):
        encode_ts_with_widths(ts, (30, 20, 10, 5, 64))
