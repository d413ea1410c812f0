"""An order book rebuilt from an ITCH 5.0 feed: L3 (order by order) per stock, L2 at any time.

What it mirrors: the "book builder" every consumer of TotalView runs. NASDAQ has already done
the matching; the feed tells us what happened to each displayed order, by its order reference
number, and we replay that:

==========  ==========================================================================
A, F        add ``shares`` at ``price`` on ``buy_sell_indicator`` for ``stock_locate``
E, C        ``executed_shares`` of the order traded (C also prints its own price)
X           ``cancelled_shares`` removed from the order (it keeps its queue position)
D           the order is gone
U           the order is gone and a new one (``new_order_reference_number``) rests with the
            new price and shares, on the same side of the same stock (U carries no side
            and no stock: they are inherited from the original order)
==========  ==========================================================================

Why not Lab 02's book. ``labsupport.orderbook`` is a *matching* engine: an add that crosses
trades, and its orders are keyed by the participant's order id. An ITCH consumer must never
match (the exchange did; a crossed add here is a data problem to report, not a trade), and
its whole state is keyed by an exchange reference number that a U message replaces. So this
module keeps its own small state and reuses Lab 02's *vocabulary* for what it hands out
(:class:`~labsupport.orderbook.types.L2Level`, ``L2Snapshot``, ``L3Order``), with one
difference in units: ``price_ticks`` here is the ITCH Price(4) integer (1/10_000 dollar),
not Lab 02's cent.

Data structures (all plain dicts, so an update is a few hash operations):

* ``orders``: reference number -> ``[locate, side, price, shares]`` (side +1 buy, -1 sell);
* ``levels[locate]``: ``(bids, asks)``, each ``price -> [shares, order_count]``.

Invariant: for every (locate, side, price) the level holds the sum of shares and the count of
the live orders at that price; an order whose shares reach 0 leaves both maps. L2 views sort
the level keys on demand (O(L log L), L = number of levels), which keeps every update O(1).

Messages that name an unknown reference (a feed joined mid-day) are counted in
``unknown_refs`` and skipped; a reduction larger than the order is counted in ``anomalies``
and removes the order. :meth:`ItchBook.apply_buffer` is the fast path: the vectorised decoder
pulls out the seven book types as columns, one argsort restores wire order, and a single
Python loop applies them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ...orderbook.types import BUY, SELL, L2Level, L2Snapshot, L3Order
from .parser import UnknownStockError
from .vector import decode

__all__ = ["ItchBook", "BOOK_TYPES", "reference_l2"]

BOOK_TYPES = "AFECXDU"
_ADD, _EXEC, _CANCEL, _DELETE, _REPLACE = 0, 1, 2, 3, 4


class ItchBook:
    """L3 state of every stock of one ITCH feed; see the module docstring."""

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}
        self.levels: dict[int, tuple[dict[int, list[int]], dict[int, list[int]]]] = {}
        self.symbols: dict[int, str] = {}  # locate -> stock, from R messages
        self.unknown_refs = 0
        self.anomalies = 0
        self.messages = 0

    # --- updates ---------------------------------------------------------------------------

    def _add(self, ref: int, locate: int, side: int, price: int, shares: int) -> None:
        if ref in self.orders:
            self.anomalies += 1  # duplicate reference: drop the old one first
            self._remove(ref, self.orders[ref][3])
        self.orders[ref] = [locate, side, price, shares]
        sides = self.levels.get(locate)
        if sides is None:
            sides = self.levels[locate] = ({}, {})
        lv = sides[0] if side > 0 else sides[1]
        level = lv.get(price)
        if level is None:
            lv[price] = [shares, 1]
        else:
            level[0] += shares
            level[1] += 1

    def _remove(self, ref: int, shares: int) -> None:
        """Take ``shares`` off order ``ref``; delete it when nothing is left."""
        o = self.orders.get(ref)
        if o is None:
            self.unknown_refs += 1
            return
        locate, side, price, left = o
        if shares > left:
            self.anomalies += 1
            shares = left
        sides = self.levels[locate]
        lv = sides[0] if side > 0 else sides[1]
        level = lv[price]
        level[0] -= shares
        if shares == left:
            del self.orders[ref]
            level[1] -= 1
            if level[1] == 0:
                del lv[price]
        else:
            o[3] = left - shares

    def apply(self, t: tuple) -> None:
        """Apply one message in the streaming parser's tuple form (other types are ignored)."""
        self.messages += 1
        k = t[0]
        if k in ("A", "F"):
            self._add(t[4], t[1], BUY if t[5] == b"B" else SELL, t[8], t[6])
        elif k in ("E", "C", "X"):
            self._remove(t[4], t[5])
        elif k == "D":
            o = self.orders.get(t[4])
            if o is None:
                self.unknown_refs += 1
            else:
                self._remove(t[4], o[3])
        elif k == "U":
            o = self.orders.get(t[4])
            if o is None:
                self.unknown_refs += 1
            else:
                locate, side = o[0], o[1]
                self._remove(t[4], o[3])
                self._add(t[5], locate, side, t[7], t[6])
        elif k == "R":
            self.symbols[t[1]] = t[4].decode("latin-1").rstrip(" ")

    def apply_many(self, tuples: Iterable[tuple]) -> None:
        for t in tuples:
            self.apply(t)

    def apply_buffer(self, buf) -> int:
        """Decode a framed buffer with the vectorised decoder and apply its book messages.

        Returns the number of messages in the buffer (all types, book or not).
        """
        dec = decode(buf, types=BOOK_TYPES + "R")
        if "R" in dec.arrays:
            r = dec.arrays["R"]
            for loc, stock in zip(r["stock_locate"].tolist(), r["stock"].tolist()):
                self.symbols[loc] = stock.decode("latin-1").rstrip(" ")
        cols = _book_columns(dec)
        if cols is None:
            self.messages += len(dec)
            return len(dec)
        kinds, refs, locs, sides, prices, shares, new_refs = cols
        orders, levels = self.orders, self.levels
        slow_add, slow_remove = self._add, self._remove
        unknown = 0
        # The common cases are inlined (a method call costs as much as the work itself);
        # anything unusual (duplicate reference, over-execution, unknown order) takes the
        # general methods above, which count it.
        for k, ref, loc, side, price, qty, new_ref in zip(kinds, refs, locs, sides, prices, shares, new_refs):
            if k == _ADD:
                if ref in orders:
                    slow_add(ref, loc, side, price, qty)
                    continue
                orders[ref] = [loc, side, price, qty]
                sd = levels.get(loc)
                if sd is None:
                    sd = levels[loc] = ({}, {})
                lv = sd[0] if side > 0 else sd[1]
                level = lv.get(price)
                if level is None:
                    lv[price] = [qty, 1]
                else:
                    level[0] += qty
                    level[1] += 1
                continue
            o = orders.get(ref)
            if o is None:
                unknown += 1
                continue
            left = o[3]
            if k == _REPLACE:
                loc0, side0 = o[0], o[1]
                slow_remove(ref, left)
                slow_add(new_ref, loc0, side0, price, qty)
                continue
            if k == _DELETE:
                qty = left
            elif qty > left:
                slow_remove(ref, qty)  # over-execution: counted as an anomaly
                continue
            sd = levels[o[0]]
            lv = sd[0] if o[1] > 0 else sd[1]
            level = lv[o[2]]
            level[0] -= qty
            if qty < left:  # partial: the order keeps its place
                o[3] = left - qty
                continue
            del orders[ref]
            level[1] -= 1
            if level[1] == 0:
                del lv[o[2]]
        self.unknown_refs += unknown
        self.messages += len(dec)
        return len(dec)

    # --- views -----------------------------------------------------------------------------

    def locate_of(self, stock: str) -> int:
        for loc, sym in self.symbols.items():
            if sym == stock:
                return loc
        raise UnknownStockError(f"stock {stock!r} has no Stock Directory (R) message in this feed", None)

    def l2(self, locate: int, depth: int | None = None) -> L2Snapshot:
        """Aggregated levels of one stock, best first; ``price_ticks`` in Price(4) units."""
        bids, asks = self.levels.get(locate, ({}, {}))
        b = [L2Level(p, *bids[p]) for p in sorted(bids, reverse=True)[:depth]]
        a = [L2Level(p, *asks[p]) for p in sorted(asks)[:depth]]
        return L2Snapshot(self.symbols.get(locate, locate), tuple(b), tuple(a))

    def l3(self, locate: int) -> list[L3Order]:
        """Live orders of one stock (in arrival order of their current reference)."""
        return [
            L3Order(ref, side, price, shares, 0)
            for ref, (loc, side, price, shares) in self.orders.items()
            if loc == locate
        ]

    def best(self, locate: int) -> tuple[int | None, int | None]:
        bids, asks = self.levels.get(locate, ({}, {}))
        return (max(bids) if bids else None, min(asks) if asks else None)


def _book_columns(dec):
    """The seven book types as wire-ordered Python lists (kind, ref, locate, side, price, shares, new_ref)."""
    parts = []
    zeros = np.zeros
    for letter, arr in dec.arrays.items():
        if letter not in BOOK_TYPES:
            continue
        n = len(arr)
        off = dec.offsets[dec.types == ord(letter)]
        if letter in "AF":
            kind = _ADD
            side = np.where(arr["buy_sell_indicator"] == b"B", BUY, SELL)
            price, shares, ref, new_ref = arr["price"], arr["shares"], arr["order_reference_number"], zeros(n)
        elif letter in "EC":
            kind, side, price, new_ref = _EXEC, zeros(n), zeros(n), zeros(n)
            shares, ref = arr["executed_shares"], arr["order_reference_number"]
        elif letter == "X":
            kind, side, price, new_ref = _CANCEL, zeros(n), zeros(n), zeros(n)
            shares, ref = arr["cancelled_shares"], arr["order_reference_number"]
        elif letter == "D":
            kind, side, price, shares, new_ref = _DELETE, zeros(n), zeros(n), zeros(n), zeros(n)
            ref = arr["order_reference_number"]
        else:  # U
            kind, side = _REPLACE, zeros(n)
            ref, new_ref = arr["original_order_reference_number"], arr["new_order_reference_number"]
            price, shares = arr["price"], arr["shares"]
        parts.append((off, np.full(n, kind), ref, arr["stock_locate"], side, price, shares, new_ref))
    if not parts:
        return None
    cols = [np.concatenate([p[i] for p in parts]) for i in range(8)]
    order = np.argsort(cols[0], kind="stable")
    return [c[order].astype(np.int64).tolist() for c in cols[1:]]


def reference_l2(tuples: Iterable[tuple], locate: int) -> tuple[list[tuple], list[tuple]]:
    """A deliberately simple book for tests: replay every message into a dict of orders, then
    aggregate by scanning all of them. Returns (bids, asks) as [(price, shares, orders)] best first."""
    orders: dict[int, dict] = {}
    for t in tuples:
        k = t[0]
        if k in ("A", "F"):
            orders[t[4]] = {"loc": t[1], "side": t[5], "price": t[8], "shares": t[6]}
        elif k in ("E", "C", "X") and t[4] in orders:
            orders[t[4]]["shares"] -= t[5]
            if orders[t[4]]["shares"] <= 0:
                del orders[t[4]]
        elif k == "D" and t[4] in orders:
            del orders[t[4]]
        elif k == "U" and t[4] in orders:
            old = orders.pop(t[4])
            orders[t[5]] = {"loc": old["loc"], "side": old["side"], "price": t[7], "shares": t[6]}
    out = {}
    for side in (b"B", b"S"):
        agg: dict[int, list[int]] = {}
        for o in orders.values():
            if o["loc"] == locate and o["side"] == side:
                a = agg.setdefault(o["price"], [0, 0])
                a[0] += o["shares"]
                a[1] += 1
        out[side] = [(p, *agg[p]) for p in sorted(agg, reverse=(side == b"B"))]
    return out[b"B"], out[b"S"]
