"""L2 price levels kept beside an engine that does not publish incremental depth.

What it mirrors: the depth a venue's market-data publisher derives from the matching engine's
execution reports (an ITCH-to-L2 aggregator does the same from order messages). Lab 11's
compiled engine reports trades, execution reports and rejects but not L2 updates, so the
matcher keeps, per symbol, each level's total quantity and order count, and per resting order
its side, price and leaves.

Theory of operation. The levels one event can change are known from what it produced: the
order's own price and side (it rests), the resting orders its fills hit (each report carries
the resting order's leaves afterwards), and the order a cancel or a replace takes out (its
old price and leaves). :meth:`LevelBook.apply` moves those levels, remembering each one's state
before its first move, and returns one ``[side, price, qty, orders]`` update per level whose
state differs afterwards (``qty`` 0 means the level is gone): the same updates Lab 02's
engine publishes, in the same wire form. The tests rebuild the book from these updates and
compare it with the engine's own depth after every event.
"""

from __future__ import annotations

from collections.abc import Iterable

from labsupport.orderbook import Status

__all__ = ["LevelBook"]

_REPLACED, _CANCELED = Status.REPLACED, Status.CANCELED


class LevelBook:
    """Each symbol's levels ``{(side, price): [qty, orders]}`` and each resting order."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.books: dict[str, dict[tuple[int, int], list[int]]] = {s: {} for s in symbols}
        self.live: dict[object, list[int]] = {}  # order id -> [side, price, leaves]

    def apply(self, symbol: str, reports: list, order_id: object, side: int | None,
              price: int | None, rests: int) -> list[list[int]]:
        """Apply one event's execution ``reports``; ``rests`` is what the event's own order
        (``order_id``, a new order or a replace to ``price``) leaves resting afterwards.
        Returns the L2 updates of the levels that changed."""
        book, live = self.books[symbol], self.live
        before: dict[tuple[int, int], tuple[int, int]] = {}

        def move(key: tuple[int, int], dq: int, dn: int) -> None:
            lv = book.get(key)
            if lv is None:
                lv = book[key] = [0, 0]
            if key not in before:
                before[key] = (lv[0], lv[1])
            lv[0] += dq
            lv[1] += dn
            if not lv[1]:
                del book[key]

        for r in reports:
            o = live.get(r.order_id)
            if o is None:  # the event's own order matching, or a report of no resting order
                continue
            st = r.status
            if st is _REPLACED or st is _CANCELED:
                del live[r.order_id]
                move((o[0], o[1]), -o[2], -1)
                if side is None:
                    side = o[0]
            elif r.last_qty:  # a fill of a resting order
                o[2] = r.leaves_qty
                gone = not r.leaves_qty
                if gone:
                    del live[r.order_id]
                move((o[0], o[1]), -r.last_qty, -1 if gone else 0)
        if rests > 0 and side is not None and price is not None:
            live[order_id] = [side, price, rests]
            move((side, price), rests, 1)
        out = []
        for key, was in before.items():
            lv = book.get(key)
            now = (lv[0], lv[1]) if lv is not None else (0, 0)
            if now != was:
                out.append([key[0], key[1], now[0], now[1]])
        return out

    def depth(self, symbol: str, side: int) -> list[tuple[int, int, int]]:
        """``(price, qty, orders)`` of one side, best first (for the tests)."""
        rows = [(px, q, n) for (s, px), (q, n) in self.books[symbol].items() if s == side]
        return sorted(rows, reverse=side == 1)
