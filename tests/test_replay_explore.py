"""Lab 09 explorer and benchmark, headless and tiny: they run and return what they claim."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from labsupport.replay import bench, explore  # noqa: E402


def test_error_table_summarises_one_short_replay() -> None:
    table, rec = explore.error_table("spin", 20_000, n=200)
    assert table.loc["spin", "messages"] == 200 and rec.count == 200
    assert table.loc["spin", "p50_us"] <= table.loc["spin", "p99_us"] <= table.loc["spin", "max_us"]


def test_show_errors_and_the_explorer_build_headless() -> None:
    assert list(explore.show_errors("sleep", 10_000, n=100).index) == ["sleep"]
    box = explore.replay_explorer(n=50)
    assert len(box.children) == 2


def test_bench_flat_out_and_udp_rates_are_positive() -> None:
    data = bench._day(500)
    assert bench.flat_out(data, "callback") > 0 and bench.flat_out(data, "book") > 0
    pps, packets = bench.udp_rate(data)
    assert pps > 0 and packets == sum(1 for _ in bench.ItchSource(data))


def test_gap_profile_and_drift_demo_are_exact() -> None:
    from labsupport.measure.paths import REPO_DIR
    from labsupport.replay import ItchSource
    from labsupport.replay.explore import drift_demo, gap_profile

    SAMPLE = REPO_DIR / "data" / "protocols" / "sample_day.itch"

    g = gap_profile(ItchSource(SAMPLE))
    assert g.index[0] == 3099 and g["backward_steps"].iloc[0] == 6
    d = drift_demo(n=1_000, gap_ns=100_000, oversleep_ns=50_000)
    assert d["last_message_late_ms"].tolist() == [999 * 0.05, 0.05]


def test_naive_vs_absolute_and_the_stalled_consumer_run() -> None:
    t = explore.naive_vs_absolute(rate=20_000, n=100)
    assert len(t) == 2 and (t["p50_us"] >= 0).all()
    table, err = explore.stalled_consumer(rate=20_000, n=300, every=100, stall_ms=1.0)
    assert table["messages"].iloc[0] == 300 and len(err) == 300
    assert table["late_over_100us"].iloc[0] >= 2  # each stall makes the messages due during it late
