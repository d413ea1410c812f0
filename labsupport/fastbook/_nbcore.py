"""The matching kernel compiled by Numba: the whole event loop in ``@njit(cache=True)``.

Every function here is compiled to machine code on first use and cached on disk next to this
file (``cache=True``), so a later process loads it in a second or two instead of paying the
compile again. :func:`run` takes the engine's arrays (see :mod:`.layout`) and a 2-D int64
event array and applies events from ``start`` until the end or until a buffer needs the owner
(a status from :mod:`.layout`); it returns ``(status, next_event_index)`` and leaves the last
event's result (what Lab 02 returns) in ``meta[M_RESULT]``. There is one entry point on
purpose: a single event is a one-row batch, so the whole inlined kernel is compiled once,
not once per entry point (the compile is the expensive part of Numba, see the bench).

Why the loop itself must be compiled: calling a jitted function from the interpreter costs a
dispatch and an unboxing of every argument (about a microsecond with seven arrays), and the
``numba.typed.Dict``/``List`` containers are slower than Python's own when driven from Python
(each call crosses the boundary). Inside compiled code they cost what C costs, so the engine
crosses the boundary once per batch, not once per event, and uses plain arrays throughout.

The helpers on every event's path are inlined into :func:`run` (``inline="always"``): a call
between jitted functions passes each array as a struct and increments and decrements its
reference count, which on this loop cost a third of the time (measured: 2.9 M events per CPU
second with calls, 4.3 M inlined, on a loaded machine); the price is a longer first compile,
so the cold and the long-and-repeated ones (window re-centring, the PnL arithmetic, report
rows) stay calls. The book half (window, FIFOs, matching) is :mod:`._nbbook`, the PnL and
reports :mod:`._nbpnl`; this module is validation, dispatch and the room check.

Numba's on-disk cache watches the file of the cached function only (its modification time and
size), not the modules whose functions were inlined into it: an edit of :mod:`._nbbook`,
:mod:`._nbpnl` or :mod:`.layout` alone would leave a stale kernel in the cache. Hence
``HELPERS_DIGEST`` below, a digest of those three files that a test recomputes: edit one of
them and the test says to update the digest here, which changes this file and so invalidates
the cache.

The algorithm is the one Lab 02's :class:`~labsupport.orderbook.book.OrderBook` runs, rule for
rule (validation order, reject reasons, FOK check, priority on modify); ``_cyengine.pyx`` is
its line-by-line Cython twin, and the tests hold all three engines to the naive reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._nbbook import available, ensure_window, match, rehash, remove, rest, slot_of
from ._nbpnl import journal, position, prehash
from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_RANK,
    E_ACCT,
    E_ACTION,
    E_BOOK,
    E_KEY,
    E_PRICE,
    E_QTY,
    E_SEQ,
    E_SIDE,
    E_TYPE,
    EMPTY_KEY,
    J_EXEC,
    J_REJECT,
    L_QTY,
    M_FIXED,
    M_FREE,
    M_HCOUNT,
    M_LIVE,
    M_NJOURNAL,
    M_NPOS,
    M_NRANK,
    M_NREJECTS,
    M_NTRADES,
    M_PNL,
    M_REJECT_TOTAL,
    M_REPORTS,
    M_RESULT,
    META_FIELDS,
    NEED_JOURNAL,
    NEED_POOL,
    NEED_POSITIONS,
    NEED_PTABLE,
    NEED_REJECTS,
    NEED_TABLE,
    NEED_TRADES,
    NEED_WIDTH,
    NO_ASK,
    NO_BOOK,
    OK,
    P_ACCT,
    P_BOOK,
    P_HPOS,
    P_POS,
    P_PREV,
    P_PRICE,
    P_QTY,
    P_SIDE,
    RC_ACTION,
    RC_DUPLICATE_ID,
    RC_FOK,
    RC_MISMATCH,
    RC_NOT_LIVE,
    RC_PRICE,
    RC_QTY,
    RC_SIDE,
    RC_SYMBOL,
    RC_TYPE,
    RC_UNKNOWN_ORDER,
    RC_WINDOW,
    S_CANCELED,
    S_EXPIRED,
    S_NEW,
    S_REPLACED,
)

__all__ = ["HELPERS", "HELPERS_DIGEST", "leaves", "prehash", "queue_position", "rehash", "run",
           "warm_up"]

HELPERS = ("_nbbook.py", "_nbpnl.py", "layout.py")
HELPERS_DIGEST = "bbf628cebf2d3d0a"
"""sha256 (first 16 hex digits) of the :data:`HELPERS` files, in order (see the docstring)."""

BUY, SELL, LIMIT, MARKET, FOK = 1, -1, 0, 1, 3
ADD, CANCEL, MODIFY = 0, 1, 2


@njit(cache=True, inline="always")
def _reject(meta, rejects, rows, seq, key, reason):
    n = meta[M_NREJECTS]
    rejects[n, 0] = seq
    rejects[n, 1] = key
    rejects[n, 2] = reason
    meta[M_NREJECTS] = n + 1
    meta[M_REJECT_TOTAL] += 1
    if meta[M_REPORTS]:
        journal(meta, rows, J_REJECT, seq, 0, key, 0, 0, 0, 0, 0)
    return -1


@njit(cache=True, inline="always")
def _add(meta, pool, table, books, levels, trades, rejects, positions, ptable, rows, seq, b,
         key, side, otype, price, qty, acct):
    if side != BUY and side != SELL:
        return OK, _reject(meta, rejects, rows, seq, key, RC_SIDE)
    if otype < LIMIT or otype > FOK:
        return OK, _reject(meta, rejects, rows, seq, key, RC_TYPE)
    if qty <= 0:
        return OK, _reject(meta, rejects, rows, seq, key, RC_QTY)
    if otype != MARKET and price <= 0:
        return OK, _reject(meta, rejects, rows, seq, key, RC_PRICE)
    if books[b, B_RANK] < 0:
        if meta[M_FIXED]:
            return OK, _reject(meta, rejects, rows, seq, key, RC_SYMBOL)
        books[b, B_RANK] = meta[M_NRANK]
        meta[M_NRANK] += 1
    hpos = slot_of(table, key)
    if table[0, hpos] == key:
        return OK, _reject(meta, rejects, rows, seq, key, RC_DUPLICATE_ID)
    if otype == LIMIT:
        st = ensure_window(meta, books, levels, b, price)
        if st == NEED_WIDTH:
            return st, 0
        if st < 0:
            return OK, _reject(meta, rejects, rows, seq, key, RC_WINDOW)
    table[0, hpos] = key  # accepted: the id is used from now on
    table[1, hpos] = -1
    meta[M_HCOUNT] += 1
    pslot = position(meta, positions, ptable, acct, b) if meta[M_PNL] else -1
    if side == BUY:
        limit = NO_ASK - 1 if otype == MARKET else price
        opp = books[b, B_ASK]
    else:
        limit = 1 if otype == MARKET else price
        opp = books[b, B_BID]
    if otype == FOK and available(meta, books, levels, b, side, limit, qty) < qty:
        return OK, _reject(meta, rejects, rows, seq, key, RC_FOK)
    left = qty
    if side * opp <= side * limit:
        left = match(meta, pool, table, books, levels, trades, positions, rows, b, seq, key,
                     side, acct, pslot, qty, limit)
        if left == 0:
            return OK, 0
    if otype != LIMIT:
        if meta[M_REPORTS]:
            journal(meta, rows, J_EXEC, seq, b, key, acct, S_EXPIRED, 0, 0, 0)
        return OK, left
    rest(meta, pool, table, books, levels, b, hpos, key, side, price, left, acct, pslot)
    if left == qty and meta[M_REPORTS]:
        journal(meta, rows, J_EXEC, seq, b, key, acct, S_NEW, 0, 0, left)
    return OK, left


@njit(cache=True, inline="always")
def _live_slot(meta, pool, table, rejects, rows, seq, b, key):
    """Pool slot of live order ``key`` (checked against book ``b``), or -1 after a reject."""
    hpos = slot_of(table, key)
    if table[0, hpos] != key:
        return _reject(meta, rejects, rows, seq, key, RC_UNKNOWN_ORDER)
    s = table[1, hpos]
    if s < 0:
        return _reject(meta, rejects, rows, seq, key, RC_NOT_LIVE)
    if b != NO_BOOK and pool[P_BOOK, s] != b:
        return _reject(meta, rejects, rows, seq, key, RC_MISMATCH)
    return s


@njit(cache=True, inline="always")
def _modify(meta, pool, table, books, levels, trades, rejects, positions, rows, seq, b, key,
            price, qty):
    if qty <= 0:
        return OK, _reject(meta, rejects, rows, seq, key, RC_QTY)
    if price <= 0:
        return OK, _reject(meta, rejects, rows, seq, key, RC_PRICE)
    s = _live_slot(meta, pool, table, rejects, rows, seq, b, key)
    if s < 0:
        return OK, -1
    bk = pool[P_BOOK, s]
    acct = pool[P_ACCT, s]
    if price == pool[P_PRICE, s] and qty <= pool[P_QTY, s]:  # in place: priority kept
        if meta[M_REPORTS]:
            journal(meta, rows, J_EXEC, seq, bk, key, acct, S_REPLACED, 0, 0, qty)
        levels[bk, price - books[bk, B_BASE], L_QTY] -= pool[P_QTY, s] - qty
        pool[P_QTY, s] = qty
        return OK, qty
    st = ensure_window(meta, books, levels, bk, price)
    if st == NEED_WIDTH:
        return st, 0
    if st < 0:
        return OK, _reject(meta, rejects, rows, seq, key, RC_WINDOW)
    if meta[M_REPORTS]:
        journal(meta, rows, J_EXEC, seq, bk, key, acct, S_REPLACED, 0, 0, qty)
    side = pool[P_SIDE, s]
    hpos = pool[P_HPOS, s]
    pslot = pool[P_POS, s]
    remove(meta, pool, table, books, levels, s)  # loses priority: re-enters as a new limit
    opp = books[bk, B_ASK] if side == BUY else books[bk, B_BID]
    if side * opp <= side * price:
        qty = match(meta, pool, table, books, levels, trades, positions, rows, bk, seq, key,
                    side, acct, pslot, qty, price)
        if qty == 0:
            return OK, 0
    rest(meta, pool, table, books, levels, bk, hpos, key, side, price, qty, acct, pslot)
    return OK, qty


@njit(cache=True, inline="always")
def _room(meta, table, trades, rejects, positions, ptable, rows):
    """OK if the worst case of one event fits every buffer, else what must grow first."""
    if meta[M_FREE] < 0:
        return NEED_POOL
    if 2 * (meta[M_HCOUNT] + 1) > table.shape[1]:
        return NEED_TABLE
    if trades.shape[0] - meta[M_NTRADES] < meta[M_LIVE] + 1:
        return NEED_TRADES
    if rejects.shape[0] - meta[M_NREJECTS] < 1:
        return NEED_REJECTS
    if meta[M_PNL]:
        if meta[M_NPOS] >= positions.shape[1]:
            return NEED_POSITIONS
        if 2 * (meta[M_NPOS] + 1) > ptable.shape[1]:
            return NEED_PTABLE
    if meta[M_REPORTS] and rows.shape[0] - meta[M_NJOURNAL] < 3 * meta[M_LIVE] + 5:
        return NEED_JOURNAL
    return OK


@njit(cache=True, inline="always")
def _event(meta, pool, table, books, levels, trades, rejects, positions, ptable, rows, seq, b,
           action, key, side, otype, price, qty, acct):
    if action == ADD:
        return _add(meta, pool, table, books, levels, trades, rejects, positions, ptable, rows,
                    seq, b, key, side, otype, price, qty, acct)
    if action == CANCEL:
        s = _live_slot(meta, pool, table, rejects, rows, seq, b, key)
        if s < 0:
            return OK, -1
        if meta[M_REPORTS]:
            journal(meta, rows, J_EXEC, seq, pool[P_BOOK, s], key, pool[P_ACCT, s],
                    S_CANCELED, 0, 0, 0)
        remove(meta, pool, table, books, levels, s)
        return OK, 0
    if action == MODIFY:
        return _modify(meta, pool, table, books, levels, trades, rejects, positions, rows, seq,
                       b, key, price, qty)
    return OK, _reject(meta, rejects, rows, seq, key, RC_ACTION)


@njit(cache=True)
def run(meta, pool, table, books, levels, trades, rejects, positions, ptable, rows, events,
        start):
    """Apply ``events[start:]``; return (status, index of the first event not applied)."""
    for i in range(start, events.shape[0]):
        st = _room(meta, table, trades, rejects, positions, ptable, rows)
        if st != OK:
            return st, i
        st, r = _event(meta, pool, table, books, levels, trades, rejects, positions, ptable,
                       rows, events[i, E_SEQ], events[i, E_BOOK], events[i, E_ACTION],
                       events[i, E_KEY], events[i, E_SIDE], events[i, E_TYPE],
                       events[i, E_PRICE], events[i, E_QTY], events[i, E_ACCT])
        if st != OK:
            return st, i
        meta[M_RESULT] = r
    return OK, events.shape[0]


@njit(cache=True)
def leaves(table, pool, key):
    """Leaves quantity of order ``key`` while it rests, 0 once filled or cancelled (or never
    seen): one probe, O(1). A read for a strategy trading inside the book, off the event path
    (twin of the Cython ``Kernel.leaves``)."""
    i = slot_of(table, key)
    if table[0, i] != key:
        return 0
    s = table[1, i]
    return pool[P_QTY, s] if s >= 0 else 0


@njit(cache=True)
def queue_position(table, pool, key):
    """``(orders ahead, shares ahead)`` of resting order ``key`` in its level's FIFO, or
    ``(-1, -1)``: the ``P_PREV`` links walked to the head (twin of ``Kernel.queue_position``)."""
    i = slot_of(table, key)
    if table[0, i] != key or table[1, i] < 0:
        return -1, -1
    n = 0
    q = 0
    s = pool[P_PREV, table[1, i]]
    while s >= 0:
        n += 1
        q += pool[P_QTY, s]
        s = pool[P_PREV, s]
    return n, q


def warm_up() -> None:
    """Compile (or load from the cache) :func:`run`, :func:`rehash`, :func:`prehash` and the
    two order reads with the engine's argument types (every array int64, C-contiguous)."""
    z = np.zeros
    meta = z(META_FIELDS, np.int64)
    meta[M_FREE] = -1
    table = np.full((2, 2), EMPTY_KEY, np.int64)
    pool = z((P_POS + 1, 1), np.int64)
    ptable = np.full((3, 2), EMPTY_KEY, np.int64)
    run(meta, pool, table, z((1, B_RANK + 3), np.int64), z((1, 1, 4), np.int64),
        z((1, 9), np.int64), z((1, 3), np.int64), z((8, 1), np.int64), ptable,
        z((1, 9), np.int64), z((0, 9), np.int64), 0)
    rehash(table, np.full((2, 4), EMPTY_KEY, np.int64), pool)
    prehash(z((8, 1), np.int64), 0, np.full((3, 4), EMPTY_KEY, np.int64))
    leaves(table, pool, 0)
    queue_position(table, pool, 0)
