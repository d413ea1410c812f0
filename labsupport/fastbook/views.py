"""Read-only views of a :class:`~.engine.FastEngine`'s arrays: one book's depth and orders.

:class:`BookView` answers what Lab 02's ``OrderBook`` answers for people and files (``depth``,
``orders``, best prices), by reading the level window and walking each level's FIFO through the
pool's ``next`` links. :func:`probe` is the kernels' hash-table probe written in Python, for
``is_live`` and the invariant checks. None of this is on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..orderbook.types import BUY, L2Level, L3Order
from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_TRADES,
    EMPTY_KEY,
    L_COUNT,
    L_HEAD,
    L_QTY,
    NO_ASK,
    NO_BID,
    P_ACCT,
    P_KEY,
    P_NEXT,
    P_QTY,
    P_SIDE,
)

if TYPE_CHECKING:
    from .engine import FastEngine


def probe(table: np.ndarray, key: int) -> int:
    """The kernels' hash-table probe in Python (for views and tests): the bucket of ``key``
    or the empty bucket where it would go."""
    mask = table.shape[1] - 1
    h = (key * -7046029254386353131) & ((1 << 64) - 1)
    h = h - (1 << 64) if h >= 1 << 63 else h
    i = (h ^ (h >> 29)) & mask
    while table[0, i] != key and table[0, i] != EMPTY_KEY:
        i = (i + 1) & mask
    return i


class BookView:
    """One book of a :class:`FastEngine`, with the views Lab 02's ``OrderBook`` has."""

    def __init__(self, engine: FastEngine, b: int) -> None:
        self.engine, self.index = engine, b
        self.symbol = engine._names[b]

    def _occupied(self, side: int) -> list[int]:
        e, b = self.engine, self.index
        counts = e.levels[b, :, L_COUNT]
        offs = np.flatnonzero(counts).tolist()
        heads = e.levels[b, :, L_HEAD]
        offs = [o for o in offs if e.pool[P_SIDE, heads[o]] == side]
        return offs[::-1] if side == BUY else offs

    def depth(self, side: int, n: int | None = None) -> list[L2Level]:
        e, b = self.engine, self.index
        base = int(e.books[b, B_BASE])
        lv = e.levels[b]
        offs = self._occupied(side)[:n] if n is not None else self._occupied(side)
        return [L2Level(base + o, int(lv[o, L_QTY]), int(lv[o, L_COUNT])) for o in offs]

    def orders(self, side: int) -> Iterator[L3Order]:
        e, b = self.engine, self.index
        base = int(e.books[b, B_BASE])
        pool, oid, acct = e.pool, e.ids.name, e.accounts.name
        for o in self._occupied(side):
            s = int(e.levels[b, o, L_HEAD])
            while s >= 0:
                yield L3Order(oid(int(pool[P_KEY, s])), side, base + o, int(pool[P_QTY, s]),
                              acct(int(pool[P_ACCT, s])))
                s = int(pool[P_NEXT, s])

    @property
    def best_bid_price(self) -> int | None:
        p = int(self.engine.books[self.index, B_BID])
        return None if p == NO_BID else p

    @property
    def best_ask_price(self) -> int | None:
        p = int(self.engine.books[self.index, B_ASK])
        return None if p == NO_ASK else p

    @property
    def trade_count(self) -> int:
        return int(self.engine.books[self.index, B_TRADES])

    def __repr__(self) -> str:
        return f"BookView({self.symbol!r}, bid={self.best_bid_price}, ask={self.best_ask_price})"
