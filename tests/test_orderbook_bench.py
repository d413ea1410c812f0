"""The benchmark's workloads are what they claim to be, and its numbers are computed from what
it measured (no timing assertions: the clocks are injected where a rate is checked)."""

from __future__ import annotations

import itertools

import pytest

from labsupport.orderbook import MatchingEngine
from labsupport.orderbook.bench import (
    BenchSizes,
    build_report,
    depth_rows,
    engine_candidates,
    flow_rows,
    id_kinds,
    op_latencies,
    reference_ratio,
    text_rows,
    throughput,
)
from labsupport.orderbook.checks import check_invariants
from labsupport.orderbook.fifo_bench import fifo_designs


def ticking(step_ns: int):
    """A fake clock that advances ``step_ns`` every time it is read."""
    counter = itertools.count(0, step_ns)
    return lambda: next(counter)


def test_depth_workload_keeps_the_depth_it_claims():
    prefill, stream = depth_rows(50, 3000)
    eng = MatchingEngine(pnl=False)
    eng.process_rows(prefill)
    book = eng.book(0)
    assert len(book.bid_levels) == len(book.ask_levels) == 50
    assert eng.live_order_count == 8 * 50
    eng.process_rows(stream)
    check_invariants(eng)
    assert eng.reject_count == 0 and eng.trade_count == 0  # pure add/cancel, never crosses
    assert 50 <= len(book.bid_levels) <= 100


def test_queue_workload_has_the_queues_it_claims():
    prefill, stream = depth_rows(5, 2000, per_level=30)
    eng = MatchingEngine(pnl=False)
    eng.process_rows(prefill)
    assert {lv.orders for lv in eng.l2_snapshot(0, None).bids} == {30}
    eng.process_rows(stream)
    check_invariants(eng)


def test_throughput_rates_are_events_processed_over_the_measured_time():
    """With clocks that advance 1 ms (wall) and 2 ms (CPU) per reading, every run measures
    exactly one interval: the rates are len(rows) / 1 ms and len(rows) / 2 ms."""
    rows = flow_rows(3000)
    res = throughput(rows, {"a": lambda: MatchingEngine(pnl=False),
                            "b": lambda: MatchingEngine(pnl=True)}, repeats=3,
                     clock=ticking(1_000_000), cpu_clock=ticking(2_000_000))
    for r in res.values():
        assert r["runs"] == 3 and r["events"] == len(rows)
        assert r["median"] == r["best"] == pytest.approx(len(rows) / 1e-3)
        assert r["cpu_median"] == pytest.approx(len(rows) / 2e-3)


def test_throughput_refuses_a_candidate_that_skips_events():
    rows = flow_rows(500)

    class Flaky:
        calls = 0

        def process_rows(self, rows):
            Flaky.calls += 1
            return len(rows) - (Flaky.calls == 2)

    with pytest.raises(RuntimeError, match="processed"):
        throughput(rows, {"flaky": Flaky}, repeats=3)


def test_ratios_are_computed_from_the_measured_rates():
    rows = flow_rows(2000)
    ref = reference_ratio(rows[:500], repeats=1)
    assert ref["events"] == 500
    assert ref["speedup"] == pytest.approx(ref["engine_ev_s"] / ref["reference_ev_s"])
    ids = id_kinds(rows, repeats=1)
    assert ids["events"] == ids["text_events"] == len(rows)
    assert ids["text_vs_int"] == pytest.approx(ids["text_ev_cpu_s"] / ids["int_ev_cpu_s"])


def test_text_rows_are_the_same_flow_with_text_ids_and_the_same_outcome():
    rows = flow_rows(4000)
    text = text_rows(rows)
    assert [r[3] for r in text[:3]] == [f"o{r[3]}" for r in rows[:3]]
    assert all(isinstance(r[3], str) and isinstance(r[8], str) for r in text)
    a, b = MatchingEngine(), MatchingEngine()
    assert a.process_rows(rows) == b.process_rows(text) == len(rows)
    assert (a.trade_count, a.reject_count, a.live_order_count) == \
        (b.trade_count, b.reject_count, b.live_order_count)
    assert {(f"acc{v.account}", v.symbol): (v.position, v.total_pnl_ticks) for v in a.pnl()} \
        == {(v.account, v.symbol): (v.position, v.total_pnl_ticks) for v in b.pnl()}


def test_latency_workload_splits_the_flow_into_the_operations_it_names():
    rows = flow_rows(3000)
    recs = op_latencies(rows, sweeps=20, sweep_levels=3)
    adds = sum(1 for r in rows if r[2] == 0)
    assert recs["add (rests)"].count + recs["marketable order"].count == adds
    assert 0 < recs["cancel"].count <= sum(1 for r in rows if r[2] == 1)
    assert recs["sweep 3 levels"].count == 20


def test_fifo_designs_measures_both_designs_over_the_same_script():
    """ns per operation is the best run's elapsed time over the script's length, for both."""
    res = fifo_designs(5000, clock=ticking(1_000_000))
    assert res == {"deque + lazy deletion": 1e6 / 5000, "intrusive linked list": 1e6 / 5000}


def test_the_report_has_one_row_per_measurement_with_the_input_sizes():
    sizes = BenchSizes(events=2000, repeats=1, reference_events=300, sweeps=5, fifo_ops=500,
                       snapshot_depth=20, snapshots=10, depths=[5, 10], depth_events=300,
                       queue_lengths=[1, 4], queue_events=300)
    report = build_report(sizes)
    rows = {r["name"]: r for r in report.rows}
    flow = [r for r in report.rows if r["section"] == "throughput on generated flow"]
    assert [r["name"] for r in flow] == [f"flow {n}" for n in engine_candidates()]
    assert all(r["events"] == 2000 for r in flow)
    ids = rows["flow engine+pnl, text ids vs int ids"]
    assert ids["events"] == 2000
    assert ids["text_vs_int"] == pytest.approx(
        ids["text_ev_per_cpu_s"] / ids["int_ev_per_cpu_s"], abs=2e-3)
    ref = rows["flow engine vs reference"]
    assert ref["events"] == 300
    assert rows["latency sweep 5 levels"]["count"] == 5
    assert {r["name"] for r in report.rows if r["section"] == "cost against book depth"} == {
        f"depth {d} {ladder}" for d in (5, 10)
        for ladder in ("sorted-list", "heap", "sortedcontainers")}
    assert [r["live_orders"] for r in report.rows
            if r["section"] == "cost against queue length"] == [2 * 20 * 1, 2 * 20 * 4]
    assert all(r["count"] == 10 for r in report.rows if r["section"] == "L2 snapshot cost")


@pytest.mark.parametrize("argv", [["--events", "x"], ["--repeats", "0"], ["--bogus"]])
def test_bench_command_line_refuses_bad_arguments_with_one_line(argv, capsys):
    from labsupport.orderbook.bench import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert err.startswith("python -m labsupport.orderbook.bench: error: ")
