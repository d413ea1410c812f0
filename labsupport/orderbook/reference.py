"""A deliberately naive matcher: list scans, no cleverness, obviously right.

It exists to be compared with :class:`~.engine.MatchingEngine` (the differential tests) and to
be the "before" in the notebook's comparison. Every rule is written the most direct way:

- a symbol's book is one Python list of resting orders (dicts); each resting order carries a
  time stamp from a global counter, given when it starts resting or loses priority;
- matching picks, by a full scan, the acceptable opposite order with the best price and then
  the smallest stamp, fills against it at *its* price, and repeats;
- a FOK first sums every acceptable opposite quantity;
- depth is recomputed by grouping the list; PnL is recomputed from the list of fills with
  :class:`fractions.Fraction` arithmetic.

Same validation order and reject reasons as the engine (they are part of the specification).
Every operation is O(resting orders); never use it for anything big.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .pnl import COST_SCALE
from .types import (
    ADD,
    BUY,
    CANCEL,
    FOK,
    LIMIT,
    MARKET,
    MODIFY,
    R_DUPLICATE_ID,
    R_FOK_UNFILLABLE,
    R_INVALID_ACTION,
    R_INVALID_PRICE,
    R_INVALID_QTY,
    R_INVALID_SIDE,
    R_INVALID_TYPE,
    R_NOT_LIVE,
    R_SYMBOL_MISMATCH,
    R_UNKNOWN_ORDER,
    R_UNKNOWN_SYMBOL,
    SELL,
    L2Level,
    OrderEvent,
    PositionView,
    Reject,
    Trade,
    id_sort_key,
)


class ReferenceEngine:
    """Same entry points and outputs as the engine, computed by brute force."""

    def __init__(self, symbols=None, *, fee_per_share_ticks=0) -> None:
        self.fixed = None if symbols is None else set(symbols)
        self.books: dict = {}  # symbol -> list of resting order dicts
        self.used: set = set()  # every order id ever accepted (ints or text)
        self.stamp = 0
        self.fee = fee_per_share_ticks
        self.trades: list[Trade] = []
        self.rejects: list[Reject] = []
        self.fills: list[tuple] = []  # (account, symbol, side, price, qty)

    # ---------------------------------------------------------------- helpers
    def _reject(self, seq, oid, reason):
        self.rejects.append(Reject(seq, oid, reason))
        return -1

    def _find(self, oid):
        for symbol, orders in self.books.items():
            for o in orders:
                if o["id"] == oid:
                    return symbol, o
        return None, None

    @staticmethod
    def _acceptable(side, otype, limit, resting_price):
        if otype == MARKET:
            return True
        return resting_price <= limit if side == BUY else resting_price >= limit

    def _match(self, seq, symbol, oid, side, otype, limit, qty, account):
        orders = self.books[symbol]
        while qty > 0:
            candidates = [o for o in orders if o["side"] == -side
                          and self._acceptable(side, otype, limit, o["price"])]
            if not candidates:
                break
            if side == BUY:
                best = min(candidates, key=lambda o: (o["price"], o["stamp"]))
            else:
                best = min(candidates, key=lambda o: (-o["price"], o["stamp"]))
            fill = min(qty, best["qty"])
            qty -= fill
            best["qty"] -= fill
            if best["qty"] == 0:
                orders.remove(best)
            self.trades.append(Trade(seq, symbol, best["price"], fill, oid, best["id"], side,
                                     account, best["account"]))
            self.fills.append((account, symbol, side, best["price"], fill))
            self.fills.append((best["account"], symbol, -side, best["price"], fill))
        return qty

    def _rest(self, symbol, oid, side, price, qty, account):
        self.stamp += 1
        self.books[symbol].append({"id": oid, "side": side, "price": price, "qty": qty,
                                   "account": account, "stamp": self.stamp})

    # ---------------------------------------------------------------- entry points
    def add(self, symbol, oid, side, otype, price, qty, account=0, seq=0):
        if side not in (BUY, SELL):
            return self._reject(seq, oid, R_INVALID_SIDE)
        if otype not in (LIMIT, MARKET, 2, FOK):
            return self._reject(seq, oid, R_INVALID_TYPE)
        if qty <= 0:
            return self._reject(seq, oid, R_INVALID_QTY)
        if otype != MARKET and price <= 0:
            return self._reject(seq, oid, R_INVALID_PRICE)
        if symbol not in self.books:
            if self.fixed is not None and symbol not in self.fixed:
                return self._reject(seq, oid, R_UNKNOWN_SYMBOL)
            self.books[symbol] = []
        if oid in self.used:
            return self._reject(seq, oid, R_DUPLICATE_ID)
        self.used.add(oid)
        if otype == FOK:
            avail = sum(o["qty"] for o in self.books[symbol] if o["side"] == -side
                        and self._acceptable(side, otype, price, o["price"]))
            if avail < qty:
                return self._reject(seq, oid, R_FOK_UNFILLABLE)
        left = self._match(seq, symbol, oid, side, otype, price, qty, account)
        if left and otype == LIMIT:
            self._rest(symbol, oid, side, price, left, account)
        return left

    def _live(self, seq, oid, symbol):
        found_symbol, o = self._find(oid)
        if o is None:
            self._reject(seq, oid, R_NOT_LIVE if oid in self.used else R_UNKNOWN_ORDER)
            return None, None
        if symbol is not None and found_symbol != symbol:
            self._reject(seq, oid, R_SYMBOL_MISMATCH)
            return None, None
        return found_symbol, o

    def cancel(self, oid, symbol=None, seq=0):
        found_symbol, o = self._live(seq, oid, symbol)
        if o is None:
            return False
        self.books[found_symbol].remove(o)
        return True

    def modify(self, oid, price, qty, symbol=None, seq=0):
        if qty <= 0:
            return self._reject(seq, oid, R_INVALID_QTY)
        if price <= 0:
            return self._reject(seq, oid, R_INVALID_PRICE)
        found_symbol, o = self._live(seq, oid, symbol)
        if o is None:
            return -1
        if price == o["price"] and qty <= o["qty"]:
            o["qty"] = qty  # keeps its stamp: time priority kept
            return qty
        self.books[found_symbol].remove(o)
        left = self._match(seq, found_symbol, oid, o["side"], LIMIT, price, qty, o["account"])
        if left:
            self._rest(found_symbol, oid, o["side"], price, left, o["account"])
        return left

    def process(self, e: OrderEvent):
        if e.action == ADD:
            return self.add(e.symbol, e.order_id, e.side, e.type, e.price_ticks, e.qty,
                            e.account, e.seq)
        if e.action == CANCEL:
            return self.cancel(e.order_id, e.symbol, e.seq)
        if e.action == MODIFY:
            return self.modify(e.order_id, e.price_ticks, e.qty, e.symbol, e.seq)
        return self._reject(e.seq, e.order_id, R_INVALID_ACTION)

    def process_rows(self, rows):
        for r in rows:
            self.process(OrderEvent(*r))
        return len(rows)

    # ---------------------------------------------------------------- views
    def depth(self, symbol, side):
        agg: dict[int, list[int]] = {}
        for o in self.books.get(symbol, []):
            if o["side"] == side:
                a = agg.setdefault(o["price"], [0, 0])
                a[0] += o["qty"]
                a[1] += 1
        prices = sorted(agg, reverse=(side == BUY))
        return [L2Level(p, agg[p][0], agg[p][1]) for p in prices]

    def pnl(self):
        """Average-cost PnL recomputed from scratch from every fill, in Fractions, with the
        one rounding the specification has: the cost removed by a closing fill is rounded to
        1/COST_SCALE tick, halves away from zero."""
        marks = {}
        for _acct, symbol, _side, price, _qty in self.fills:
            marks[symbol] = price
        state: dict = {}
        for acct, symbol, side, price, qty in self.fills:
            pos, cost, realized, fees = state.get((acct, symbol), (0, Fraction(0), Fraction(0),
                                                                    Fraction(0)))
            fees += Fraction(self.fee) * qty
            # Split the fill into the part that closes the open position and the part that
            # opens (or adds to) one; the closing part realizes against the cost basis.
            closing = 0 if pos == 0 or (pos > 0) == (side > 0) else min(qty, abs(pos))
            opening = qty - closing
            if closing:
                removed = _round_cost(cost * closing / abs(pos))
                if pos > 0:
                    realized += closing * price - removed
                else:
                    realized += -removed - closing * price
                cost -= removed
                pos += side * closing
            if opening:
                cost += side * opening * price
                pos += side * opening
            state[(acct, symbol)] = (pos, cost, realized, fees)
        out = []
        for (acct, symbol), (pos, cost, realized, fees) in sorted(
                state.items(), key=lambda kv: (id_sort_key(kv[0][0]), str(kv[0][1]))):
            mark = marks.get(symbol)
            unreal = pos * mark - cost if mark is not None else Fraction(0)
            avg = cost / pos if pos else Fraction(0)
            out.append(PositionView(acct, symbol, pos, Fraction(avg), realized - fees,
                                    Fraction(unreal), mark, fees))
        return out


def _round_cost(x: Fraction) -> Fraction:
    """Round to a multiple of 1/COST_SCALE, halves away from zero."""
    scaled = abs(x) * COST_SCALE
    units = math.floor(scaled + Fraction(1, 2))
    return Fraction(units if x >= 0 else -units, COST_SCALE)
