"""The depth / order-mix explorer: its workload has the mix it is asked for, its measurements
count what was replayed, and the widget and the plot build headless."""

from __future__ import annotations

import matplotlib
import pytest

from labsupport.orderbook import CANCEL, LIMIT, MARKET, MatchingEngine
from labsupport.orderbook.checks import check_invariants
from labsupport.orderbook.explore import measure_mix, mix_explorer, mix_rows, show_mix

matplotlib.use("Agg")


@pytest.mark.parametrize("cancel, market", [(40, 5), (0, 0), (20, 30), (0, 100)])
def test_the_stream_has_the_mix_it_is_asked_for(cancel, market):
    prefill, stream = mix_rows(50, cancel, market, 20_000, seed=3)
    assert len(prefill) == 2 * 50 * 4 and len(stream) == 20_000
    share = {kind: sum(1 for r in stream if kind(r)) / len(stream) * 100 for kind in (
        lambda r: r[2] == CANCEL, lambda r: r[5] == MARKET and r[2] != CANCEL)}
    got_cancel, got_market = share.values()
    assert abs(got_cancel - cancel) < 1.5 and abs(got_market - market) < 1.5
    passive = [r for r in stream if r[2] != CANCEL and r[5] == LIMIT]
    assert all(99_900 - 1 <= r[6] <= 100_100 + 1 for r in passive)  # within 2 * depth ticks


def test_passive_orders_never_cross_and_only_market_orders_trade():
    prefill, stream = mix_rows(20, 30, 0, 5000, seed=1)
    eng = MatchingEngine()
    eng.process_rows(prefill + stream)
    check_invariants(eng)
    assert eng.trade_count == 0 and eng.reject_count == 0


def test_measure_mix_reports_what_it_replayed():
    r = measure_mix(30, 40, 5, n_events=4000, repeats=2)
    assert r.events == 4000 and r.depth_levels == 30
    prefill, stream = mix_rows(30, 40, 5, 4000)
    eng = MatchingEngine()
    eng.process_rows(prefill)
    eng.process_rows(stream)
    assert (r.trades, r.rejects, r.live_orders_end) == (eng.trade_count, eng.reject_count,
                                                        eng.live_order_count)
    assert (r.bid_levels_end, r.ask_levels_end) == (len(eng.book(0).bid_levels),
                                                    len(eng.book(0).ask_levels))


def test_a_mix_of_only_market_orders_drains_the_book():
    r = measure_mix(10, 0, 100, n_events=200, repeats=1)
    assert r.trades == 80 and r.live_orders_end == 0  # 2 sides x 10 levels x 4 orders


@pytest.mark.parametrize("args", [(0, 10, 10, 100), (10, 70, 40, 100), (10, -1, 0, 100)])
def test_impossible_mixes_are_refused(args):
    with pytest.raises(ValueError):
        mix_rows(*args)


def test_show_mix_and_the_explorer_build_headless():
    table = show_mix(depth_levels=50, n_events=500)
    assert list(table.index) == [10, 30, 50, 100, 300, 1000]
    assert (table["trades"] > 0).all()
    box = mix_explorer(n_events=300)
    sliders = [c for row in box.children[:2] for c in row.children]
    assert [c.description for c in sliders] == ["depth", "cancel %", "market %", "ladder", "PnL"]
