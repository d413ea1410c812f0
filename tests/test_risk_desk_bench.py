"""The desk (orders through the checks into Lab 02's matching engine, fills and marks back), the
plots and the limits explorer built headless, and the benchmark's rows at a tiny size."""

from __future__ import annotations

import pytest

from labsupport.risk import bench, explore, parse_limits
from labsupport.risk.desk import DESK_LIMITS, run_desk
from labsupport.risk.reference import differences
from labsupport.risk.report import run


@pytest.fixture(scope="module")
def desk():
    return run_desk(120, seed=3)


def test_desk_fills_come_from_the_book_and_replay_to_the_same_decisions(desk) -> None:
    fills = [e for e in desk.events if e.kind == "fill"]
    assert desk.trades > 0 and len(fills) == 2 * desk.trades  # both sides of every trade
    assert desk.risk.unknown_fills == 0  # every fill is of an order the checks accepted
    accepted = {d.order_id for d in desk.decisions if d.accepted}
    assert {e.order_id for e in fills} <= accepted
    replay = run(desk.events, DESK_LIMITS)
    assert replay.decisions == [d.row() for d in desk.decisions]
    assert replay.alerts == [a.row() for a in desk.risk.alerts]
    positions = {}
    for e in fills:  # the risk engine's positions are the book's trades, summed
        positions[(e.account, e.symbol)] = positions.get((e.account, e.symbol), 0) + e.side * e.qty
    for (acct, symbol), pos in positions.items():
        assert desk.risk.account(acct).position(symbol) == pos


def test_desk_stream_equals_the_reference(desk) -> None:
    assert differences(desk.events[:90], parse_limits(DESK_LIMITS)) == []


def test_plots_and_the_limits_explorer_build_headless(desk) -> None:
    for fig in (explore.plot_equity_drawdown(desk), explore.plot_var(desk, "t1"),
                explore.plot_alert_timeline(desk)):
        assert fig.axes and fig.axes[0].get_title()
    tight = explore.desk_summary(n_rounds=80, price_collar_pct=0.5)
    loose = explore.desk_summary(n_rounds=80, price_collar_pct=15)
    assert tight["decisions"].get("price_collar", 0) > loose["decisions"].get("price_collar", 0)
    assert "drawdown_limit = 1234" in explore.limits_text(drawdown_limit=1234)
    box = explore.limits_explorer(n_rounds=40)
    assert len(box.children) == 3


def test_var_backtest_shows_the_historical_window_lagging_a_volatility_jump() -> None:
    bt = explore.var_backtest(n=2000, seed=1)
    rows = bt["exceed_pct"]
    assert rows["after the jump"]["historical"] > rows["calm"]["historical"]
    assert 2 < rows["calm"]["historical"] < 8
    assert explore.plot_var_backtest(bt).axes


def test_bench_rows_at_a_tiny_size() -> None:
    sizes = bench.BenchSizes(events=3_000, accounts=10, symbols=20, repeats=1, var_updates=500,
                             scratch_updates=20)
    report = bench.build_report(sizes)
    by_name = {r["name"]: r for r in report.rows}
    for kind in ("numba", "python"):  # the compiled engine judged, the Python one beside it
        tp = by_name[f"{kind} engine, 10 accounts x 20 symbols"]
        assert tp["events"] == 3_000 and tp["ev_per_s_best"] > 0
        assert tp["verdict"] in ("met", "MISSED")
    assert by_name["python engine, 10 accounts x 20 symbols"]["vs_python"] == 1
    chain = by_name["pre-trade chain"]
    assert chain["count"] == by_name["decisions"]["orders"] > 0
    assert chain["p50_ns"] <= chain["p99_ns"]
    var = by_name["historical VaR update, window 250"]
    assert var["incremental_ns"] > 0 and var["numpy_percentile_ns"] > 0
    assert var["sorted_window_ns"] > 0
    assert by_name["decisions"]["holders_per_mark"] > 0
    for how in ("python, one call per mark", "numba, batch", "numba, one call per mark"):
        assert [by_name[f"mark, {h} holders, {how}"]["ns_per_mark"] > 0
                for h in (1, 10, 40)] == [True] * 3
    assert "FPGA pre-trade appliance (published)" in by_name


def test_bench_command_line_rejects_a_bad_size(capsys) -> None:
    with pytest.raises(SystemExit) as info:  # argparse's usage error, the convention's exit 2
        bench.main(["--events", "zero"])
    assert info.value.code == 2
    assert "--events" in capsys.readouterr().err
