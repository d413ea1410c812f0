"""Invariants of a :class:`~.engine.FastEngine`'s arrays: what must hold after every event.

The array twin of :mod:`labsupport.orderbook.checks`. For every book: each occupied level's
FIFO is a well-formed doubly linked list (``prev`` of the head is -1, ``next``/``prev`` agree,
the tail is the last) whose orders are live, on that book, at that price and on one side;
the level's quantity and count are the sums over its list; the cached best bid and best ask
are the best occupied prices, the level counts per side are right, the book is not crossed and
every level sits inside the window. Engine-wide: each live order's id maps to its slot in the
hash table, the table has exactly ``live`` live entries, and live orders plus the free list
account for every pool slot (nothing leaks). Positions are then checked as Lab 02 does.
Raises :class:`~labsupport.orderbook.checks.InvariantError`; O(pool + window): for tests.
"""

from __future__ import annotations

import numpy as np

from ..orderbook.checks import InvariantError, check_positions
from ..orderbook.types import BUY, SELL
from .engine import FastEngine
from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_NASK,
    B_NBID,
    B_RANK,
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_TAIL,
    M_FREE,
    M_LIVE,
    NO_ASK,
    NO_BID,
    P_BOOK,
    P_HPOS,
    P_KEY,
    P_NEXT,
    P_PREV,
    P_PRICE,
    P_QTY,
    P_SIDE,
)
from .views import probe


def _fail(msg: str) -> None:
    raise InvariantError(msg)


def check_book(engine: FastEngine, b: int) -> int:
    """Check book ``b``; return its number of live orders."""
    pool, lv, bk = engine.pool, engine.levels[b], engine.books[b]
    base = int(bk[B_BASE])
    name = engine._names[b]
    n_live, sides = 0, {BUY: [], SELL: []}
    for off in np.flatnonzero(lv[:, L_COUNT] != 0).tolist():
        price = base + off
        s, prev, qty, count, side = int(lv[off, L_HEAD]), -1, 0, 0, None
        while s >= 0:
            if int(pool[P_PREV, s]) != prev:
                _fail(f"{name}@{price}: slot {s} prev link broken")
            if int(pool[P_BOOK, s]) != b or int(pool[P_PRICE, s]) != price or pool[P_QTY, s] <= 0:
                _fail(f"{name}@{price}: slot {s} misfiled or empty")
            side = int(pool[P_SIDE, s]) if side is None else side
            if int(pool[P_SIDE, s]) != side:
                _fail(f"{name}@{price}: bids and asks in one level")
            key = int(pool[P_KEY, s])
            h = int(pool[P_HPOS, s])
            if h != probe(engine.table, key) or engine.table[1, h] != s:
                _fail(f"{name}@{price}: id {key} does not map to slot {s}")
            qty += int(pool[P_QTY, s])
            count += 1
            prev, s = s, int(pool[P_NEXT, s])
            if count > pool.shape[1]:
                _fail(f"{name}@{price}: FIFO has a cycle")
        if prev != int(lv[off, L_TAIL]) or count != int(lv[off, L_COUNT]) \
                or qty != int(lv[off, L_QTY]):
            _fail(f"{name}@{price}: level totals or tail disagree with its FIFO")
        sides[side].append(price)
        n_live += count
    bids, asks = sides[BUY], sides[SELL]
    if int(bk[B_BID]) != (max(bids) if bids else NO_BID) or \
            int(bk[B_ASK]) != (min(asks) if asks else NO_ASK):
        _fail(f"{name}: cached best {bk[B_BID]}/{bk[B_ASK]} wrong")
    if int(bk[B_NBID]) != len(bids) or int(bk[B_NASK]) != len(asks):
        _fail(f"{name}: level counts wrong")
    if bids and asks and max(bids) >= min(asks):
        _fail(f"{name}: crossed book")
    if (bids or asks) and bk[B_RANK] < 0:
        _fail(f"{name}: orders in a book that does not exist")
    # Nothing outside the occupied levels: empty levels are fully reset.
    empty = lv[:, L_COUNT] == 0
    if (lv[empty, L_HEAD] != -1).any() or (lv[empty, L_TAIL] != -1).any() \
            or (lv[empty, L_QTY] != 0).any():
        _fail(f"{name}: an empty level keeps links or quantity")
    return n_live


def check_invariants(engine: FastEngine) -> None:
    live = sum(check_book(engine, b) for b in range(len(engine._names)))
    if live != int(engine.meta[M_LIVE]):
        _fail(f"books hold {live} orders, the engine counts {engine.meta[M_LIVE]}")
    if int((engine.table[1] >= 0).sum()) != live:
        _fail("the id table's live entries do not match the live orders")
    free, s = 0, int(engine.meta[M_FREE])
    while s >= 0:
        free += 1
        s = int(engine.pool[P_NEXT, s])
        if free > engine.pool.shape[1]:
            _fail("free list has a cycle")
    if free + live != engine.pool.shape[1]:
        _fail(f"pool leak: {free} free + {live} live != {engine.pool.shape[1]} slots")
    check_positions(engine)
