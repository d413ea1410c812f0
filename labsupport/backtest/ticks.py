"""Tick-level fills on a simulated book: a market maker inside Lab 02's matching engine.

Bars cannot say whether a passive order would have filled: that depends on how much volume
was queued ahead of it at its price. Here the market's own order flow (the generator's
ITCH-like events) is replayed through :class:`labsupport.orderbook.MatchingEngine`, and the
strategy's orders are entered into the *same* books. Price-time priority is the engine's: an
order that joins a level waits behind every order already there, is filled only when incoming
marketable flow has eaten through them, and loses its place when it is cancelled and re-entered.
That is queue position, simulated exactly rather than estimated.

Theory of operation
-------------------
Events are fed in slices of ``requote_every`` through the engine's hot path
(``process_rows``). Between slices the :class:`MarketMaker` looks at the touch and its two
resting orders: an order that is no longer live (filled) or no longer at the best price is
cancelled and re-entered at the current best bid / ask, for ``qty`` shares, and a side is not
quoted when the position is already at ``max_position`` that way. Fills and PnL come from the
engine's own position book (exact, in ticks), marked at the mid at each slice. The strategy's
orders are real orders in the book: market flow trades against them, which it would not have
done in the recorded market (the market impact of one small quoting order, the usual
simplification of a queue simulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..orderbook import BUY, LIMIT, PRICE_SCALE, SELL, MatchingEngine, PositionBook
from .errors import ParamError

ACCOUNT = "mm"


class _CountingPositions(PositionBook):
    """The engine's position book, also counting the maker's fills (passive: resting account)."""

    def __init__(self) -> None:
        super().__init__()
        self.maker_fills = 0
        self.maker_shares = 0

    def on_fill(self, seq, symbol, price, qty, aggressor_id, side, account, aggressor_leaves, resting) -> None:
        if resting.account == ACCOUNT:
            self.maker_fills += 1
            self.maker_shares += qty
        super().on_fill(seq, symbol, price, qty, aggressor_id, side, account, aggressor_leaves, resting)


@dataclass
class TickRunResult:
    """What a tick-level run produced (money in currency units)."""

    events: int
    fills: int  # passive fills of the maker's orders
    shares: int
    quotes: int
    position: int
    realized_pnl: float
    unrealized_pnl: float
    seq: np.ndarray = field(repr=False, default=None)  # the event seq at each mark
    pnl: np.ndarray = field(repr=False, default=None)  # realized + unrealized at each mark
    inventory: np.ndarray = field(repr=False, default=None)

    @property
    def total_pnl(self) -> float:
        return self.realized_pnl + self.unrealized_pnl


class MarketMaker:
    """Quote ``qty`` on both sides at the touch, re-quoting every ``requote_every`` events."""

    name = "market_maker"

    def __init__(self, qty: int = 100, max_position: int = 500, requote_every: int = 50) -> None:
        if qty < 1 or max_position < qty or requote_every < 1:
            raise ParamError(f"market_maker: need qty >= 1, max_position >= qty, requote_every >= 1 "
                             f"(got {qty}, {max_position}, {requote_every})")
        self.qty, self.max_position, self.requote_every = qty, max_position, requote_every
        self._ids = 0
        self.live: dict[int, tuple[str, int]] = {}  # side -> (order id, price)
        self.quotes = 0

    def _place(self, engine: MatchingEngine, symbol, side: int, price: int, seq: int) -> None:
        self._ids += 1
        oid = f"mm{self._ids}"
        engine.add(symbol, oid, side, LIMIT, price, self.qty, ACCOUNT, seq)
        self.quotes += 1
        if engine.is_live(oid):
            self.live[side] = (oid, price)

    def requote(self, engine: MatchingEngine, symbol, position: int, seq: int) -> None:
        bid, ask = engine.best_bid_ask(symbol)
        for side, best, room in ((BUY, bid, position + self.qty <= self.max_position),
                                 (SELL, ask, position - self.qty >= -self.max_position)):
            mine = self.live.get(side)
            if mine is not None and engine.is_live(mine[0]):
                if room and mine[1] == best:
                    continue  # keep the place in the queue
                engine.cancel(mine[0], symbol, seq)
            self.live.pop(side, None)
            if room and best is not None:
                self._place(engine, symbol, side, best, seq)


def run_market_maker(events: np.ndarray, symbol: int = 0, maker: MarketMaker | None = None) -> TickRunResult:
    """Replay one symbol's events (a marketdata event array) with the maker quoting inside."""
    maker = maker or MarketMaker()
    ev = events[events["symbol"] == symbol]
    rows = ev[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks", "qty",
               "account"]].tolist()
    engine = MatchingEngine(pnl=True)
    positions = engine.positions = _CountingPositions()  # before the first book is wired
    step = maker.requote_every
    marks_seq, marks_pnl, marks_inv = [], [], []
    for a in range(0, len(rows), step):
        engine.process_rows(rows[a : a + step])
        seq = int(rows[min(a + step, len(rows)) - 1][0])
        view = engine.position(ACCOUNT, symbol)
        bid, ask = engine.best_bid_ask(symbol)
        maker.requote(engine, symbol, int(view.position), seq)
        if bid is not None and ask is not None:
            mid = (bid + ask) / 2
            unreal = float(view.position * (mid - float(view.avg_price_ticks))) if view.position else 0.0
            marks_seq.append(seq)
            marks_pnl.append((float(view.realized_pnl_ticks) + unreal) / PRICE_SCALE)
            marks_inv.append(int(view.position))
    view = engine.position(ACCOUNT, symbol)
    fills = positions.maker_fills
    bid, ask = engine.best_bid_ask(symbol)
    mid = (bid + ask) / 2 if bid is not None and ask is not None else float(view.avg_price_ticks or 0)
    unreal = float(view.position * (mid - float(view.avg_price_ticks))) if view.position else 0.0
    return TickRunResult(len(rows), fills, positions.maker_shares, maker.quotes, int(view.position),
                         float(view.realized_pnl_ticks) / PRICE_SCALE, unreal / PRICE_SCALE,
                         np.array(marks_seq), np.array(marks_pnl), np.array(marks_inv))
