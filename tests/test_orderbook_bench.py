"""The benchmark's workloads are what they claim to be (no timing assertions here)."""

from __future__ import annotations

from labsupport.orderbook import MatchingEngine
from labsupport.orderbook.bench import depth_rows, flow_rows, op_latencies, throughput
from labsupport.orderbook.checks import check_invariants


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


def test_throughput_and_latency_run_on_a_small_flow():
    rows = flow_rows(3000)
    res = throughput(rows, {"a": lambda: MatchingEngine(pnl=False)}, repeats=2)
    assert res["a"]["runs"] == 2 and res["a"]["best"] >= res["a"]["median"] > 0
    recs = op_latencies(rows, sweeps=20, sweep_levels=3)
    assert recs["add (rests)"].count > 1000 and recs["cancel"].count > 500
    assert recs["sweep 3 levels"].count == 20


def test_queue_workload_has_the_queues_it_claims():
    prefill, stream = depth_rows(5, 2000, per_level=30)
    eng = MatchingEngine(pnl=False)
    eng.process_rows(prefill)
    assert {lv.orders for lv in eng.l2_snapshot(0, None).bids} == {30}
    eng.process_rows(stream)
    check_invariants(eng)


def test_fifo_designs_runs_both():
    from labsupport.orderbook.bench import fifo_designs

    res = fifo_designs(5000)
    assert set(res) == {"deque + lazy deletion", "intrusive linked list"}
    assert all(v > 0 for v in res.values())
