"""Reference solutions of notebook 02's exercises (CI checks that each passes its check)."""

from collections import defaultdict
from fractions import Fraction

from labsupport.exercises.lab02 import POST_ONLY, R_POST_ONLY
from labsupport.orderbook import (
    BUY,
    IOC,
    LIMIT,
    MARKET,
    NO_ASK,
    NO_BID,
    SELL,
    MatchingEngine,
    PositionView,
)
from labsupport.orderbook.types import id_sort_key


class PostOnlyEngine(MatchingEngine):
    """02.1: a post-only order is checked against the touch, then handed on as a limit order."""

    def add(self, symbol, order_id, side, otype, price_ticks, qty, account=0, seq=0):
        if otype == POST_ONLY:
            bid, ask = self.best_bid_ask(symbol)
            if (side == BUY and ask is not None and price_ticks >= ask) or \
                    (side == SELL and bid is not None and price_ticks <= bid):
                return self.reject(seq, order_id, R_POST_ONLY)
            otype = LIMIT
        return super().add(symbol, order_id, side, otype, price_ticks, qty, account, seq)


class StpEngine(MatchingEngine):
    """02.2: before matching, walk the opposite side in priority order as the matching loop
    would; every own order met before the incoming quantity is used up is cancelled. Same
    outcome as cancelling inside the loop, without touching the loop."""

    def add(self, symbol, order_id, side, otype, price_ticks, qty, account=0, seq=0):
        if otype in (LIMIT, MARKET, IOC) and symbol in self.symbols:
            own, left = [], qty
            for o in self.book(symbol).orders(-side):
                if otype != MARKET and (o.price_ticks > price_ticks if side == BUY
                                        else o.price_ticks < price_ticks):
                    break  # beyond the limit: the order cannot reach it
                if o.account == account:
                    own.append(o.order_id)
                else:
                    left -= o.qty
                    if left <= 0:
                        break  # filled before reaching anything further
            for oid in own:
                self.cancel(oid, symbol, seq)
        return super().add(symbol, order_id, side, otype, price_ticks, qty, account, seq)


class ArrayLadder:
    """02.3: a bytearray of present flags for prices base .. base + len - 1 and the best index.
    Births and deaths are O(1) but the death of the best scans to the next present level, which
    is short when the book is dense near the touch. A price outside the window grows it to cover
    the price with room to spare (amortised O(1) per insert)."""

    name = "array"

    def __init__(self, side):
        self.side = side
        self.base = 0
        self.present = bytearray()
        self.best = -1  # index of the best price, -1 when empty
        self.count = 0
        self.empty = NO_BID if side == BUY else NO_ASK

    def _cover(self, price):
        if not self.present:
            self.base, self.present = price - 64, bytearray(128)
            return
        lo = min(self.base, price - 64)
        hi = max(self.base + len(self.present), price + 65)
        grown = bytearray(hi - lo + (hi - lo) // 2)
        shift = self.base - lo
        grown[shift:shift + len(self.present)] = self.present
        self.best = self.best + shift if self.best >= 0 else -1
        self.base, self.present = lo, grown

    def insert(self, price):
        i = price - self.base
        if i < 0 or i >= len(self.present):
            self._cover(price)
            i = price - self.base
        self.present[i] = 1
        self.count += 1
        if self.best < 0 or (i > self.best if self.side == BUY else i < self.best):
            self.best = i

    def _next(self, i):
        """The next present index worse than i, or -1."""
        if self.side == BUY:
            j = self.present.rfind(1, 0, i)
        else:
            j = self.present.find(1, i + 1)
        return j

    def pop_best(self):
        self.present[self.best] = 0
        self.count -= 1
        self.best = self._next(self.best) if self.count else -1
        return self.base + self.best if self.best >= 0 else self.empty

    def remove(self, price):
        self.present[price - self.base] = 0
        self.count -= 1

    def prices(self):
        i = self.best
        while i >= 0:
            yield self.base + i
            i = self._next(i)

    def __len__(self):
        return self.count


COST_SCALE = 10_000  # cost units per tick-share: the one rounding is to 1/10_000 tick


def batch_pnl(trades, fee_per_share_ticks=0):
    """02.4: one pass over the tape with integer cost units, then one view per position."""
    fee_units = Fraction(fee_per_share_ticks) * COST_SCALE
    state = defaultdict(lambda: [0, 0, 0, 0])  # position, cost, realized, fees (cost units)
    marks = {}
    for t in trades:
        marks[t.symbol] = t.price_ticks
        unit = t.price_ticks * COST_SCALE
        for account, signed in ((t.aggressor_account, t.aggressor_side * t.qty),
                                (t.resting_account, -t.aggressor_side * t.qty)):
            s = state[(account, t.symbol)]
            s[3] += fee_units * t.qty
            pos = s[0]
            closed = 0 if pos == 0 or (pos > 0) == (signed > 0) else min(abs(signed), abs(pos))
            if closed:
                removed = s[1] if closed == abs(pos) else _round_half_away(s[1] * closed, abs(pos))
                s[2] += (closed * unit - removed) if pos > 0 else (-removed - closed * unit)
                s[1] -= removed
                pos += closed if signed > 0 else -closed
            opening = abs(signed) - closed
            if opening:
                opened = opening if signed > 0 else -opening
                s[1] += opened * unit
                pos += opened
            s[0] = pos
    out = []
    for (account, symbol), (pos, cost, realized, fees) in sorted(
            state.items(), key=lambda kv: (id_sort_key(kv[0][0]), str(kv[0][1]))):
        mark = marks[symbol]
        out.append(PositionView(
            account, symbol, pos, Fraction(cost, COST_SCALE * pos) if pos else Fraction(0),
            Fraction(realized - fees) / COST_SCALE, Fraction(pos * mark * COST_SCALE - cost,
                                                             COST_SCALE),
            mark, Fraction(fees) / COST_SCALE))
    return out


def _round_half_away(num, den):
    """num / den to the nearest integer, halves away from zero (den > 0)."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q
