"""The book half of the Numba kernel: the id table, the price window, the FIFOs, matching.

Functions over the arrays of :mod:`.layout`, each ``@njit(cache=True, inline="always")``:
inlined into the one compiled event loop (:func:`._nbcore.run`), they are never called across
a function boundary at run time (see :mod:`._nbcore` for why). The algorithm is Lab 02's
:class:`~labsupport.orderbook.book.OrderBook` rule for rule:

- :func:`ensure_window`: make a price addressable, re-centring the book's window or asking the
  owner for a wider one (``NEED_WIDTH``), or refusing beyond ``MAX_WIDTH`` (-1);
- :func:`rest` / :func:`remove`: append to a level's intrusive FIFO / unlink from anywhere, the
  cached best prices and level counts kept incrementally, the slot pushed on the free list;
- :func:`match`: price-time priority against the opposite side up to a limit, one trade row per
  fill, the PnL of both sides (:func:`._nbpnl.fill`) and the reports (:func:`._nbpnl.journal`);
- :func:`available`: the FOK pre-check, walking levels best-first and stopping early.

``_cyengine.pyx`` holds the same functions as methods of its ``cdef class``.
"""

from __future__ import annotations

from numba import njit

from ._nbpnl import fill, journal
from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_MARK,
    B_NASK,
    B_NBID,
    B_TRADES,
    EMPTY_KEY,
    J_EXEC,
    J_TRADE,
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_TAIL,
    M_FREE,
    M_LIVE,
    M_MAXWIDTH,
    M_NTRADES,
    M_PNL,
    M_REPORTS,
    M_TRADE_TOTAL,
    M_WIDTH,
    NEED_WIDTH,
    NO_ASK,
    NO_BID,
    OK,
    P_ACCT,
    P_BOOK,
    P_HPOS,
    P_KEY,
    P_NEXT,
    P_POS,
    P_PREV,
    P_PRICE,
    P_QTY,
    P_SIDE,
    S_FILLED,
    S_PARTIAL,
)

BUY = 1
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64 (Fibonacci hashing)


@njit(cache=True, inline="always")
def slot_of(table, key):
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
            j = slot_of(new, k)
            new[0, j] = k
            v = old[1, i]
            new[1, j] = v
            if v >= 0:
                pool[P_HPOS, v] = j


@njit(cache=True)
def ensure_window(meta, books, levels, b, price):
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
def remove(meta, pool, table, books, levels, s):
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
def rest(meta, pool, table, books, levels, b, hpos, key, side, price, qty, acct, pslot):
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
    pool[P_POS, s] = pslot
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
def match(meta, pool, table, books, levels, trades, positions, rows, b, seq, key, side, acct,
          aslot, qty, limit):
    """Trade against the opposite side up to ``limit`` (price-time priority); return leaves.
    ``aslot`` is the aggressor's position slot (-1 without PnL)."""
    if side == BUY:
        bf, nf, step = B_ASK, B_NASK, 1
    else:
        bf, nf, step = B_BID, B_NBID, -1
    base = books[b, B_BASE]
    best = books[b, bf]
    nt = meta[M_NTRADES]
    fills = 0
    pnl = meta[M_PNL]
    reports = meta[M_REPORTS]
    while qty > 0 and side * best <= side * limit:
        off = best - base
        while True:
            s = levels[b, off, L_HEAD]
            rq = pool[P_QTY, s]
            fill_qty = rq if rq < qty else qty
            trades[nt, 0] = seq
            trades[nt, 1] = b
            trades[nt, 2] = best
            trades[nt, 3] = fill_qty
            trades[nt, 4] = key
            trades[nt, 5] = pool[P_KEY, s]
            trades[nt, 6] = side
            trades[nt, 7] = acct
            trades[nt, 8] = pool[P_ACCT, s]
            nt += 1
            fills += 1
            qty -= fill_qty
            if pnl:
                pnl = fill(meta, positions, aslot, pool[P_POS, s], side, best, fill_qty)
            if reports:  # what Lab 02 publishes per fill: the trade, the resting order's
                # report, then the aggressor's
                journal(meta, rows, J_TRADE, seq, b, key, acct, 0, 0, 0, 0)
                journal(meta, rows, J_EXEC, seq, b, pool[P_KEY, s], pool[P_ACCT, s],
                        S_FILLED if fill_qty == rq else S_PARTIAL, fill_qty, best,
                        rq - fill_qty)
                journal(meta, rows, J_EXEC, seq, b, key, acct,
                        S_FILLED if qty == 0 else S_PARTIAL, fill_qty, best, qty)
            if fill_qty == rq:  # the resting order is filled: pop it from the head
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
                pool[P_QTY, s] = rq - fill_qty
                levels[b, off, L_QTY] -= fill_qty
            if qty == 0 or levels[b, off, L_COUNT] == 0:
                break
        books[b, B_MARK] = best
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
def available(meta, books, levels, b, side, limit, need):
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
