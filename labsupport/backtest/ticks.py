"""Tick-level fills on a simulated book: a market maker inside Lab 02's or Lab 11's engine.

Bars cannot say whether a passive order would have filled: that depends on how much volume
was queued ahead of it at its price. Here the market's own order flow (the generator's
ITCH-like events) is replayed through a matching engine (:mod:`.venues`: Lab 11's compiled
:class:`~labsupport.fastbook.FastEngine` by default, Lab 02's
:class:`~labsupport.orderbook.MatchingEngine` without the extension; identical fills), and the
strategy's orders are entered into the *same* books. Price-time priority is the engine's: an
order that joins a level waits behind every order already there, is filled only when incoming
marketable flow has eaten through them, and loses its place when it is cancelled and re-entered.
That is queue position, simulated exactly rather than estimated.

Theory of operation
-------------------
The maker decides only every ``requote_every`` events, so the market's events go to the engine
in slices of that size, each one call into the engine's batch path. Between slices the
:class:`MarketMaker` looks at the touch and its two resting orders: an order that is no longer
live (filled) or no longer at the best price is cancelled and re-entered at the current best
bid / ask, for ``qty`` shares, and a side is not quoted when the position is already at
``max_position`` that way. Fills and PnL come from the engine's own position book (exact, in
ticks), marked at the mid at each slice, and each mark also records the queue position of the
two quotes after the decision (shares ahead of each at its price: what must trade or cancel
before it fills), read from the book. The strategy's orders are real orders in the book:
market flow trades against them, which it would not have done in the recorded market (the
market impact of one small quoting order, the usual simplification of a queue simulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..orderbook import BUY, PRICE_SCALE, SELL
from .errors import ParamError
from .venues import Venue, make_venue

ACCOUNT = "mm"


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
    bid_ahead: np.ndarray = field(repr=False, default=None)  # shares queued ahead of our bid (-1: none)
    ask_ahead: np.ndarray = field(repr=False, default=None)
    engine: str = ""  # the book engine it ran on

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

    def _place(self, venue: Venue, side: int, price: int, seq: int) -> None:
        self._ids += 1
        oid = f"mm{self._ids}"
        self.quotes += 1
        if venue.add(oid, side, price, self.qty, seq):
            self.live[side] = (oid, price)

    def requote(self, venue: Venue, position: int, seq: int,
                touch: tuple[int | None, int | None] | None = None) -> None:
        """Re-quote both sides; ``touch`` is the (bid, ask) just read, if the caller has it."""
        bid, ask = touch or venue.touch()
        for side, best, room in ((BUY, bid, position + self.qty <= self.max_position),
                                 (SELL, ask, position - self.qty >= -self.max_position)):
            mine = self.live.get(side)
            if mine is not None and venue.is_live(mine[0]):
                if room and mine[1] == best:
                    continue  # keep the place in the queue
                venue.cancel(mine[0], seq)
            self.live.pop(side, None)
            if room and best is not None:
                self._place(venue, side, best, seq)


def run_market_maker(events: np.ndarray, symbol: int = 0, maker: MarketMaker | None = None,
                     engine: str = "auto") -> TickRunResult:
    """Replay one symbol's events (a marketdata event array) with the maker quoting inside;
    ``engine`` is ``"auto"`` (Cython if built, else Lab 02), ``"python"``, ``"cython"`` or
    ``"numba"``."""
    maker = maker or MarketMaker()
    mine = np.compress(events["symbol"] == symbol, events)  # 5-8x boolean indexing's speed here
    venue = make_venue(mine, symbol, ACCOUNT, engine)
    marks: list[tuple] = []  # (seq, pnl, inventory, shares ahead of the bid, of the ask)
    live, queue = maker.live, venue.queue_position
    for seq in venue.replay(maker.requote_every):
        pos, realized, avg = venue.state()
        bid, ask = touch = venue.touch()
        maker.requote(venue, pos, seq, touch)
        if bid is not None and ask is not None:
            ahead = [queue(live[side][0]) if side in live else None for side in (BUY, SELL)]
            marks.append((seq, (realized + (pos * ((bid + ask) / 2 - avg) if pos else 0.0)) / PRICE_SCALE,
                          pos, *(-1 if a is None else a[1] for a in ahead)))
    pos, realized, avg = venue.state()
    fills, shares = venue.passive_fills()
    bid, ask = venue.touch()
    mid = (bid + ask) / 2 if bid is not None and ask is not None else avg
    cols = [np.array(c) for c in zip(*marks)] if marks else [np.zeros(0)] * 5
    return TickRunResult(venue.n, fills, shares, maker.quotes, pos, realized / PRICE_SCALE,
                         (pos * (mid - avg) if pos else 0.0) / PRICE_SCALE, *cols, engine=venue.name)
