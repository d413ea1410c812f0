"""Views for people: a text price ladder, DataFrames of trades and positions, depth and
trade/mid charts. Used by the notebook; nothing here is on the matching path."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .csvio import format_money, format_price
from .engine import MatchingEngine
from .levels import NO_ASK, NO_BID
from .listener import Recorder
from .types import BUY, SELL, Reject, Trade


def book_ladder(engine: MatchingEngine, symbol, depth: int = 5) -> str:
    """The top ``depth`` levels as a text ladder: asks above, bids below, best in the middle."""
    snap = engine.l2_snapshot(symbol, depth)
    lines = [f"{'orders':>7} {'bid qty':>8} | {'price':>8} | {'ask qty':<8} {'orders':<6}"]
    for lv in reversed(snap.asks):
        lines.append(f"{'':>7} {'':>8} | {format_price(lv.price_ticks):>8} | "
                     f"{lv.qty:<8} {lv.orders:<6}".rstrip())
    lines.append(f"{'':>7} {'':>8} | {'--------':>8} |")
    for lv in snap.bids:
        lines.append(f"{lv.orders:>7} {lv.qty:>8} | {format_price(lv.price_ticks):>8} |")
    return "\n".join(lines)


def trades_frame(trades: Iterable[Trade], names: dict[int, str] | None = None) -> pd.DataFrame:
    rows = []
    for t in trades:
        who = (names or {}).get
        rows.append({"seq": t.seq, "price": format_price(t.price_ticks), "qty": t.qty,
                     "aggressor": t.aggressor_id, "resting": t.resting_id,
                     "side": "buy" if t.aggressor_side == BUY else "sell",
                     "buyer": who(t.aggressor_account if t.aggressor_side == BUY
                                  else t.resting_account, None),
                     "seller": who(t.resting_account if t.aggressor_side == BUY
                                   else t.aggressor_account, None)})
    df = pd.DataFrame(rows)
    if names is None and len(df):
        df = df.drop(columns=["buyer", "seller"])
    return df


def rejects_frame(rejects: Iterable[Reject]) -> pd.DataFrame:
    return pd.DataFrame([{"seq": r.seq, "order_id": r.order_id, "reason": r.reason}
                         for r in rejects])


def positions_frame(engine: MatchingEngine, names: dict[int, str] | None = None) -> pd.DataFrame:
    """Positions and PnL in currency (6 decimals, exact inputs), one row per account/symbol."""
    rows = []
    for v in engine.pnl():
        rows.append({"account": (names or {}).get(v.account, v.account), "symbol": v.symbol,
                     "position": v.position, "avg_price": format_money(v.avg_price_ticks),
                     "realized": format_money(v.realized_pnl_ticks, 2),
                     "unrealized": format_money(v.unrealized_pnl_ticks, 2),
                     "total": format_money(v.total_pnl_ticks, 2)})
    return pd.DataFrame(rows)


def run_with_tape(rows: list[tuple], symbol) -> tuple[MatchingEngine, Recorder, np.ndarray]:
    """Replay rows event by event and record (seq, best bid, best ask) of ``symbol`` after each
    (NaN when a side is empty) for the trade/mid chart."""
    rec = Recorder()
    eng = MatchingEngine(listener=rec)
    tape = np.full((len(rows), 3), np.nan)
    for i, r in enumerate(rows):
        eng.process_rows((r,))
        book = eng._books.get(symbol)
        if book is not None:
            tape[i, 0] = r[0]
            if book.best_bid != NO_BID:
                tape[i, 1] = book.best_bid
            if book.best_ask != NO_ASK:
                tape[i, 2] = book.best_ask
    return eng, rec, tape


def plot_depth(engine: MatchingEngine, symbol, levels: int = 25, ax=None):
    """Cumulative depth chart: resting quantity available at each price or better."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for side, color, label in ((BUY, "tab:green", "bids"), (SELL, "tab:red", "asks")):
        lv = engine.book(symbol).depth(side, levels)
        if not lv:
            continue
        prices = np.array([x.price_ticks for x in lv]) / 100
        cum = np.cumsum([x.qty for x in lv])
        ax.step(prices, cum, where="post", color=color, label=label)
        ax.fill_between(prices, cum, step="post", color=color, alpha=0.2)
    ax.set_xlabel("price ($)")
    ax.set_ylabel("cumulative quantity (shares)")
    ax.set_title(f"{symbol}: depth, top {levels} levels per side")
    ax.legend()
    return ax


def plot_trades_mid(trades: list[Trade], tape: np.ndarray, symbol, ax=None):
    """Trade prices (dots, coloured by aggressor side) over the mid price, against seq."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    ok = ~np.isnan(tape[:, 1]) & ~np.isnan(tape[:, 2])
    ax.plot(tape[ok, 0], (tape[ok, 1] + tape[ok, 2]) / 200, color="0.4", lw=0.8, label="mid")
    for side, color, label in ((BUY, "tab:green", "buyer-initiated"),
                               (SELL, "tab:red", "seller-initiated")):
        ts = [t for t in trades if t.symbol == symbol and t.aggressor_side == side]
        ax.scatter([t.seq for t in ts], [t.price_ticks / 100 for t in ts], s=6, color=color,
                   label=label)
    ax.set_xlabel("event seq")
    ax.set_ylabel("price ($)")
    ax.set_title(f"{symbol}: trades and mid price")
    ax.legend(loc="best", fontsize="small")
    return ax
