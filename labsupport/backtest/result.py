"""What a run produces: fills, round-trip trades, the equity curve; shared by every engine.

Both engines hand their fills to :func:`make_result`, so the trade list and the equity curve
are derived by one piece of code and "identical results" compares the engines' fills only.

Theory of operation
-------------------
A *trade* is a round trip: it opens when the position leaves zero and closes when it returns
to zero. ``entry_price`` is the volume-weighted price of the fills that built the position,
``exit_price`` that of the fills that took it back to zero, ``qty`` the largest absolute
position held, and ``pnl`` is net of fees (backtrader's ``pnlcomm``). A position still open
after the last bar is a trade with empty exit fields and pnl.

Cash moves by ``-side * qty * price - fee`` at each fill; equity at a bar is cash plus the
position marked at that bar's close. Cash is accumulated in fill order from the starting cash,
the same additions in the same order in both engines, so the curves agree to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TRADE_COLUMNS = ["symbol", "entry_ts", "entry_price", "exit_ts", "exit_price", "qty", "pnl"]
FILL_DTYPE = np.dtype([("bar", "i8"), ("ts_ns", "i8"), ("side", "i1"), ("qty", "f8"),
                       ("price", "f8"), ("fee", "f8")])


@dataclass(eq=False)
class RunResult:
    """One strategy on one symbol: fills, trades, equity per bar."""

    symbol: str
    strategy: str
    fills: np.ndarray  # FILL_DTYPE
    ts_ns: np.ndarray
    equity: np.ndarray
    position: np.ndarray
    cash: float
    trades: pd.DataFrame = field(repr=False, default=None)

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if self.equity.size else self.cash

    def equity_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"ts": self.ts_ns, "equity": self.equity})

    def __repr__(self) -> str:
        return (f"RunResult({self.strategy} on {self.symbol}: {len(self.trades)} trades, "
                f"final equity {self.final_equity:,.2f})")


def round_trips(symbol: str, fills: np.ndarray) -> pd.DataFrame:
    """Round-trip trades from time-ordered fills (see the module docstring)."""
    rows = []
    pos = 0.0
    cur: list | None = None  # [entry_ts, in_qty, in_value, out_qty, out_value, cash, max_qty, direction]
    for _bar, ts, side, qty, price, fee in fills.tolist():  # plain Python numbers: 10x numpy scalars
        signed = side * qty
        if cur is None:
            cur = [ts, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0 if signed > 0 else -1.0]
        if (signed > 0) == (cur[7] > 0):  # adds to the position
            cur[1] += qty
            cur[2] += qty * price
        else:
            cur[3] += qty
            cur[4] += qty * price
        cur[5] += -signed * price - fee
        pos += signed
        cur[6] = max(cur[6], abs(pos))
        if pos == 0:
            rows.append((*cur, ts))
            cur = None
    if cur is not None:
        rows.append((*cur, None))
    closed = [r[8] is not None for r in rows]
    return pd.DataFrame({
        "symbol": [symbol] * len(rows),
        "entry_ts": pd.array([r[0] for r in rows], dtype="Int64"),
        "entry_price": [r[2] / r[1] for r in rows],
        "exit_ts": pd.array([r[8] for r in rows], dtype="Int64"),
        "exit_price": [r[4] / r[3] if c else np.nan for r, c in zip(rows, closed)],
        "qty": [r[6] * r[7] for r in rows],
        "pnl": [r[5] if c else np.nan for r, c in zip(rows, closed)],
    })


def make_result(symbol: str, strategy: str, fills: np.ndarray, ts_ns: np.ndarray, close: np.ndarray,
                cash: float) -> RunResult:
    """Equity and position per bar, and the trade list, from an engine's fills."""
    n = ts_ns.size
    delta = np.zeros(n + 1)
    delta[0] = cash
    dpos = np.zeros(n)
    # fills on the same bar: add them one by one, in order (np.add.at is unbuffered, ordered)
    np.add.at(delta, fills["bar"] + 1, -fills["side"] * fills["qty"] * fills["price"] - fills["fee"])
    np.add.at(dpos, fills["bar"], fills["side"] * fills["qty"])
    cash_path = np.cumsum(delta)[1:]
    position = np.cumsum(dpos)
    return RunResult(symbol, strategy, fills, ts_ns, cash_path + position * close, position, cash,
                     round_trips(symbol, fills))


def trades_csv_frame(trades: pd.DataFrame) -> pd.DataFrame:
    """The trade list as written to trades.csv: ISO 8601 UTC times, empty fields for an open trade."""
    out = trades.copy()
    for c in ("entry_ts", "exit_ts"):
        out[c] = [pd.Timestamp(int(v), tz="UTC").isoformat() if pd.notna(v) else "" for v in trades[c]]
    return out[TRADE_COLUMNS]
