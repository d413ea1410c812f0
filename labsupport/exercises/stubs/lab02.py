"""Your solutions to notebook 02's exercises. Check them with `python -m labsupport check 02`
(or `check("02.1", PostOnlyEngine)` in the notebook)."""

from labsupport.exercises.lab02 import POST_ONLY, R_POST_ONLY  # noqa: F401 (for your code)
from labsupport.orderbook import BUY, LIMIT, NO_ASK, NO_BID, SELL, MatchingEngine  # noqa: F401


class PostOnlyEngine(MatchingEngine):
    """02.1: an order of type POST_ONLY that would trade on arrival (a buy at or above the best
    ask, a sell at or below the best bid) is rejected with reason R_POST_ONLY and changes nothing
    (its id stays free); otherwise it is a plain limit order. Other types are unchanged.
    Useful: self.best_bid_ask(symbol), self.reject(seq, order_id, reason), super().add(...)."""

    def add(self, symbol, order_id, side, otype, price_ticks, qty, account=0, seq=0):
        if otype == POST_ONLY:
            raise NotImplementedError("02.1: reject a post-only that would cross, else rest it")
        return super().add(symbol, order_id, side, otype, price_ticks, qty, account, seq)


class StpEngine(MatchingEngine):
    """02.2: self-trade prevention, cancel-resting mode. When an incoming limit, market or IOC
    order would trade with a resting order of its own account, that resting order is cancelled
    (self.cancel(order_id, symbol, seq)) instead, and matching goes on with the next one. The
    check sends well-formed orders with fresh ids (no FOK, no modify).
    Useful: self.book(symbol).orders(side) walks one side best first (L3Order objects)."""

    def add(self, symbol, order_id, side, otype, price_ticks, qty, account=0, seq=0):
        # As it is, an account trades with itself: the check shows which trades must not happen.
        return super().add(symbol, order_id, side, otype, price_ticks, qty, account, seq)


class ArrayLadder:
    """02.3: one side's price ladder as a fixed array of levels indexed by price - base, with a
    scan for the next best price when the best one dies; re-base or grow the array when a price
    falls outside it. The interface of levels.SortedListLadder: prices are positive ints; the
    book calls insert(p) only for a price not present, remove(p) only for a present price that is
    not the best, pop_best() only when not empty. Plug it in: MatchingEngine(ladder=ArrayLadder)."""

    name = "array"

    def __init__(self, side):
        self.side = side  # BUY: best is the highest price; SELL: the lowest

    def insert(self, price):
        raise NotImplementedError("02.3: mark the level at price - base present")

    def pop_best(self):
        """Remove the best price; return the new best, or NO_BID / NO_ASK if the side is empty."""
        raise NotImplementedError("02.3: clear the best and scan for the next one")

    def remove(self, price):
        raise NotImplementedError("02.3: clear a level that is not the best")

    def prices(self):
        """Every price present, best first."""
        raise NotImplementedError("02.3: walk the array from the best")

    def __len__(self):
        raise NotImplementedError("02.3: the number of prices present")


def batch_pnl(trades, fee_per_share_ticks=0):
    """02.4: positions and PnL of every (account, symbol) from the trade tape in one pass, as
    MatchingEngine.pnl() returns them: a list of PositionView, sorted by account (int codes
    first) then symbol. Average cost; a closing fill removes cost * closed / |position| rounded
    to 1/10_000 tick (halves away from zero); the aggressor's side of a trade first; marks are
    each symbol's last trade price; fees charged to both sides. See labsupport/orderbook/pnl.py
    for the rules, then write them as one loop over the tape."""
    raise NotImplementedError("02.4: replay the trades through average-cost accounting")
