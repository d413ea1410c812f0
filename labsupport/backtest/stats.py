"""The tear sheet's numbers: returns, risk and trade statistics of one run.

Definitions follow empyrical (Quantopian's library behind pyfolio), on *daily* returns: the
equity at each session's last bar, the first day measured from the starting cash; 252 trading
days a year. The tests check every return-based number against empyrical on the same returns.

====================  ===========================================================================
total_return          final equity / starting cash - 1
cagr                  (1 + total) ** (252 / days) - 1                       (empyrical.cagr)
volatility            std(daily, ddof=1) * sqrt(252)              (empyrical.annual_volatility)
sharpe                mean(daily) / std(daily, ddof=1) * sqrt(252)     (empyrical.sharpe_ratio)
sortino               mean(daily) * 252 / (sqrt(mean(min(daily, 0)^2)) * sqrt(252))
max_drawdown          the worst fall from a running peak of daily equity (negative)
max_dd_days           the longest run of days spent below a previous peak
calmar                cagr / |max_drawdown|                            (empyrical.calmar_ratio)
hit_rate, avg_win,    over closed trades: the share with pnl > 0, the mean pnl of winners and
avg_loss              of losers (currency units, net of fees)
turnover              traded notional / mean equity, per year
exposure              share of bars with a position
====================  ===========================================================================
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .result import RunResult

YEAR_DAYS = 252
DAY_NS = 86_400 * 10**9
STAT_NAMES = ["total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "max_dd_days",
              "calmar", "trades", "hit_rate", "avg_win", "avg_loss", "turnover", "exposure"]


def _daily(result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """(UTC day numbers, returns) of the equity at each day's last bar."""
    if not result.equity.size:
        return np.zeros(0, np.int64), np.zeros(0)
    day = result.ts_ns // DAY_NS
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    eq = np.r_[result.cash, result.equity[last]]
    return day[last], eq[1:] / eq[:-1] - 1.0


def daily_returns(result: RunResult) -> pd.Series:
    """Returns of the equity at each day's last bar (the first from the starting cash)."""
    days, r = _daily(result)
    return pd.Series(r, index=pd.to_datetime(days * DAY_NS, utc=True), name="return")


def drawdown(values: np.ndarray) -> np.ndarray:
    """Fall from the running peak, as a fraction (0 at a peak, negative below)."""
    peak = np.maximum.accumulate(values)
    return values / peak - 1.0


def longest_below(dd: np.ndarray) -> int:
    """The longest run of consecutive points below a previous peak (``dd < 0``)."""
    best = run = 0
    for below in dd < 0:
        run = run + 1 if below else 0
        best = max(best, run)
    return best


def compute_stats(result: RunResult) -> dict[str, float]:
    """Every statistic of the table above for one run (NaN where undefined)."""
    r = _daily(result)[1]
    n = r.size
    nan = float("nan")
    total = result.final_equity / result.cash - 1.0
    std = float(np.std(r, ddof=1)) if n > 1 else nan
    mean = float(np.mean(r)) if n else nan
    years = n / YEAR_DAYS
    cagr = (1.0 + total) ** (1.0 / years) - 1.0 if n and total > -1 else nan
    down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2))) * math.sqrt(YEAR_DAYS) if n else nan
    daily_eq = np.r_[result.cash, result.cash * np.cumprod(1.0 + r)]
    dd = drawdown(daily_eq)
    max_dd = float(dd.min())
    closed = result.trades["pnl"].dropna().to_numpy(float)
    wins, losses = closed[closed > 0], closed[closed <= 0]
    notional = float(np.sum(result.fills["qty"] * result.fills["price"]))
    mean_eq = float(np.mean(result.equity)) if result.equity.size else nan
    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": std * math.sqrt(YEAR_DAYS),
        "sharpe": mean / std * math.sqrt(YEAR_DAYS) if std and std > 0 else nan,
        "sortino": mean * YEAR_DAYS / down if down and down > 0 else nan,
        "max_drawdown": max_dd,
        "max_dd_days": float(longest_below(dd)),
        "calmar": cagr / abs(max_dd) if max_dd < 0 else nan,
        "trades": float(len(result.trades)),
        "hit_rate": float(wins.size / closed.size) if closed.size else nan,
        "avg_win": float(wins.mean()) if wins.size else nan,
        "avg_loss": float(losses.mean()) if losses.size else nan,
        "turnover": notional / mean_eq / years if n else nan,
        "exposure": float(np.mean(result.position != 0)) if result.position.size else nan,
    }


def stats_table(stats: dict[str, float]) -> pd.DataFrame:
    """A one-column table for display, percentages where they read better."""
    pct = {"total_return", "cagr", "volatility", "max_drawdown", "hit_rate", "exposure"}
    rows = []
    for k in STAT_NAMES:
        v = stats.get(k, float("nan"))
        text = "-" if v != v else (f"{v:.2%}" if k in pct else (f"{v:,.0f}" if k in ("trades", "max_dd_days")
                                                                else f"{v:,.3f}"))
        rows.append((k, text))
    return pd.DataFrame(rows, columns=["statistic", "value"]).set_index("statistic")
