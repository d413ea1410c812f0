"""Lab 12 tick-level fills: queue position in Lab 02's and Lab 11's books, the market maker, the explorers."""

from __future__ import annotations

import numpy as np
import pytest

from labsupport.backtest import ParamError, sample_bars, venues
from labsupport.backtest.explore import overfit_view, sma_explorer, sma_view
from labsupport.backtest.ticks import ACCOUNT, MarketMaker, run_market_maker
from labsupport.fastbook import cython_available
from labsupport.marketdata import OrderFlowConfig, generate_order_flow
from labsupport.orderbook import BUY, LIMIT, MARKET, SELL, MatchingEngine


def test_a_passive_order_fills_only_after_the_queue_ahead_of_it():
    eng = MatchingEngine(pnl=True)
    eng.add("X", 1, BUY, LIMIT, 10_000, 300, 7)  # 300 shares queued first at 100.00
    eng.add("X", "mm1", BUY, LIMIT, 10_000, 100, ACCOUNT)  # we join behind them
    eng.add("X", 2, SELL, MARKET, 0, 299, 8)
    assert eng.position(ACCOUNT, "X").position == 0  # 1 share still ahead of us
    eng.add("X", 3, SELL, MARKET, 0, 51, 8)
    assert eng.position(ACCOUNT, "X").position == 50 and eng.is_live("mm1")


@pytest.fixture(scope="module")
def flow():
    print("seed 31")
    return generate_order_flow(OrderFlowConfig(n_events=40_000, n_symbols=1, seed=31))


def test_market_maker_fills_passively_and_respects_its_inventory_limit(flow):
    maker = MarketMaker(qty=100, max_position=300, requote_every=25)
    r = run_market_maker(flow.events, 0, maker)
    assert r.events == len(flow.events) and r.fills > 10 and r.shares >= r.fills
    assert np.abs(r.inventory).max() <= 300 + 100  # one quote's fill may land before the requote
    assert r.seq.size == r.pnl.size and np.all(np.diff(r.seq) > 0)
    again = run_market_maker(flow.events, 0, MarketMaker(qty=100, max_position=300, requote_every=25))
    assert (again.fills, again.position, again.realized_pnl) == (r.fills, r.position, r.realized_pnl)


def test_requoting_less_often_changes_the_fills(flow):
    fast = run_market_maker(flow.events, 0, MarketMaker(requote_every=10))
    slow = run_market_maker(flow.events, 0, MarketMaker(requote_every=500))
    assert fast.quotes > slow.quotes and fast.fills != slow.fills


def _outcome(r):
    return (r.events, r.fills, r.shares, r.quotes, r.position, r.realized_pnl, r.unrealized_pnl,
            r.seq.tolist(), r.pnl.tolist(), r.inventory.tolist(), r.bid_ahead.tolist(),
            r.ask_ahead.tolist())


@pytest.mark.parametrize("backend", ["cython", "numba"])
@pytest.mark.parametrize("seed", [3, 17, 58])
def test_compiled_book_gives_lab02s_fills_queue_positions_and_pnl(seed, backend):
    if backend == "cython" and not cython_available():
        pytest.skip("Lab 11's Cython extension is not built")
    print(f"seed {seed}")
    events = generate_order_flow(OrderFlowConfig(n_events=15_000, n_symbols=2, seed=seed)).events
    for symbol in (0, 1):
        maker = dict(qty=100, max_position=300, requote_every=7 + seed % 20)
        ref = run_market_maker(events, symbol, MarketMaker(**maker), engine="python")
        fast = run_market_maker(events, symbol, MarketMaker(**maker), engine=backend)
        assert ref.engine == "python" and fast.engine == backend and ref.fills > 0
        assert _outcome(fast) == _outcome(ref)  # every fill, every mark: the same queue positions
        assert (ref.bid_ahead > 0).sum() > 10  # the quotes really waited behind others


def _market(rows):
    """Structured market events (the generator's dtype) from (action, id, side, type, price, qty)."""
    from labsupport.marketdata import EVENT_DTYPE

    ev = np.zeros(len(rows), EVENT_DTYPE)
    for i, (action, oid, side, otype, price, qty) in enumerate(rows):
        ev[i] = (i + 1, i, 0, action, oid, side, otype, price, qty, 7)
    return ev


@pytest.mark.parametrize("engine", ["python", "cython", "numba"])
def test_venue_queue_position_leaves_and_state(engine):
    """Join a level behind 300 shares: the queue position counts them down as market sells
    trade, the order fills only after them, and the account's state follows the fill."""
    if engine == "cython" and not cython_available():
        pytest.skip("Lab 11's Cython extension is not built")
    ev = _market([(0, 1, BUY, LIMIT, 10_000, 200), (0, 2, BUY, LIMIT, 10_000, 100),
                  (0, 3, SELL, MARKET, 0, 250), (0, 4, SELL, MARKET, 0, 100)])
    v = venues.make_venue(ev, 0, ACCOUNT, engine)
    v.feed(0, 2)
    assert v.state() == (0, 0.0, 0.0)
    assert v.add("q1", BUY, 10_000, 100, 2) and v.is_live("q1")
    assert v.queue_position("q1") == (2, 300)
    v.feed(2, 3)  # 250 sold: order 1 filled, 50 of order 2
    assert v.queue_position("q1") == (1, 50) and v.state()[0] == 0
    v.feed(3, 4)  # 100 more: the last 50 ahead, then 50 of ours
    assert v.queue_position("q1") == (0, 0) and v.is_live("q1")
    assert v.state() == (50, 0.0, 10_000.0) and v.passive_fills() == (1, 50)
    v.cancel("q1", 5)
    assert not v.is_live("q1") and v.queue_position("q1") is None


def test_fast_venue_falls_back_to_lab02_positions_when_the_kernel_pnl_gives_up(flow):
    """The kernel's int64 PnL switched off (as on an overflow): the state comes from the
    engine's exact replay of every trade, the same numbers."""
    from labsupport.fastbook.layout import M_PNL

    if not cython_available():
        pytest.skip("Lab 11's Cython extension is not built")
    outcomes = []
    for give_up in (False, True):
        v, maker = venues.make_venue(flow.events, 0, ACCOUNT, "cython"), MarketMaker(requote_every=40)
        for k, seq in enumerate(v.replay(40)):
            if give_up and k == 200:
                v.engine.meta[M_PNL] = 0
            maker.requote(v, v.state()[0], seq)
        outcomes.append((v.state(), v.passive_fills()))
    assert outcomes[0] == outcomes[1] and outcomes[0][1][0] > 0


def test_auto_engine_is_cython_when_built_else_lab02(flow, monkeypatch):
    auto = run_market_maker(flow.events[:3000], 0)
    assert auto.engine == ("cython" if cython_available() else "python")
    monkeypatch.setattr("labsupport.fastbook.cython_available", lambda: False)
    assert run_market_maker(flow.events[:3000], 0).engine == "python"
    with pytest.raises(ParamError, match="unknown book engine 'rust'"):
        venues.make_venue(flow.events, 0, ACCOUNT, "rust")


def test_market_maker_parameters_are_checked():
    with pytest.raises(ParamError, match="max_position >= qty"):
        MarketMaker(qty=100, max_position=50)


def test_explorers_run_headless():
    bars = sample_bars(seed=3, days=6, ticks_per_day=3_000)["ACME"]
    fig, table = sma_view(bars, 8, 8)  # slow nudged above fast
    assert "sma_cross(fast=8,slow=9)" in fig.axes[0].get_title()
    assert "sharpe" in table.index
    widget = sma_explorer(bars)
    assert len(widget.children) == 2
    df = overfit_view(bars, grid={"fast": [5, 10], "slow": [20, 40]})
    assert len(df) == 4 and list(df.rank_in_sample) == [1, 2, 3, 4]
    assert set(df.columns) >= {"in_sample", "out_of_sample", "rank_out_of_sample"}
