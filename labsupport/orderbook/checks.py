"""Invariant checks of a live engine: what must hold after every single event.

Used by the property and differential tests after each event and by the notebook's "Break it"
section. Each violated invariant raises :class:`InvariantError` naming the symbol and what is
inconsistent. The checks walk the whole book (O(orders)): a debugging aid, not a hot path.
"""

from __future__ import annotations

from collections import defaultdict

from .engine import MatchingEngine
from .levels import NO_ASK, NO_BID
from .types import BUY, SELL, OrderBookError


class InvariantError(OrderBookError):
    """An engine's internal state broke one of the book's invariants (a bug, never input)."""


def check_book(engine: MatchingEngine) -> None:
    """Structure: never crossed, cached bests right, level totals equal their live orders,
    every live order in exactly one level and in the live dict."""
    live_seen = 0
    for symbol in engine.symbols:
        book = engine.book(symbol)
        for side, levels, ladder, best, empty in (
            (BUY, book.bid_levels, book.bids, book.best_bid, NO_BID),
            (SELL, book.ask_levels, book.asks, book.best_ask, NO_ASK),
        ):
            prices = list(ladder.prices())
            if sorted(prices, reverse=(side == BUY)) != prices:
                raise InvariantError(f"{symbol}: ladder side {side:+d} not in priority order")
            if set(prices) != set(levels) or len(prices) != len(levels):
                raise InvariantError(f"{symbol}: ladder and level dict disagree on side {side:+d}")
            if best != (prices[0] if prices else empty):
                raise InvariantError(f"{symbol}: cached best {best} != ladder best on {side:+d}")
            for price, level in levels.items():
                orders = [o for o in level.orders if o.qty]
                if level.count <= 0 or level.count != len(orders):
                    raise InvariantError(f"{symbol}@{price}: count {level.count} != {len(orders)}")
                if level.qty != sum(o.qty for o in orders):
                    raise InvariantError(f"{symbol}@{price}: level qty != sum of its orders")
                for o in orders:
                    if engine._live.get(o.order_id) is not o or o.level is not level \
                            or level.price != price or level.side != side:
                        raise InvariantError(f"{symbol}: order {o.order_id} misfiled")
                live_seen += len(orders)
        if book.best_bid != NO_BID and book.best_ask != NO_ASK and book.best_bid >= book.best_ask:
            raise InvariantError(f"{symbol}: crossed book {book.best_bid} >= {book.best_ask}")
    if live_seen != engine.live_order_count:
        raise InvariantError(f"live dict holds {engine.live_order_count} orders, books {live_seen}")


def check_positions(engine: MatchingEngine) -> None:
    """Positions across accounts sum to zero per symbol; total PnL = cash + marked position."""
    if engine.positions is None:
        return
    net: dict = defaultdict(int)
    for v in engine.pnl():
        net[v.symbol] += v.position
        mark = v.mark_ticks if v.mark_ticks is not None else 0
        cash = engine.positions.cash(v.account, v.symbol)
        if v.total_pnl_ticks != cash + v.position * mark:
            raise InvariantError(f"account {v.account} {v.symbol}: total PnL != cash + position*mark")
    for symbol, n in net.items():
        if n != 0:
            raise InvariantError(f"{symbol}: positions sum to {n}, not 0")


def check_invariants(engine: MatchingEngine) -> None:
    check_book(engine)
    check_positions(engine)
