"""Lab 12: a backtester over bars and ticks, with a Dask sweep, checked against backtrader.

Modules, in the order data flows: errors.py, bars.py (the Bars series and its checks),
sources.py (CSV, partitioned Parquet read lazily, Lab 08's store, the generator), indicators.py
(exact SMA, backtrader's crossover), strategies.py, costs.py, engine.py (event-driven),
vector.py (vectorised, numba), result.py (fills -> trades and equity), stats.py, venues.py (the
simulated book: Lab 11's compiled engine or Lab 02's), ticks.py (tick-level fills, the market
maker), sweep.py (Dask), rayrun.py (Ray, the optional second backend), report.py (tear sheets,
HTML), peers.py (backtrader, backtesting.py, vectorbt), outofcore.py (the full-scale streaming
run); then __main__.py, bench.py, explore.py.

    from labsupport.backtest import load_bars, make_strategy, EventEngine, VectorEngine
    bars = load_bars("data/bt")["ACME"]
    result = VectorEngine().run(make_strategy("sma_cross", {"fast": 10, "slow": 30}), bars)
    compute_stats(result); result.trades
"""

from .bars import Bars, bars_from_frame, resample_ticks
from .costs import Costs
from .engine import START_CASH, Context, EventEngine
from .errors import BacktestError, DataError, ParamError
from .indicators import crossover, rolling_sum, sma
from .result import TRADE_COLUMNS, RunResult, make_result, round_trips
from .sources import (
    bars_from_tickdb,
    generate_dataset,
    iter_tick_chunks,
    layout,
    load_bars,
    load_symbol,
    memory_trace,
    sample_bars,
    symbols,
)
from .stats import STAT_NAMES, compute_stats, daily_returns, stats_table
from .strategies import STRATEGIES, BarStrategy, Breakout, SmaCross, ZScoreReversion, make_strategy
from .sweep import SweepTask, make_tasks, parse_grid, run_sweep
from .vector import ENGINES, VectorEngine

__all__ = [
    "ENGINES", "START_CASH", "STAT_NAMES", "STRATEGIES", "TRADE_COLUMNS",
    "BacktestError", "BarStrategy", "Bars", "Breakout", "Context", "Costs", "DataError", "EventEngine",
    "ParamError", "RunResult", "SmaCross", "SweepTask", "VectorEngine", "ZScoreReversion",
    "bars_from_frame", "bars_from_tickdb", "compute_stats", "crossover", "daily_returns",
    "generate_dataset", "iter_tick_chunks", "layout", "load_bars", "load_symbol", "make_result",
    "make_strategy", "make_tasks", "memory_trace", "parse_grid", "resample_ticks", "rolling_sum", "round_trips", "sample_bars",
    "run_sweep", "sma", "stats_table", "symbols",
]  # fmt: skip
