"""The latency recorder, units and summary tables: exact percentiles, growth, formatting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.measure import LatencyRecorder, choose_unit, fmt_ns, fmt_rate, summary_table


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 7, 1000, 100_001])
def test_percentiles_are_exact_against_numpy(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.lognormal(mean=9, sigma=1.5, size=n).astype(np.int64)
    rec = LatencyRecorder("r", capacity=16)  # forces several doublings
    for chunk in np.array_split(data, 5):
        rec.record_many(chunk)
    s = rec.summary()
    expect = np.percentile(data, [50, 90, 99, 99.9], method="inverted_cdf")
    assert [s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns] == list(expect)
    assert (s.count, s.min_ns, s.max_ns) == (n, data.min(), data.max())
    assert s.mean_ns == pytest.approx(data.mean())
    # Nearest rank: every reported percentile is a latency that was observed.
    assert set(expect) <= set(data.tolist())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=300),
       st.floats(min_value=0, max_value=100))
def test_any_percentile_matches_numpy(values: list[int], p: float) -> None:
    rec = LatencyRecorder("r", capacity=1)
    for v in values:
        rec.record(v)
    assert rec.percentile(p) == np.percentile(np.array(values), p, method="inverted_cdf")


def test_single_records_and_bulk_agree_and_keep_order() -> None:
    a, b = LatencyRecorder("a", capacity=2), LatencyRecorder("b")
    values = [5, 3, 9, 1, 7]
    for v in values:
        a.record(v)
    b.record_many(values)
    assert a.values().tolist() == b.values().tolist() == values
    assert a.count == len(a) == 5


def test_values_view_is_read_only() -> None:
    rec = LatencyRecorder.from_array("x", [1, 2, 3])
    with pytest.raises(ValueError):
        rec.values()[0] = 10


def test_time_context_records_one_sample() -> None:
    rec = LatencyRecorder("t")
    with rec.time():
        sum(range(1000))
    assert rec.count == 1 and rec.values()[0] > 0


def test_empty_recorder_errors_clearly() -> None:
    with pytest.raises(ValueError, match="no samples"):
        LatencyRecorder("empty").summary()
    with pytest.raises(ValueError, match="capacity"):
        LatencyRecorder("bad", capacity=0)


def test_rate_uses_elapsed_time() -> None:
    rec = LatencyRecorder.from_array("x", np.full(500, 1000))
    assert rec.summary(elapsed_s=0.5).rate_per_s == pytest.approx(1000.0)
    assert rec.summary().rate_per_s is None


@pytest.mark.parametrize(
    ("values", "unit"),
    [([10, 500], "ns"), ([2_000, 900_000], "µs"), ([3e6, 8e6], "ms"), ([2e9], "s"), ([], "ns")],
)
def test_unit_follows_the_typical_value(values: list[float], unit: str) -> None:
    assert choose_unit(values)[0] == unit


@pytest.mark.parametrize(
    ("ns", "text"),
    [(12_345, "12.3 µs"), (999, "999 ns"), (1_500_000, "1.50 ms"), (0, "0 ns")],
)
def test_fmt_ns(ns: float, text: str) -> None:
    assert fmt_ns(ns) == text


def test_fmt_rate() -> None:
    assert fmt_rate(1_234_567) == "1.23 M/s"
    assert fmt_rate(45_600) == "45.6 k/s"


def test_summary_table_one_unit_and_ratios() -> None:
    fast = LatencyRecorder.from_array("fast", np.arange(1, 1001) * 1_000)
    slow = LatencyRecorder.from_array("slow", np.arange(1, 1001) * 3_000)
    table = summary_table([fast, slow], baseline="fast")
    assert "p50 (ms)" in table.columns  # median of the p50s is 1 ms
    assert table.loc["fast", "×p50"] == 1.0
    assert table.loc["slow", "×p50"] == pytest.approx(3.0)
    with pytest.raises(KeyError):
        summary_table([fast], baseline="nope")
