"""The same SMA crossover in backtrader, backtesting.py and vectorbt, for differential tests and the bench.

Every peer is optional (backtrader and backtesting.py in the ``peers`` extra, vectorbt in
``heavy``): :func:`available` says which are installed and each runner raises
:class:`PeerMissing` (with the pip command) when its peer is absent.

- backtrader: ``bt.indicators.CrossOver`` of two ``bt.indicators.SMA``, ``buy(size)`` on +1
  when flat, ``close()`` on -1 when long; the default broker (market orders fill at the next
  bar's open), ``setcommission(commission=fee_bps / 1e4)``, starting cash as given.
- backtesting.py: its own ``Strategy`` and broker (market orders at the next open, commission as
  a fraction of notional). Its ``crossover`` helper and pandas' rolling mean decide ties
  differently from backtrader's, so the signals are handed in from our :mod:`.indicators`
  (backtrader's rule) through ``self.I``: what is compared is its broker's fills and PnL.
- vectorbt: ``vbt.Portfolio.from_signals``, long only, ``size`` shares a trade
  (``size_type="amount"``), ``fees`` as a fraction of notional. It fills a signal at the
  ``price`` of the bar where the signal stands, so the same convention is the signals shifted
  one bar and ``price=open``: a crossover at bar i's close becomes an order at bar i+1's open,
  and one on the last bar never fills. Signals are ours again (its ``MA`` is pandas'
  rolling mean, whose rounding decides exact ties differently). Its ``final_value`` sums cash
  flows in another order, so it equals ours to about 1e-12 relative, not bit for bit. Its
  first call compiles its numba kernels (tens of seconds; cached on disk after that).

Each runner returns :class:`PeerRun`: fills as (bar index, side, price), the final equity.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass

from .bars import Bars
from .indicators import crossover, sma


class PeerMissing(ImportError):
    """Raised when a peer framework is not installed."""


@dataclass(frozen=True)
class PeerRun:
    fills: list[tuple[int, int, float]]  # (bar, side, price)
    final_equity: float


def available() -> dict[str, bool]:
    return {name: importlib.util.find_spec(mod) is not None
            for name, mod in (("backtrader", "backtrader"), ("backtesting.py", "backtesting"),
                              ("vectorbt", "vectorbt"))}


def _need(mod: str, pip: str):
    if importlib.util.find_spec(mod) is None:
        raise PeerMissing(f"{pip} is not installed (pip install {pip})")
    return importlib.import_module(mod)


def run_backtrader(bars: Bars, fast: int, slow: int, size: float = 100, fee_bps: float = 0.0,
                   cash: float = 100_000.0) -> PeerRun:
    bt = _need("backtrader", "backtrader")
    fills: list[tuple[int, int, float]] = []

    class SmaCross(bt.Strategy):
        def __init__(self):
            self.x = bt.indicators.CrossOver(bt.indicators.SMA(self.data.close, period=fast),
                                             bt.indicators.SMA(self.data.close, period=slow))

        def notify_order(self, order):
            if order.status == order.Completed:
                fills.append((len(self.data) - 1, 1 if order.isbuy() else -1, order.executed.price))

        def next(self):
            if not self.position:
                if self.x[0] > 0:
                    self.buy(size=size)
            elif self.x[0] < 0:
                self.close()

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=bars.frame(), open="Open", high="High", low="Low",
                                        close="Close", volume="Volume", openinterest=None))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=fee_bps / 1e4)
    cerebro.run()
    return PeerRun(fills, float(cerebro.broker.getvalue()))


def run_backtesting(bars: Bars, fast: int, slow: int, size: float = 100, fee_bps: float = 0.0,
                    cash: float = 100_000.0) -> PeerRun:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # in Jupyter it warns at import that it set Bokeh's output
        _need("backtesting", "backtesting")
        from backtesting import Backtest, Strategy

    x = crossover(sma(bars.close, fast), sma(bars.close, slow)).astype(float)

    class SmaCross(Strategy):
        def init(self):
            self.x = self.I(lambda: x, name="crossover", plot=False)

        def next(self):
            if not self.position:
                if self.x[-1] > 0:
                    self.buy(size=int(size))
            elif self.x[-1] < 0:
                self.position.close()

    import backtesting.backtesting as engine_module

    bar = engine_module._tqdm  # its per-run progress bar would write to stderr on every run
    engine_module._tqdm = lambda seq, **_: seq
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its notices about index type and open trades at the end
            stats = Backtest(bars.frame(), SmaCross, cash=cash, commission=fee_bps / 1e4,
                             finalize_trades=False).run()
    finally:
        engine_module._tqdm = bar
    fills = []
    trades = stats["_trades"].sort_values("EntryBar")
    for t in trades.itertuples():
        fills.append((int(t.EntryBar), 1, float(t.EntryPrice)))
        fills.append((int(t.ExitBar), -1, float(t.ExitPrice)))
    strategy = stats["_strategy"]
    if strategy.position.size:  # still open at the end: backtesting.py lists it separately
        for t in strategy.trades:
            fills.append((int(t.entry_bar), 1, float(t.entry_price)))
    fills.sort()
    return PeerRun(fills, float(stats["Equity Final [$]"]))


def run_vectorbt(bars: Bars, fast: int, slow: int, size: float = 100, fee_bps: float = 0.0,
                 cash: float = 100_000.0) -> PeerRun:
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of its dependencies at import
        vbt = _need("vectorbt", "vectorbt")
        import pandas as pd

    x = crossover(sma(bars.close, fast), sma(bars.close, slow))
    entries, exits = np.r_[False, x[:-1] > 0], np.r_[False, x[:-1] < 0]  # act one bar later
    pf = vbt.Portfolio.from_signals(pd.Series(bars.close), entries, exits, price=pd.Series(bars.open),
                                    size=size, size_type="amount", fees=fee_bps / 1e4,
                                    init_cash=cash, direction="longonly")
    o = pf.orders.records_arr
    fills = [(int(i), 1 if side == 0 else -1, float(p))
             for i, side, p in zip(o["idx"].tolist(), o["side"].tolist(), o["price"].tolist())]
    return PeerRun(fills, float(pf.final_value()))


def our_fills(result) -> list[tuple[int, int, float]]:
    return [(int(f["bar"]), int(f["side"]), float(f["price"])) for f in result.fills]


__all__ = ["PeerMissing", "PeerRun", "available", "our_fills", "run_backtesting", "run_backtrader",
           "run_vectorbt"]
