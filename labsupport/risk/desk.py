"""A trading desk in a loop: orders through the risk checks, into Lab 02's matching engine,
fills and marks back into the risk engine. What the notebook runs and plots.

The picture (the order of a broker's market access, SEC Rule 15c3-5)::

    traders --order--> RiskEngine --accepted--> MatchingEngine (Lab 02)
                ^          ^                         |
                |          +----- fills, marks ------+   (both sides of every trade; the
                +--- decision                            trade price becomes the mark)

The flow: a market maker account (``mm``, with its own, looser limits) quotes both sides
around each symbol's fair value, which follows a fat-tailed random walk (Student-t shocks),
and ``traders`` accounts send limit and market orders that cross it, plus now and then a
fat-fingered size or a price far off the market, and burst of orders. Each trade comes back
as two ``fill`` events (aggressor and resting account) and a ``mark`` at the trade price.
Everything is seeded; the ``Event`` list of what the risk engine saw is kept, so the same
stream can be replayed through :mod:`.reference` or written as a CSV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labsupport.orderbook import MatchingEngine
from labsupport.orderbook.listener import Listener
from labsupport.orderbook.types import BUY as BOOK_BUY
from labsupport.orderbook.types import LIMIT, MARKET, Trade
from labsupport.orderbook.types import PRICE_SCALE as TICKS_PER_UNIT
from labsupport.orderbook.types import SELL as BOOK_SELL

from .engine import Decision, RiskEngine
from .events import BUY, CANCEL, FILL, MARK, ORDER, PRICE_SCALE, SELL, Event
from .limits import LimitsFile, parse_limits

__all__ = ["DESK_LIMITS", "DeskRun", "run_desk"]

UNITS_PER_TICK = PRICE_SCALE // TICKS_PER_UNIT  # risk price units per Lab 02 tick

DESK_LIMITS = """
[defaults]
capital = 250000
max_order_qty = 1000
max_order_notional = 60000
price_collar_pct = 3
max_position = 2000
credit_limit = 400000
max_orders_per_s = 50
restricted = ["HALTCO"]
var_window = 100
var_limit = 400
drawdown_limit = 8000
margin_scan_pct = 15
margin_utilization_limit = 0.2

[accounts.mm]
capital = 5000000
max_order_qty = 5000
max_order_notional = 1000000
max_position = 50000
credit_limit = 20000000
max_orders_per_s = 100000
var_limit = 50000
drawdown_limit = 1000000
margin_utilization_limit = 1
"""


class _Trades(Listener):
    def __init__(self) -> None:
        self.trades: list[Trade] = []

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)


@dataclass
class DeskRun:
    """What happened: the risk engine (its alerts and final state), every event it saw, every
    decision, and the timeline of metrics (one row per account changed by an event)."""

    risk: RiskEngine
    book: MatchingEngine
    events: list[Event] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    timeline: list[dict[str, object]] = field(default_factory=list)
    trades: int = 0

    def timeline_frame(self):  # -> pandas.DataFrame
        import pandas as pd

        return pd.DataFrame(self.timeline)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d.reason or "accept"] = out.get(d.reason or "accept", 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


class _Desk:
    def __init__(self, limits: LimitsFile, seed: int) -> None:
        self.risk = RiskEngine(limits, clock=lambda: 0)
        self.listener = _Trades()
        self.book = MatchingEngine(pnl=False, listener=self.listener)
        self.run = DeskRun(self.risk, self.book)
        self.rng = np.random.default_rng(seed)
        self.seq = 0
        self.ts = 0
        self.n_orders = 0
        self.resting: list[tuple[str, str]] = []  # (order id, symbol) possibly resting

    def feed(self, ev: Event) -> Decision | None:
        run = self.run
        run.events.append(ev)
        d = self.risk.process(ev)
        if d is not None:
            run.decisions.append(d)
        for name in self.risk.touched:
            m = self.risk.accounts[name].metrics()
            run.timeline.append({"seq": ev.seq, "ts_ns": ev.ts_ns, "account": name,
                                 "equity": float(m.equity), "drawdown": float(m.drawdown),
                                 "var_hist": float(m.var_hist), "var_ewma": m.var_ewma,
                                 "gross_exposure": float(m.gross_exposure),
                                 "margin_utilization": float(m.margin_utilization),
                                 "halted": m.halted})
        return d

    def next_seq(self, gap_ns: int) -> int:
        self.seq += 1
        self.ts += gap_ns
        return self.seq

    def order(self, account: str, symbol: str, side: int, qty: int, price: int | None,
              gap_ns: int) -> None:
        self.n_orders += 1
        oid = f"o{self.n_orders}"
        ev = Event(self.next_seq(gap_ns), self.ts, ORDER, account, symbol, side, qty, price, oid)
        d = self.feed(ev)
        if d is None or not d.accepted:
            return
        trades = self.listener.trades
        trades.clear()
        left = self.book.add(symbol, oid, BOOK_BUY if side == BUY else BOOK_SELL,
                             MARKET if price is None else LIMIT,
                             0 if price is None else price // UNITS_PER_TICK, qty, account,
                             self.seq)
        for t in list(trades):
            px = t.price_ticks * UNITS_PER_TICK
            s = BUY if t.aggressor_side == BOOK_BUY else SELL
            self.feed(Event(self.next_seq(1), self.ts, FILL, str(t.aggressor_account), symbol,
                            s, t.qty, px, str(t.aggressor_id)))
            self.feed(Event(self.next_seq(1), self.ts, FILL, str(t.resting_account), symbol,
                            -s, t.qty, px, str(t.resting_id)))
            self.feed(Event(self.next_seq(1), self.ts, MARK, symbol=symbol, price=px))
        self.run.trades += len(trades)
        if price is not None and left > 0:
            self.resting.append((oid, symbol))
        elif price is None and left > 0:  # a market order's unfilled rest expired: release it
            self.feed(Event(self.next_seq(1), self.ts, CANCEL, order_id=oid))

    def cancel_some(self, keep: int) -> None:
        while len(self.resting) > keep:
            oid, symbol = self.resting.pop(0)
            if self.book.is_live(oid):
                self.book.cancel(oid, symbol)
                self.feed(Event(self.next_seq(1), self.ts, CANCEL, order_id=oid))


def run_desk(n_rounds: int = 400, *, traders: int = 4, symbols: int = 3, seed: int = 7,
             limits: LimitsFile | str = DESK_LIMITS, vol: float = 0.004,
             tail_df: float = 3.0) -> DeskRun:
    """Run ``n_rounds`` rounds: the market maker requotes every symbol, then each trader may
    send an order. Returns the :class:`DeskRun`."""
    lf = parse_limits(limits) if isinstance(limits, str) else limits
    desk = _Desk(lf, seed)
    rng = desk.rng
    names = [f"S{i}" for i in range(symbols)]
    fair = {s: 100.0 * float(rng.uniform(0.6, 1.6)) for s in names}
    accounts = [f"t{i}" for i in range(traders)]
    scale = ((tail_df - 2) / tail_df) ** 0.5
    tick = UNITS_PER_TICK * 1  # 0.01 in risk price units

    def px(x: float) -> int:
        return max(tick, int(round(x * PRICE_SCALE / tick)) * tick)

    for _ in range(n_rounds):
        for s in names:  # fat-tailed fair value, and a fresh two-sided quote around it
            fair[s] *= 1.0 + vol * scale * float(rng.standard_t(tail_df))
            half = fair[s] * 0.0005
            desk.order("mm", s, BUY, 500, px(fair[s] - half), int(rng.integers(1, 5_000_000)))
            desk.order("mm", s, SELL, 500, px(fair[s] + half), 1_000)
        desk.cancel_some(keep=2 * symbols)
        for acct in accounts:
            if rng.random() < 0.3:
                continue
            s = names[int(rng.integers(symbols))]
            side = BUY if rng.random() < 0.5 else SELL
            qty = int(rng.integers(10, 300))
            u = float(rng.random())
            if u < 0.02:
                qty *= 20  # fat finger
            if u < 0.2:
                price = None
            elif u < 0.25:
                price = px(fair[s] * (1.1 if side == BUY else 0.9))  # off the market
            else:
                price = px(fair[s] * (1.002 if side == BUY else 0.998))  # crosses the quote
            burst = 60 if rng.random() < 0.01 else 1
            for _ in range(burst):
                desk.order(acct, s, side, qty, price, int(rng.integers(1_000, 50_000_000)))
        if rng.random() < 0.01:
            desk.order(accounts[0], "HALTCO", BUY, 10, None, 1_000)
    return desk.run
