"""The matching kernel compiled by Numba: the whole event loop in ``@njit(cache=True)``.

Every function here is compiled to machine code on first use and cached on disk next to this
file (``cache=True``), so a later process loads it in a fraction of a second instead of paying
the compile again. :func:`run` takes the engine's arrays (see :mod:`.layout`) and a 2-D int64
event array and applies events from ``start`` until the end or until a buffer needs the owner
(a status from :mod:`.layout`); it returns ``(status, next_event_index)``. :func:`step` applies
one event given as scalars and returns ``(status, result)``.

Why the loop itself must be compiled: calling a jitted function from the interpreter costs a
dispatch and an unboxing of every argument (about a microsecond with seven arrays), and the
``numba.typed.Dict``/``List`` containers are slower than Python's own when driven from Python
(each call crosses the boundary). Inside compiled code they cost what C costs, so the engine
crosses the boundary once per batch, not once per event, and uses plain arrays throughout.

Every helper is inlined into :func:`run` and :func:`step` (``inline="always"``): a call between
jitted functions passes each array as a struct and increments and decrements its reference
count, which on this loop cost a third of the time (measured: 2.9 M events per CPU second with
calls, 4.3 M inlined, on a loaded machine); the price is a longer first compile.

The algorithm is the one Lab 02's :class:`~labsupport.orderbook.book.OrderBook` runs, rule for
rule (validation order, reject reasons, FOK check, priority on modify); ``_cyengine.pyx`` is
its line-by-line Cython twin, and the tests hold all three engines to the naive reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_NASK,
    B_NBID,
    B_RANK,
    B_TRADES,
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
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_TAIL,
    M_FIXED,
    M_FREE,
    M_HCOUNT,
    M_LIVE,
    M_MAXWIDTH,
    M_NRANK,
    M_NREJECTS,
    M_NTRADES,
    M_REJECT_TOTAL,
    M_TRADE_TOTAL,
    M_WIDTH,
    NEED_POOL,
    NEED_REJECTS,
    NEED_TABLE,
    NEED_TRADES,
    NEED_WIDTH,
    NO_ASK,
    NO_BID,
    NO_BOOK,
    OK,
    P_ACCT,
    P_BOOK,
    P_HPOS,
    P_KEY,
    P_NEXT,
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
)

BUY, SELL, LIMIT, MARKET, FOK = 1, -1, 0, 1, 3
ADD, CANCEL, MODIFY = 0, 1, 2
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64 (Fibonacci hashing)


@njit(cache=True, inline="always")
def _slot_of(table, key):
    """Bucket holding ``key``, or the empty bucket where it would go (linear probing)."""
    mask = table.shape[1] - 1
    h = key * _GOLDEN
    i = (h ^ (h >> 29)) & mask
    while True:
        k = table[0, i]
        if k == key or k == EMPTY_KEY:  # noqa: SIM109 (two compares, no tuple)
            return i
        i = (i + 1) & mask


@njit(cache=True)
def rehash(old, new, pool):
    """Move every entry of ``old`` into the (empty, larger) ``new`` table."""
    for i in range(old.shape[1]):
        k = old[0, i]
        if k != EMPTY_KEY:
            j = _slot_of(new, k)
            new[0, j] = k
            v = old[1, i]
            new[1, j] = v
            if v >= 0:
                pool[P_HPOS, v] = j


@njit(cache=True, inline="always")
def _reject(meta, rejects, seq, key, reason):
    n = meta[M_NREJECTS]
    rejects[n, 0] = seq
    rejects[n, 1] = key
    rejects[n, 2] = reason
    meta[M_NREJECTS] = n + 1
    meta[M_REJECT_TOTAL] += 1
    return -1


@njit(cache=True)
def _ensure_window(meta, books, levels, b, price):
    """Make ``price`` addressable in book ``b``: OK, NEED_WIDTH, or -1 (beyond the limit)."""
    width = meta[M_WIDTH]
    base = books[b, B_BASE]
    if base >= 0 and base <= price < base + width:
        return OK
    if books[b, B_NBID] + books[b, B_NASK] == 0:
        books[b, B_BASE] = max(0, price - width // 2)
        return OK
    lo = 0
    while levels[b, lo, L_COUNT] == 0:
        lo += 1
    hi = width - 1
    while levels[b, hi, L_COUNT] == 0:
        hi -= 1
    lo_p = min(base + lo, price)
    hi_p = max(base + hi, price)
    span = hi_p - lo_p + 1
    if span > meta[M_MAXWIDTH]:
        return -1
    if span > width:
        return NEED_WIDTH
    new_base = max(0, lo_p - (width - span) // 2)
    row = levels[b].copy()
    for o in range(width):
        levels[b, o, L_HEAD] = -1
        levels[b, o, L_TAIL] = -1
        levels[b, o, L_QTY] = 0
        levels[b, o, L_COUNT] = 0
    shift = base - new_base
    for o in range(lo, hi + 1):
        if row[o, L_COUNT] > 0:
            for f in range(4):
                levels[b, o + shift, f] = row[o, f]
    books[b, B_BASE] = new_base
    return OK


@njit(cache=True, inline="always")
def _next_level(books, levels, b, off, step):
    """Next occupied offset from ``off`` in direction ``step`` (one exists)."""
    off += step
    while levels[b, off, L_COUNT] == 0:
        off += step
    return books[b, B_BASE] + off


@njit(cache=True, inline="always")
def _remove(meta, pool, table, books, levels, s):
    """Unlink resting order ``s`` from its level, mark its id dead, free the slot."""
    b = pool[P_BOOK, s]
    price = pool[P_PRICE, s]
    off = price - books[b, B_BASE]
    prv = pool[P_PREV, s]
    nxt = pool[P_NEXT, s]
    if prv >= 0:
        pool[P_NEXT, prv] = nxt
    else:
        levels[b, off, L_HEAD] = nxt
    if nxt >= 0:
        pool[P_PREV, nxt] = prv
    else:
        levels[b, off, L_TAIL] = prv
    levels[b, off, L_QTY] -= pool[P_QTY, s]
    levels[b, off, L_COUNT] -= 1
    if levels[b, off, L_COUNT] == 0:
        if pool[P_SIDE, s] == BUY:
            books[b, B_NBID] -= 1
            if price == books[b, B_BID]:
                books[b, B_BID] = NO_BID if books[b, B_NBID] == 0 else \
                    _next_level(books, levels, b, off, -1)
        else:
            books[b, B_NASK] -= 1
            if price == books[b, B_ASK]:
                books[b, B_ASK] = NO_ASK if books[b, B_NASK] == 0 else \
                    _next_level(books, levels, b, off, 1)
    table[1, pool[P_HPOS, s]] = -1
    pool[P_QTY, s] = 0
    pool[P_NEXT, s] = meta[M_FREE]
    meta[M_FREE] = s
    meta[M_LIVE] -= 1


@njit(cache=True, inline="always")
def _rest(meta, pool, table, books, levels, b, hpos, key, side, price, qty, acct):
    """Append a new order at the tail of its level (the window already holds ``price``)."""
    s = meta[M_FREE]
    meta[M_FREE] = pool[P_NEXT, s]
    pool[P_QTY, s] = qty
    pool[P_PRICE, s] = price
    pool[P_SIDE, s] = side
    pool[P_BOOK, s] = b
    pool[P_ACCT, s] = acct
    pool[P_KEY, s] = key
    pool[P_NEXT, s] = -1
    pool[P_HPOS, s] = hpos
    table[1, hpos] = s
    off = price - books[b, B_BASE]
    tail = levels[b, off, L_TAIL]
    pool[P_PREV, s] = tail
    if tail < 0:
        levels[b, off, L_HEAD] = s
        if side == BUY:
            books[b, B_NBID] += 1
            if price > books[b, B_BID]:
                books[b, B_BID] = price
        else:
            books[b, B_NASK] += 1
            if price < books[b, B_ASK]:
                books[b, B_ASK] = price
    else:
        pool[P_NEXT, tail] = s
    levels[b, off, L_TAIL] = s
    levels[b, off, L_QTY] += qty
    levels[b, off, L_COUNT] += 1
    meta[M_LIVE] += 1


@njit(cache=True, inline="always")
def _match(meta, pool, table, books, levels, trades, b, seq, key, side, acct, qty, limit):
    """Trade against the opposite side up to ``limit`` (price-time priority); return leaves."""
    if side == BUY:
        bf, nf, step = B_ASK, B_NASK, 1
    else:
        bf, nf, step = B_BID, B_NBID, -1
    base = books[b, B_BASE]
    best = books[b, bf]
    nt = meta[M_NTRADES]
    fills = 0
    while qty > 0 and side * best <= side * limit:
        off = best - base
        while True:
            s = levels[b, off, L_HEAD]
            rq = pool[P_QTY, s]
            fill = rq if rq < qty else qty
            trades[nt, 0] = seq
            trades[nt, 1] = b
            trades[nt, 2] = best
            trades[nt, 3] = fill
            trades[nt, 4] = key
            trades[nt, 5] = pool[P_KEY, s]
            trades[nt, 6] = side
            trades[nt, 7] = acct
            trades[nt, 8] = pool[P_ACCT, s]
            nt += 1
            fills += 1
            qty -= fill
            if fill == rq:  # the resting order is filled: pop it from the head
                nxt = pool[P_NEXT, s]
                levels[b, off, L_HEAD] = nxt
                if nxt >= 0:
                    pool[P_PREV, nxt] = -1
                else:
                    levels[b, off, L_TAIL] = -1
                levels[b, off, L_QTY] -= rq
                levels[b, off, L_COUNT] -= 1
                table[1, pool[P_HPOS, s]] = -1
                pool[P_QTY, s] = 0
                pool[P_NEXT, s] = meta[M_FREE]
                meta[M_FREE] = s
                meta[M_LIVE] -= 1
            else:
                pool[P_QTY, s] = rq - fill
                levels[b, off, L_QTY] -= fill
            if qty == 0 or levels[b, off, L_COUNT] == 0:
                break
        if levels[b, off, L_COUNT] > 0:
            break
        books[b, nf] -= 1
        if books[b, nf] == 0:
            best = NO_ASK if side == BUY else NO_BID
        else:
            best = _next_level(books, levels, b, off, step)
    books[b, bf] = best
    meta[M_NTRADES] = nt
    books[b, B_TRADES] += fills
    meta[M_TRADE_TOTAL] += fills
    return qty


@njit(cache=True, inline="always")
def _available(meta, books, levels, b, side, limit, need):
    """Opposite quantity at prices acceptable to ``limit``; stops once ``need`` is reached."""
    if side == BUY:
        best, n, step = books[b, B_ASK], books[b, B_NASK], 1
    else:
        best, n, step = books[b, B_BID], books[b, B_NBID], -1
    if n == 0 or side * best > side * limit:
        return 0
    base = books[b, B_BASE]
    width = meta[M_WIDTH]
    off = best - base
    total = 0
    seen = 0
    while 0 <= off < width and side * (base + off) <= side * limit:
        if levels[b, off, L_COUNT] > 0:
            total += levels[b, off, L_QTY]
            seen += 1
            if total >= need or seen == n:
                break
        off += step
    return total


@njit(cache=True, inline="always")
def _add(meta, pool, table, books, levels, trades, rejects, seq, b, key, side, otype, price,
         qty, acct):
    if side != BUY and side != SELL:
        return OK, _reject(meta, rejects, seq, key, RC_SIDE)
    if otype < LIMIT or otype > FOK:
        return OK, _reject(meta, rejects, seq, key, RC_TYPE)
    if qty <= 0:
        return OK, _reject(meta, rejects, seq, key, RC_QTY)
    if otype != MARKET and price <= 0:
        return OK, _reject(meta, rejects, seq, key, RC_PRICE)
    if books[b, B_RANK] < 0:
        if meta[M_FIXED]:
            return OK, _reject(meta, rejects, seq, key, RC_SYMBOL)
        books[b, B_RANK] = meta[M_NRANK]
        meta[M_NRANK] += 1
    hpos = _slot_of(table, key)
    if table[0, hpos] == key:
        return OK, _reject(meta, rejects, seq, key, RC_DUPLICATE_ID)
    if otype == LIMIT:
        st = _ensure_window(meta, books, levels, b, price)
        if st == NEED_WIDTH:
            return st, 0
        if st < 0:
            return OK, _reject(meta, rejects, seq, key, RC_WINDOW)
    table[0, hpos] = key
    table[1, hpos] = -1
    meta[M_HCOUNT] += 1
    if side == BUY:
        limit = NO_ASK - 1 if otype == MARKET else price
        opp = books[b, B_ASK]
    else:
        limit = 1 if otype == MARKET else price
        opp = books[b, B_BID]
    if otype == FOK and _available(meta, books, levels, b, side, limit, qty) < qty:
        return OK, _reject(meta, rejects, seq, key, RC_FOK)
    if side * opp <= side * limit:
        qty = _match(meta, pool, table, books, levels, trades, b, seq, key, side, acct, qty,
                     limit)
        if qty == 0:
            return OK, 0
    if otype != LIMIT:
        return OK, qty
    _rest(meta, pool, table, books, levels, b, hpos, key, side, price, qty, acct)
    return OK, qty


@njit(cache=True, inline="always")
def _live_slot(meta, pool, table, rejects, seq, b, key):
    """Pool slot of live order ``key`` (checked against book ``b``), or -1 after a reject."""
    hpos = _slot_of(table, key)
    if table[0, hpos] != key:
        return _reject(meta, rejects, seq, key, RC_UNKNOWN_ORDER)
    s = table[1, hpos]
    if s < 0:
        return _reject(meta, rejects, seq, key, RC_NOT_LIVE)
    if b != NO_BOOK and pool[P_BOOK, s] != b:
        return _reject(meta, rejects, seq, key, RC_MISMATCH)
    return s


@njit(cache=True, inline="always")
def _modify(meta, pool, table, books, levels, trades, rejects, seq, b, key, price, qty):
    if qty <= 0:
        return OK, _reject(meta, rejects, seq, key, RC_QTY)
    if price <= 0:
        return OK, _reject(meta, rejects, seq, key, RC_PRICE)
    s = _live_slot(meta, pool, table, rejects, seq, b, key)
    if s < 0:
        return OK, -1
    if price == pool[P_PRICE, s] and qty <= pool[P_QTY, s]:  # in place: priority kept
        bk = pool[P_BOOK, s]
        levels[bk, price - books[bk, B_BASE], L_QTY] -= pool[P_QTY, s] - qty
        pool[P_QTY, s] = qty
        return OK, qty
    bk = pool[P_BOOK, s]
    st = _ensure_window(meta, books, levels, bk, price)
    if st == NEED_WIDTH:
        return st, 0
    if st < 0:
        return OK, _reject(meta, rejects, seq, key, RC_WINDOW)
    side = pool[P_SIDE, s]
    acct = pool[P_ACCT, s]
    hpos = pool[P_HPOS, s]
    _remove(meta, pool, table, books, levels, s)  # loses priority: re-enters as a new limit
    opp = books[bk, B_ASK] if side == BUY else books[bk, B_BID]
    if side * opp <= side * price:
        qty = _match(meta, pool, table, books, levels, trades, bk, seq, key, side, acct, qty,
                     price)
        if qty == 0:
            return OK, 0
    _rest(meta, pool, table, books, levels, bk, hpos, key, side, price, qty, acct)
    return OK, qty


@njit(cache=True, inline="always")
def _room(meta, table, trades, rejects):
    if meta[M_FREE] < 0:
        return NEED_POOL
    if 2 * (meta[M_HCOUNT] + 1) > table.shape[1]:
        return NEED_TABLE
    if trades.shape[0] - meta[M_NTRADES] < meta[M_LIVE] + 1:
        return NEED_TRADES
    if rejects.shape[0] - meta[M_NREJECTS] < 1:
        return NEED_REJECTS
    return OK


@njit(cache=True, inline="always")
def _event(meta, pool, table, books, levels, trades, rejects, seq, b, action, key, side,
           otype, price, qty, acct):
    if action == ADD:
        return _add(meta, pool, table, books, levels, trades, rejects, seq, b, key, side,
                    otype, price, qty, acct)
    if action == CANCEL:
        s = _live_slot(meta, pool, table, rejects, seq, b, key)
        if s < 0:
            return OK, -1
        _remove(meta, pool, table, books, levels, s)
        return OK, 0
    if action == MODIFY:
        return _modify(meta, pool, table, books, levels, trades, rejects, seq, b, key, price,
                       qty)
    return OK, _reject(meta, rejects, seq, key, RC_ACTION)


@njit(cache=True)
def run(meta, pool, table, books, levels, trades, rejects, events, start):
    """Apply ``events[start:]``; return (status, index of the first event not applied)."""
    for i in range(start, events.shape[0]):
        st = _room(meta, table, trades, rejects)
        if st != OK:
            return st, i
        st, _ = _event(meta, pool, table, books, levels, trades, rejects, events[i, E_SEQ],
                       events[i, E_BOOK], events[i, E_ACTION], events[i, E_KEY],
                       events[i, E_SIDE], events[i, E_TYPE], events[i, E_PRICE],
                       events[i, E_QTY], events[i, E_ACCT])
        if st != OK:
            return st, i
    return OK, events.shape[0]


@njit(cache=True)
def step(meta, pool, table, books, levels, trades, rejects, seq, b, action, key, side, otype,
         price, qty, acct):
    """Apply one event; return (status, result) where result is what Lab 02 returns."""
    st = _room(meta, table, trades, rejects)
    if st != OK:
        return st, 0
    return _event(meta, pool, table, books, levels, trades, rejects, seq, b, action, key,
                  side, otype, price, qty, acct)


def warm_up() -> None:
    """Compile (or load from the cache) :func:`run`, :func:`step` and :func:`rehash`."""
    from .layout import BOOK_FIELDS, INITIAL_WIDTH, META_FIELDS, POOL_FIELDS  # noqa: F401

    z = np.zeros
    meta = z(11, np.int64)
    meta[M_FREE] = -1
    args = (meta, z((9, 1), np.int64), np.full((2, 2), EMPTY_KEY, np.int64),
            z((1, 7), np.int64), z((1, 1, 4), np.int64), z((1, 9), np.int64),
            z((1, 3), np.int64))
    run(*args, z((0, 9), np.int64), 0)
    step(*args, 0, 0, 9, 0, 0, 0, 0, 0, 0)
    rehash(args[2], np.full((2, 4), EMPTY_KEY, np.int64), args[1])
