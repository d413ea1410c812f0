"""Lab 12 engines: event-driven == vectorised, both == backtrader, backtesting.py and vectorbt, fills, stats."""

from __future__ import annotations

import numpy as np
import pytest

from labsupport.backtest import (
    Costs,
    EventEngine,
    ParamError,
    VectorEngine,
    compute_stats,
    daily_returns,
    make_strategy,
    peers,
    sample_bars,
    sma,
)
from labsupport.backtest.indicators import _exact_rolling_sum_py, crossover

SEEDS = [1, 2, 3]
CASES = [("sma_cross", {"fast": 10, "slow": 30}), ("sma_cross", {"fast": 5, "slow": 60}),
         ("zscore", {"window": 30, "entry": 1.5}), ("breakout", {"window": 30, "exit_window": 15})]


@pytest.fixture(scope="module")
def series():
    """Three generated series of minute bars over four sessions (about 1,560 bars each)."""
    return {seed: sample_bars(seed=seed, days=4, ticks_per_day=10_000)["ACME"] for seed in SEEDS}


def test_sma_equals_math_fsum_of_each_window_like_backtrader():
    rng = np.random.default_rng(7)
    print("seed 7")
    x = np.round(50 + np.cumsum(rng.normal(0, 0.05, 2_000)), 2)  # cent grid: ties are common
    for n in (2, 10, 33, 200):
        assert np.array_equal(sma(x, n), _exact_rolling_sum_py(x, n) / n, equal_nan=True)


def test_crossover_is_backtraders_rule_with_ties():
    a = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 2.0, 3.0])
    b = np.array([2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    # below, below, tie, tie, tie (still "last below"), below, tie, above -> +1 only at the end
    assert crossover(a, b).tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert crossover(b, a).tolist() == [0, 0, 0, 0, 0, 0, 0, -1]


@pytest.mark.parametrize("name, params", CASES, ids=[f"{n}-{'-'.join(map(str, p.values()))}" for n, p in CASES])
@pytest.mark.parametrize("seed", SEEDS)
def test_event_and_vectorised_engines_are_identical(series, name, params, seed):
    bars = series[seed]
    costs = Costs(fee_bps=2.0, slippage_bps=1.0)
    strat = make_strategy(name, params, size=50)
    e = EventEngine(costs=costs).run(strat, bars)
    v = VectorEngine(costs=costs).run(strat, bars)
    assert len(e.fills) > 4
    assert np.array_equal(e.fills, v.fills)
    assert np.array_equal(e.equity, v.equity)
    assert e.trades.equals(v.trades)


PEER_RUNS = {"backtrader": (peers.run_backtrader, "pip install backtrader"),
             "vectorbt": (peers.run_vectorbt, "pip install vectorbt, the heavy extra")}


@pytest.mark.timeout(300)  # vectorbt compiles its kernels on its first call
@pytest.mark.parametrize("peer, seed, fee_bps", [("backtrader", 1, 0.0), ("backtrader", 2, 0.0), ("backtrader", 3, 5.0),
                                                 ("vectorbt", 1, 0.0), ("vectorbt", 3, 5.0)])
def test_sma_cross_fills_and_final_value_equal_backtraders_and_vectorbts(series, peer, seed, fee_bps):
    run, pip = PEER_RUNS[peer]
    if not peers.available()[peer]:
        pytest.skip(f"{peer} is not installed ({pip}): differential test skipped")
    bars = series[seed]
    ours = VectorEngine(costs=Costs(fee_bps=fee_bps)).run(make_strategy("sma_cross", {"fast": 10, "slow": 30}), bars)
    theirs = run(bars, 10, 30, size=100, fee_bps=fee_bps)
    assert len(ours.fills) > 10
    assert peers.our_fills(ours) == theirs.fills
    assert ours.final_equity == pytest.approx(theirs.final_equity, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS[:1])
def test_sma_cross_equals_backtesting_py(series, seed):
    if not peers.available()["backtesting.py"]:
        pytest.skip("backtesting.py is not installed (pip install backtesting): differential test skipped")
    bars = series[seed]
    ours = VectorEngine(costs=Costs(fee_bps=1.0)).run(make_strategy("sma_cross", {"fast": 10, "slow": 30}), bars)
    theirs = peers.run_backtesting(bars, 10, 30, size=100, fee_bps=1.0)
    assert peers.our_fills(ours) == theirs.fills
    assert ours.final_equity == pytest.approx(theirs.final_equity, rel=1e-12)


def test_fill_convention_signal_on_close_fill_at_next_open(series):
    bars = series[1]
    strat = make_strategy("sma_cross", {"fast": 10, "slow": 30})
    r = EventEngine().run(strat, bars)
    entry, exit_ = strat.signals(bars)
    signal_bars = np.flatnonzero(entry | exit_)
    for f in r.fills:
        assert f["bar"] - 1 in signal_bars  # decided on the previous bar's close ...
        assert f["price"] == bars.open[f["bar"]]  # ... filled at this bar's open
    assert r.fills["side"][0] == 1 and np.all(np.diff(r.fills["side"]) != 0)  # long, flat, long...


def test_an_open_trade_at_the_end_has_empty_exit_fields(series):
    bars = series[2]
    strat = make_strategy("sma_cross", {"fast": 10, "slow": 30})
    full = VectorEngine().run(strat, bars)
    entries = full.fills["bar"][full.fills["side"] == 1]
    cut = bars.slice(0, int(entries[-1]) + 3)  # stop three bars into the last position
    r = VectorEngine().run(strat, cut)
    last = r.trades.iloc[-1]
    assert last.exit_ts is pd_na() and np.isnan(last.exit_price) and np.isnan(last.pnl)
    assert r.trades.iloc[:-1]["pnl"].notna().all()
    assert r.final_equity == pytest.approx(r.cash + r.trades.pnl.sum() + 100 * (cut.close[-1] - last.entry_price))


def pd_na():
    import pandas as pd
    return pd.NA


def test_a_buy_the_cash_cannot_pay_for_is_rejected_on_both_engines(series):
    bars = series[3]
    strat = make_strategy("sma_cross", {"fast": 10, "slow": 30}, size=100)
    price = float(bars.open.mean())
    e = EventEngine(cash=price * 100 * 0.999).run(strat, bars)  # just short of one position
    v = VectorEngine(cash=price * 100 * 0.999).run(strat, bars)
    assert np.array_equal(e.fills, v.fills)
    assert len(e.fills) < len(EventEngine().run(strat, bars).fills)


def test_latency_delays_fills_by_whole_bars_and_the_vector_path_refuses_it(series):
    bars = series[1]
    strat = make_strategy("sma_cross", {"fast": 10, "slow": 30})
    base = EventEngine().run(strat, bars)
    late = EventEngine(latency_ns=90 * 10**9).run(strat, bars)  # 1.5 bars: fill two bars later
    n = min(len(base.fills), len(late.fills)) // 2
    assert (late.fills["bar"][:n] - base.fills["bar"][:n] >= 2).all()
    with pytest.raises(ParamError, match="latency"):
        VectorEngine(latency_ns=1)


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ParamError, match="fast .* must be below slow"):
        make_strategy("sma_cross", {"fast": 30, "slow": 10})
    with pytest.raises(ParamError, match="unknown parameter speed"):
        make_strategy("sma_cross", {"speed": 3})
    with pytest.raises(ParamError, match="unknown strategy"):
        make_strategy("momentum")


def test_stats_agree_with_empyrical(series, monkeypatch):
    empyrical = pytest.importorskip("empyrical", reason="empyrical is not installed: stats check skipped")
    monkeypatch.setattr(np, "NINF", -np.inf, raising=False)  # empyrical 0.5.5 predates numpy 2
    bars = sample_bars(seed=9, days=30, ticks_per_day=1_500)["ACME"]
    r = VectorEngine(costs=Costs(fee_bps=1.0)).run(make_strategy("sma_cross", {"fast": 5, "slow": 20}), bars)
    s = compute_stats(r)
    ret = daily_returns(r)
    assert len(ret) >= 30  # the bursty tick clock runs a few sessions past the plan
    checks = {"cagr": empyrical.cagr(ret), "volatility": empyrical.annual_volatility(ret),
              "sharpe": empyrical.sharpe_ratio(ret), "sortino": empyrical.sortino_ratio(ret),
              "max_drawdown": empyrical.max_drawdown(ret), "calmar": empyrical.calmar_ratio(ret)}
    for k, want in checks.items():
        assert s[k] == pytest.approx(want, rel=1e-9), k
    assert s["total_return"] == pytest.approx(empyrical.cum_returns_final(ret), rel=1e-9)
    closed = r.trades.pnl.dropna()
    assert s["hit_rate"] == pytest.approx((closed > 0).mean())
    assert s["exposure"] == pytest.approx(np.mean(r.position != 0))
    assert 0 < s["exposure"] < 1 and s["max_dd_days"] >= 1
