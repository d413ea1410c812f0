# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The matching kernel in Cython: a ``cdef class`` over typed memoryviews of the engine's arrays.

Line for line the algorithm of :mod:`labsupport.fastbook._nbcore` (see :mod:`.layout` for the
arrays). Every variable is a C ``long long``, every array a typed memoryview with C-contiguous
strides (``[:, ::1]``), bounds and wrap-around checks are off, so the loop body compiles to
plain loads, stores and compares with no Python object in sight: run ``cython -a`` on this file
(``labsupport.fastbook.annotate``) and the kernel's lines are white; the yellow ones are the
boundary (argument unpacking, building the result tuple), paid once per call.

Compiled at install time by ``setup.py`` (``pip install -e .``); the C file is generated under
``build/`` and never committed.
"""

# The layout's constants (labsupport/fastbook/layout.py), as C constants.
cdef enum:
    P_QTY = 0
    P_PRICE = 1
    P_SIDE = 2
    P_BOOK = 3
    P_ACCT = 4
    P_KEY = 5
    P_NEXT = 6
    P_PREV = 7
    P_HPOS = 8
    L_HEAD = 0
    L_TAIL = 1
    L_QTY = 2
    L_COUNT = 3
    B_BASE = 0
    B_BID = 1
    B_ASK = 2
    B_NBID = 3
    B_NASK = 4
    B_RANK = 5
    B_TRADES = 6
    M_FREE = 0
    M_LIVE = 1
    M_HCOUNT = 2
    M_NTRADES = 3
    M_NREJECTS = 4
    M_WIDTH = 5
    M_MAXWIDTH = 6
    M_FIXED = 7
    M_NRANK = 8
    M_REJECT_TOTAL = 9
    M_TRADE_TOTAL = 10
    OK = 0
    NEED_POOL = 1
    NEED_TABLE = 2
    NEED_TRADES = 3
    NEED_REJECTS = 4
    NEED_WIDTH = 5
    NO_BID = 0
    NO_BOOK = -1
    BUY = 1
    SELL = -1
    LIMIT = 0
    MARKET = 1
    FOK = 3
    RC_DUPLICATE_ID = 0
    RC_UNKNOWN_ORDER = 1
    RC_NOT_LIVE = 2
    RC_FOK = 3
    RC_SIDE = 4
    RC_TYPE = 5
    RC_PRICE = 6
    RC_QTY = 7
    RC_ACTION = 8
    RC_SYMBOL = 9
    RC_MISMATCH = 10
    RC_WINDOW = 11

cdef extern from *:
    """
    #define FB_NO_ASK (1LL << 62)
    #define FB_EMPTY_KEY (-9223372036854775807LL - 1)
    """
    const long long NO_ASK "FB_NO_ASK"
    const long long EMPTY_KEY "FB_EMPTY_KEY"


ctypedef long long i64


cdef inline i64 _slot_of(i64[:, ::1] table, i64 key) noexcept nogil:
    cdef i64 mask = table.shape[1] - 1
    cdef i64 h = <i64>(<unsigned long long>key * 0x9E3779B97F4A7C15ULL)
    cdef i64 i = (h ^ (h >> 29)) & mask
    cdef i64 k
    while True:
        k = table[0, i]
        if k == key or k == EMPTY_KEY:
            return i
        i = (i + 1) & mask


def rehash(i64[:, ::1] old, i64[:, ::1] new, i64[:, ::1] pool):
    """Move every entry of ``old`` into the (empty, larger) ``new`` table."""
    cdef Py_ssize_t i
    cdef i64 j, k, v
    for i in range(old.shape[1]):
        k = old[0, i]
        if k != EMPTY_KEY:
            j = _slot_of(new, k)
            new[0, j] = k
            v = old[1, i]
            new[1, j] = v
            if v >= 0:
                pool[P_HPOS, v] = j


def slot_of(i64[:, ::1] table, i64 key):
    """The hash-table probe, for tests: bucket of ``key`` or the empty bucket for it."""
    return _slot_of(table, key)


cdef class Kernel:
    """The engine's arrays as typed memoryviews, and the event loop over them."""

    cdef i64[::1] meta
    cdef i64[:, ::1] pool
    cdef i64[:, ::1] table
    cdef i64[:, ::1] books
    cdef i64[:, :, ::1] levels
    cdef i64[:, ::1] trades
    cdef i64[:, ::1] rejects
    cdef i64 status

    def __init__(self, i64[::1] meta, i64[:, ::1] pool, i64[:, ::1] table, i64[:, ::1] books,
                 i64[:, :, ::1] levels, i64[:, ::1] trades, i64[:, ::1] rejects):
        self.meta, self.pool, self.table, self.books = meta, pool, table, books
        self.levels, self.trades, self.rejects = levels, trades, rejects
        self.status = OK

    cdef inline i64 _reject(self, i64 seq, i64 key, i64 reason) noexcept:
        cdef i64 n = self.meta[M_NREJECTS]
        self.rejects[n, 0] = seq
        self.rejects[n, 1] = key
        self.rejects[n, 2] = reason
        self.meta[M_NREJECTS] = n + 1
        self.meta[M_REJECT_TOTAL] += 1
        return -1

    cdef i64 _ensure_window(self, i64 b, i64 price) noexcept:
        cdef i64 width = self.meta[M_WIDTH]
        cdef i64 base = self.books[b, B_BASE]
        cdef i64 lo, hi, lo_p, hi_p, span, new_base, shift, o, f
        if base >= 0 and base <= price < base + width:
            return OK
        if self.books[b, B_NBID] + self.books[b, B_NASK] == 0:
            self.books[b, B_BASE] = price - width // 2 if price > width // 2 else 0
            return OK
        lo = 0
        while self.levels[b, lo, L_COUNT] == 0:
            lo += 1
        hi = width - 1
        while self.levels[b, hi, L_COUNT] == 0:
            hi -= 1
        lo_p = base + lo if base + lo < price else price
        hi_p = base + hi if base + hi > price else price
        span = hi_p - lo_p + 1
        if span > self.meta[M_MAXWIDTH]:
            return -1
        if span > width:
            return NEED_WIDTH
        new_base = lo_p - (width - span) // 2
        if new_base < 0:
            new_base = 0
        shift = base - new_base
        # Move the occupied levels in place, walking away from where they go.
        o = hi if shift > 0 else lo
        while lo <= o <= hi:
            if self.levels[b, o, L_COUNT] > 0:
                for f in range(4):
                    self.levels[b, o + shift, f] = self.levels[b, o, f]
                self.levels[b, o, L_HEAD] = -1
                self.levels[b, o, L_TAIL] = -1
                self.levels[b, o, L_QTY] = 0
                self.levels[b, o, L_COUNT] = 0
            o += -1 if shift > 0 else 1
        self.books[b, B_BASE] = new_base
        return OK

    cdef inline i64 _next_level(self, i64 b, i64 off, i64 step) noexcept:
        off += step
        while self.levels[b, off, L_COUNT] == 0:
            off += step
        return self.books[b, B_BASE] + off

    cdef void _remove(self, i64 s) noexcept:
        cdef i64 b = self.pool[P_BOOK, s]
        cdef i64 price = self.pool[P_PRICE, s]
        cdef i64 off = price - self.books[b, B_BASE]
        cdef i64 prv = self.pool[P_PREV, s]
        cdef i64 nxt = self.pool[P_NEXT, s]
        if prv >= 0:
            self.pool[P_NEXT, prv] = nxt
        else:
            self.levels[b, off, L_HEAD] = nxt
        if nxt >= 0:
            self.pool[P_PREV, nxt] = prv
        else:
            self.levels[b, off, L_TAIL] = prv
        self.levels[b, off, L_QTY] -= self.pool[P_QTY, s]
        self.levels[b, off, L_COUNT] -= 1
        if self.levels[b, off, L_COUNT] == 0:
            if self.pool[P_SIDE, s] == BUY:
                self.books[b, B_NBID] -= 1
                if price == self.books[b, B_BID]:
                    self.books[b, B_BID] = NO_BID if self.books[b, B_NBID] == 0 else \
                        self._next_level(b, off, -1)
            else:
                self.books[b, B_NASK] -= 1
                if price == self.books[b, B_ASK]:
                    self.books[b, B_ASK] = NO_ASK if self.books[b, B_NASK] == 0 else \
                        self._next_level(b, off, 1)
        self.table[1, self.pool[P_HPOS, s]] = -1
        self.pool[P_QTY, s] = 0
        self.pool[P_NEXT, s] = self.meta[M_FREE]
        self.meta[M_FREE] = s
        self.meta[M_LIVE] -= 1

    cdef void _rest(self, i64 b, i64 hpos, i64 key, i64 side, i64 price, i64 qty,
                    i64 acct) noexcept:
        cdef i64 s = self.meta[M_FREE]
        cdef i64 off, tail
        self.meta[M_FREE] = self.pool[P_NEXT, s]
        self.pool[P_QTY, s] = qty
        self.pool[P_PRICE, s] = price
        self.pool[P_SIDE, s] = side
        self.pool[P_BOOK, s] = b
        self.pool[P_ACCT, s] = acct
        self.pool[P_KEY, s] = key
        self.pool[P_NEXT, s] = -1
        self.pool[P_HPOS, s] = hpos
        self.table[1, hpos] = s
        off = price - self.books[b, B_BASE]
        tail = self.levels[b, off, L_TAIL]
        self.pool[P_PREV, s] = tail
        if tail < 0:
            self.levels[b, off, L_HEAD] = s
            if side == BUY:
                self.books[b, B_NBID] += 1
                if price > self.books[b, B_BID]:
                    self.books[b, B_BID] = price
            else:
                self.books[b, B_NASK] += 1
                if price < self.books[b, B_ASK]:
                    self.books[b, B_ASK] = price
        else:
            self.pool[P_NEXT, tail] = s
        self.levels[b, off, L_TAIL] = s
        self.levels[b, off, L_QTY] += qty
        self.levels[b, off, L_COUNT] += 1
        self.meta[M_LIVE] += 1

    cdef i64 _match(self, i64 b, i64 seq, i64 key, i64 side, i64 acct, i64 qty,
                    i64 limit) noexcept:
        cdef i64 bf, nf, step, base, best, nt, fills, off, s, rq, fill, nxt
        if side == BUY:
            bf, nf, step = B_ASK, B_NASK, 1
        else:
            bf, nf, step = B_BID, B_NBID, -1
        base = self.books[b, B_BASE]
        best = self.books[b, bf]
        nt = self.meta[M_NTRADES]
        fills = 0
        while qty > 0 and side * best <= side * limit:
            off = best - base
            while True:
                s = self.levels[b, off, L_HEAD]
                rq = self.pool[P_QTY, s]
                fill = rq if rq < qty else qty
                self.trades[nt, 0] = seq
                self.trades[nt, 1] = b
                self.trades[nt, 2] = best
                self.trades[nt, 3] = fill
                self.trades[nt, 4] = key
                self.trades[nt, 5] = self.pool[P_KEY, s]
                self.trades[nt, 6] = side
                self.trades[nt, 7] = acct
                self.trades[nt, 8] = self.pool[P_ACCT, s]
                nt += 1
                fills += 1
                qty -= fill
                if fill == rq:  # the resting order is filled: pop it from the head
                    nxt = self.pool[P_NEXT, s]
                    self.levels[b, off, L_HEAD] = nxt
                    if nxt >= 0:
                        self.pool[P_PREV, nxt] = -1
                    else:
                        self.levels[b, off, L_TAIL] = -1
                    self.levels[b, off, L_QTY] -= rq
                    self.levels[b, off, L_COUNT] -= 1
                    self.table[1, self.pool[P_HPOS, s]] = -1
                    self.pool[P_QTY, s] = 0
                    self.pool[P_NEXT, s] = self.meta[M_FREE]
                    self.meta[M_FREE] = s
                    self.meta[M_LIVE] -= 1
                else:
                    self.pool[P_QTY, s] = rq - fill
                    self.levels[b, off, L_QTY] -= fill
                if qty == 0 or self.levels[b, off, L_COUNT] == 0:
                    break
            if self.levels[b, off, L_COUNT] > 0:
                break
            self.books[b, nf] -= 1
            if self.books[b, nf] == 0:
                best = NO_ASK if side == BUY else NO_BID
            else:
                best = self._next_level(b, off, step)
        self.books[b, bf] = best
        self.meta[M_NTRADES] = nt
        self.books[b, B_TRADES] += fills
        self.meta[M_TRADE_TOTAL] += fills
        return qty

    cdef i64 _available(self, i64 b, i64 side, i64 limit, i64 need) noexcept:
        cdef i64 best, n, step, base, width, off, total, seen
        if side == BUY:
            best, n, step = self.books[b, B_ASK], self.books[b, B_NASK], 1
        else:
            best, n, step = self.books[b, B_BID], self.books[b, B_NBID], -1
        if n == 0 or side * best > side * limit:
            return 0
        base = self.books[b, B_BASE]
        width = self.meta[M_WIDTH]
        off = best - base
        total = 0
        seen = 0
        while 0 <= off < width and side * (base + off) <= side * limit:
            if self.levels[b, off, L_COUNT] > 0:
                total += self.levels[b, off, L_QTY]
                seen += 1
                if total >= need or seen == n:
                    break
            off += step
        return total

    cdef i64 _add(self, i64 seq, i64 b, i64 key, i64 side, i64 otype, i64 price, i64 qty,
                  i64 acct) noexcept:
        cdef i64 hpos, st, limit, opp
        if side != BUY and side != SELL:
            return self._reject(seq, key, RC_SIDE)
        if otype < LIMIT or otype > FOK:
            return self._reject(seq, key, RC_TYPE)
        if qty <= 0:
            return self._reject(seq, key, RC_QTY)
        if otype != MARKET and price <= 0:
            return self._reject(seq, key, RC_PRICE)
        if self.books[b, B_RANK] < 0:
            if self.meta[M_FIXED]:
                return self._reject(seq, key, RC_SYMBOL)
            self.books[b, B_RANK] = self.meta[M_NRANK]
            self.meta[M_NRANK] += 1
        hpos = _slot_of(self.table, key)
        if self.table[0, hpos] == key:
            return self._reject(seq, key, RC_DUPLICATE_ID)
        if otype == LIMIT:
            st = self._ensure_window(b, price)
            if st == NEED_WIDTH:
                self.status = st
                return 0
            if st < 0:
                return self._reject(seq, key, RC_WINDOW)
        self.table[0, hpos] = key
        self.table[1, hpos] = -1
        self.meta[M_HCOUNT] += 1
        if side == BUY:
            limit = NO_ASK - 1 if otype == MARKET else price
            opp = self.books[b, B_ASK]
        else:
            limit = 1 if otype == MARKET else price
            opp = self.books[b, B_BID]
        if otype == FOK and self._available(b, side, limit, qty) < qty:
            return self._reject(seq, key, RC_FOK)
        if side * opp <= side * limit:
            qty = self._match(b, seq, key, side, acct, qty, limit)
            if qty == 0:
                return 0
        if otype != LIMIT:
            return qty
        self._rest(b, hpos, key, side, price, qty, acct)
        return qty

    cdef i64 _live_slot(self, i64 seq, i64 b, i64 key) noexcept:
        cdef i64 hpos = _slot_of(self.table, key)
        cdef i64 s
        if self.table[0, hpos] != key:
            return self._reject(seq, key, RC_UNKNOWN_ORDER)
        s = self.table[1, hpos]
        if s < 0:
            return self._reject(seq, key, RC_NOT_LIVE)
        if b != NO_BOOK and self.pool[P_BOOK, s] != b:
            return self._reject(seq, key, RC_MISMATCH)
        return s

    cdef i64 _modify(self, i64 seq, i64 b, i64 key, i64 price, i64 qty) noexcept:
        cdef i64 s, bk, st, side, acct, hpos, opp
        if qty <= 0:
            return self._reject(seq, key, RC_QTY)
        if price <= 0:
            return self._reject(seq, key, RC_PRICE)
        s = self._live_slot(seq, b, key)
        if s < 0:
            return -1
        bk = self.pool[P_BOOK, s]
        if price == self.pool[P_PRICE, s] and qty <= self.pool[P_QTY, s]:
            self.levels[bk, price - self.books[bk, B_BASE], L_QTY] -= self.pool[P_QTY, s] - qty
            self.pool[P_QTY, s] = qty
            return qty
        st = self._ensure_window(bk, price)
        if st == NEED_WIDTH:
            self.status = st
            return 0
        if st < 0:
            return self._reject(seq, key, RC_WINDOW)
        side = self.pool[P_SIDE, s]
        acct = self.pool[P_ACCT, s]
        hpos = self.pool[P_HPOS, s]
        self._remove(s)  # loses priority: re-enters as a new limit order
        opp = self.books[bk, B_ASK] if side == BUY else self.books[bk, B_BID]
        if side * opp <= side * price:
            qty = self._match(bk, seq, key, side, acct, qty, price)
            if qty == 0:
                return 0
        self._rest(bk, hpos, key, side, price, qty, acct)
        return qty

    cdef inline i64 _room(self) noexcept:
        if self.meta[M_FREE] < 0:
            return NEED_POOL
        if 2 * (self.meta[M_HCOUNT] + 1) > self.table.shape[1]:
            return NEED_TABLE
        if self.trades.shape[0] - self.meta[M_NTRADES] < self.meta[M_LIVE] + 1:
            return NEED_TRADES
        if self.rejects.shape[0] - self.meta[M_NREJECTS] < 1:
            return NEED_REJECTS
        return OK

    cdef i64 _event(self, i64 seq, i64 b, i64 action, i64 key, i64 side, i64 otype, i64 price,
                    i64 qty, i64 acct) noexcept:
        cdef i64 s
        if action == 0:
            return self._add(seq, b, key, side, otype, price, qty, acct)
        if action == 1:
            s = self._live_slot(seq, b, key)
            if s < 0:
                return -1
            self._remove(s)
            return 0
        if action == 2:
            return self._modify(seq, b, key, price, qty)
        return self._reject(seq, key, RC_ACTION)

    def run(self, i64[:, ::1] events, Py_ssize_t start):
        """Apply ``events[start:]``; return (status, index of the first event not applied)."""
        cdef Py_ssize_t i
        cdef i64 st
        for i in range(start, events.shape[0]):
            st = self._room()
            if st != OK:
                return st, i
            self._event(events[i, 0], events[i, 1], events[i, 2], events[i, 3], events[i, 4],
                        events[i, 5], events[i, 6], events[i, 7], events[i, 8])
            if self.status != OK:
                st = self.status
                self.status = OK
                return st, i
        return OK, events.shape[0]

    cpdef tuple step(self, i64 seq, i64 b, i64 action, i64 key, i64 side, i64 otype,
                     i64 price, i64 qty, i64 acct):
        """Apply one event; return (status, result) where result is what Lab 02 returns."""
        cdef i64 st = self._room()
        cdef i64 r
        if st != OK:
            return st, 0
        r = self._event(seq, b, action, key, side, otype, price, qty, acct)
        if self.status != OK:
            st = self.status
            self.status = OK
            return st, 0
        return OK, r
