# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The matching kernel in Cython: a ``cdef class`` over typed memoryviews of the engine's arrays.

Line for line the algorithm of the Numba kernel (:mod:`._nbcore`, :mod:`._nbbook`,
:mod:`._nbpnl`; see :mod:`.layout` for the arrays): validation, matching, the PnL of both sides
of every fill (Lab 02's average-cost rule in int64) and, with a listener, the report journal.
Every variable is a C ``long long``, every array a typed memoryview with C-contiguous strides
(``[:, ::1]``), bounds and wrap-around checks are off, so the loop body compiles to plain
loads, stores and compares with no Python object in sight: run ``cython -a`` on this file
(``labsupport.fastbook.annotate``) and the kernel's lines are white; the yellow ones are the
boundary (argument unpacking, the owner's ``grow`` callback), paid once per call.

Two ways in from Python: ``run(events)`` for a batch, and ``step``/``add``/``cancel``/``modify``
for one event with int arguments (``cpdef``: typed C arguments, an int back, no tuple, no
Python object made on the way); and two reads of one order for a strategy trading inside the
book, ``leaves(key)`` and ``queue_position(key)`` (orders and shares ahead of it at its
price). When an array is too small the kernel calls its owner's ``grow(status)``, which
grows the arrays and calls :meth:`Kernel.bind` again, and carries on with the same event: the growth protocol of :mod:`.layout` without leaving the call.

Compiled at install time by ``setup.py`` (``pip install -e .``); the C file is generated under
``build/`` and never committed. One file on purpose (about 680 lines, over the usual 400):
``cython -a`` annotates one compilation unit, and splitting a ``cdef class`` across files
needs ``.pxd`` files and a second extension module.
"""

# The layout's constants (labsupport/fastbook/layout.py), as C constants: each anonymous enum
# counts from 0 in the order of its tuple there.
cdef enum:
    P_QTY, P_PRICE, P_SIDE, P_BOOK, P_ACCT, P_KEY, P_NEXT, P_PREV, P_HPOS, P_POS
cdef enum:
    L_HEAD, L_TAIL, L_QTY, L_COUNT
cdef enum:
    B_BASE, B_BID, B_ASK, B_NBID, B_NASK, B_RANK, B_TRADES, B_MARK
cdef enum:
    M_FREE, M_LIVE, M_HCOUNT, M_NTRADES, M_NREJECTS, M_WIDTH, M_MAXWIDTH, M_FIXED, M_NRANK,
    M_REJECT_TOTAL, M_TRADE_TOTAL, M_PNL, M_FEE, M_NPOS, M_NOTIONAL, M_REPORTS, M_NJOURNAL,
    M_RESULT
cdef enum:
    Q_POS, Q_COST, Q_REAL, Q_FEES, Q_CASH, Q_ACCT, Q_BOOK, Q_TRADED
cdef enum:
    J_TRADE, J_EXEC, J_REJECT
cdef enum:
    S_NEW, S_PARTIAL, S_FILLED, S_CANCELED, S_EXPIRED, S_REPLACED
cdef enum:
    OK, NEED_POOL, NEED_TABLE, NEED_TRADES, NEED_REJECTS, NEED_WIDTH, NEED_POSITIONS,
    NEED_PTABLE, NEED_JOURNAL
cdef enum:
    RC_DUPLICATE_ID, RC_UNKNOWN_ORDER, RC_NOT_LIVE, RC_FOK, RC_SIDE, RC_TYPE, RC_PRICE, RC_QTY,
    RC_ACTION, RC_SYMBOL, RC_MISMATCH, RC_WINDOW
cdef enum:
    NO_BID = 0
    NO_BOOK = -1
    BUY = 1
    SELL = -1
    LIMIT = 0
    MARKET = 1
    FOK = 3
    COST_SCALE = 10000

cdef extern from *:
    """
    #define FB_NO_ASK (1LL << 62)
    #define FB_EMPTY_KEY (-9223372036854775807LL - 1)
    """
    const long long NO_ASK "FB_NO_ASK"
    const long long EMPTY_KEY "FB_EMPTY_KEY"

cdef double PNL_LIMIT = <double>(1LL << 60)


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


cdef inline i64 _pslot_of(i64[:, ::1] ptable, i64 acct, i64 b) noexcept nogil:
    cdef i64 mask = ptable.shape[1] - 1
    cdef unsigned long long x = <unsigned long long>acct ^ (<unsigned long long>b * 0x647AD9A1F5E2F041ULL)
    cdef i64 h = <i64>(x * 0x9E3779B97F4A7C15ULL)
    cdef i64 i = (h ^ (h >> 29)) & mask
    cdef i64 k
    while True:
        k = ptable[0, i]
        if k == EMPTY_KEY or (k == acct and ptable[1, i] == b):
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


def prehash(i64[:, ::1] positions, Py_ssize_t n, i64[:, ::1] ptable):
    """Fill the (empty, larger) ``ptable`` with the first ``n`` position slots."""
    cdef Py_ssize_t q
    cdef i64 i
    for q in range(n):
        i = _pslot_of(ptable, positions[Q_ACCT, q], positions[Q_BOOK, q])
        ptable[0, i] = positions[Q_ACCT, q]
        ptable[1, i] = positions[Q_BOOK, q]
        ptable[2, i] = q


def slot_of(i64[:, ::1] table, i64 key):
    """The hash-table probe, for tests: bucket of ``key`` or the empty bucket for it."""
    return _slot_of(table, key)


cdef inline void _mul_div(i64 r, i64 c, i64 m, i64* q_out, i64* rem_out) noexcept nogil:
    """(floor(r * c / m), r * c mod m) for 0 <= r < m and 0 < c < m, without overflow."""
    cdef i64 q = 0, rem = 0, p
    cdef int bit
    if r < 2147483648LL and c < 2147483648LL:
        p = r * c
        q_out[0] = p // m
        rem_out[0] = p % m
        return
    for bit in range(62, -1, -1):  # rem < m < 2**62 throughout: 2 * rem + r fits
        q += q
        rem += rem
        if rem >= m:
            rem -= m
            q += 1
        if (c >> bit) & 1:
            rem += r
            if rem >= m:
                rem -= m
                q += 1
    q_out[0] = q
    rem_out[0] = rem


cdef inline void _apply(i64[:, ::1] positions, i64 q, i64 signed, i64 price,
                        i64 fee) noexcept nogil:
    """Lab 02's ``_apply``: one fill of ``signed`` shares at ``price`` ticks to slot ``q``."""
    cdef i64 unit = price * COST_SCALE
    cdef i64 pos, qty, apos, closed, cost, acost, whole, lo, rem, removed, rest
    positions[Q_CASH, q] -= signed * unit + fee
    positions[Q_FEES, q] += fee
    positions[Q_TRADED, q] = 1
    pos = positions[Q_POS, q]
    if pos == 0 or (pos > 0) == (signed > 0):  # opening or adding: the basis grows
        positions[Q_COST, q] += signed * unit
        positions[Q_POS, q] = pos + signed
        return
    qty = signed if signed > 0 else -signed
    apos = pos if pos > 0 else -pos
    closed = qty if qty < apos else apos
    cost = positions[Q_COST, q]
    if closed == apos:
        removed = cost
    else:  # round(cost * closed / apos), halves away from zero
        acost = cost if cost >= 0 else -cost
        whole = acost // apos
        _mul_div(acost - whole * apos, closed, apos, &lo, &rem)
        removed = whole * closed + lo + (1 if 2 * rem >= apos else 0)
        if cost < 0:
            removed = -removed
    if pos > 0:
        positions[Q_REAL, q] += closed * unit - removed
    else:
        positions[Q_REAL, q] += -removed - closed * unit
    rest = qty - closed
    if rest:  # through zero: the remainder opens a position at this price
        rest = rest if signed > 0 else -rest
        positions[Q_COST, q] = rest * unit
        positions[Q_POS, q] = rest
    else:
        positions[Q_COST, q] = cost - removed
        positions[Q_POS, q] = pos + signed


cdef class Kernel:
    """The engine's arrays as typed memoryviews, and the event loop over them.

    ``grow`` is the owner's callback: called with a status when an array is too small, it
    grows the arrays and calls :meth:`bind` again; the kernel then carries on."""

    cdef i64[::1] meta
    cdef i64[:, ::1] pool
    cdef i64[:, ::1] table
    cdef i64[:, ::1] books
    cdef i64[:, :, ::1] levels
    cdef i64[:, ::1] trades
    cdef i64[:, ::1] rejects
    cdef i64[:, ::1] positions
    cdef i64[:, ::1] ptable
    cdef i64[:, ::1] journal
    cdef i64 status
    cdef object grow

    def __init__(self, grow):
        self.grow = grow
        self.status = OK

    def bind(self, i64[::1] meta, i64[:, ::1] pool, i64[:, ::1] table, i64[:, ::1] books,
             i64[:, :, ::1] levels, i64[:, ::1] trades, i64[:, ::1] rejects,
             i64[:, ::1] positions, i64[:, ::1] ptable, i64[:, ::1] journal):
        """(Re)point the kernel at the owner's arrays (after every growth)."""
        self.meta, self.pool, self.table, self.books = meta, pool, table, books
        self.levels, self.trades, self.rejects = levels, trades, rejects
        self.positions, self.ptable, self.journal = positions, ptable, journal

    cdef inline void _journal(self, i64 kind, i64 seq, i64 b, i64 key, i64 acct, i64 status,
                              i64 last_qty, i64 last_price, i64 leaves) noexcept:
        cdef i64 n
        if self.meta[M_REPORTS]:
            n = self.meta[M_NJOURNAL]
            self.journal[n, 0] = kind
            self.journal[n, 1] = seq
            self.journal[n, 2] = b
            self.journal[n, 3] = key
            self.journal[n, 4] = acct
            self.journal[n, 5] = status
            self.journal[n, 6] = last_qty
            self.journal[n, 7] = last_price
            self.journal[n, 8] = leaves
            self.meta[M_NJOURNAL] = n + 1

    cdef inline i64 _reject(self, i64 seq, i64 key, i64 reason) noexcept:
        cdef i64 n = self.meta[M_NREJECTS]
        self.rejects[n, 0] = seq
        self.rejects[n, 1] = key
        self.rejects[n, 2] = reason
        self.meta[M_NREJECTS] = n + 1
        self.meta[M_REJECT_TOTAL] += 1
        self._journal(J_REJECT, seq, 0, key, 0, 0, 0, 0, 0)
        return -1

    cdef inline i64 _position(self, i64 acct, i64 b) noexcept:
        cdef i64 i = _pslot_of(self.ptable, acct, b)
        cdef i64 q
        if self.ptable[0, i] != EMPTY_KEY:
            return self.ptable[2, i]
        q = self.meta[M_NPOS]
        self.meta[M_NPOS] = q + 1
        self.ptable[0, i] = acct
        self.ptable[1, i] = b
        self.ptable[2, i] = q
        self.positions[Q_ACCT, q] = acct
        self.positions[Q_BOOK, q] = b
        return q

    cdef inline i64 _fill(self, i64 aslot, i64 rslot, i64 side, i64 price, i64 qty) noexcept:
        cdef i64 fee_unit = self.meta[M_FEE]
        cdef i64 abs_fee = fee_unit if fee_unit >= 0 else -fee_unit
        cdef double per = <double>price * COST_SCALE + <double>abs_fee
        cdef i64 signed
        if <double>qty * per + <double>self.meta[M_NOTIONAL] > PNL_LIMIT:
            self.meta[M_PNL] = 0
            return 0
        self.meta[M_NOTIONAL] += qty * (price * COST_SCALE + abs_fee)
        signed = qty if side > 0 else -qty
        _apply(self.positions, aslot, signed, price, fee_unit * qty)
        _apply(self.positions, rslot, -signed, price, fee_unit * qty)
        return 1

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
                    i64 acct, i64 pslot) noexcept:
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
        self.pool[P_POS, s] = pslot
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

    cdef i64 _match(self, i64 b, i64 seq, i64 key, i64 side, i64 acct, i64 aslot, i64 qty,
                    i64 limit) noexcept:
        cdef i64 bf, nf, step, base, best, nt, fills, off, s, rq, fill, nxt
        cdef i64 pnl = self.meta[M_PNL]
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
                if pnl:
                    pnl = self._fill(aslot, self.pool[P_POS, s], side, best, fill)
                # What Lab 02 publishes per fill: the trade, the resting order's report,
                # then the aggressor's.
                self._journal(J_TRADE, seq, b, key, acct, 0, 0, 0, 0)
                self._journal(J_EXEC, seq, b, self.pool[P_KEY, s], self.pool[P_ACCT, s],
                              S_FILLED if fill == rq else S_PARTIAL, fill, best, rq - fill)
                self._journal(J_EXEC, seq, b, key, acct, S_FILLED if qty == 0 else S_PARTIAL,
                              fill, best, qty)
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
            self.books[b, B_MARK] = best
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
        cdef i64 hpos, st, limit, opp, pslot, left
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
        self.table[0, hpos] = key  # accepted: the id is used from now on
        self.table[1, hpos] = -1
        self.meta[M_HCOUNT] += 1
        pslot = self._position(acct, b) if self.meta[M_PNL] else -1
        if side == BUY:
            limit = NO_ASK - 1 if otype == MARKET else price
            opp = self.books[b, B_ASK]
        else:
            limit = 1 if otype == MARKET else price
            opp = self.books[b, B_BID]
        if otype == FOK and self._available(b, side, limit, qty) < qty:
            return self._reject(seq, key, RC_FOK)
        left = qty
        if side * opp <= side * limit:
            left = self._match(b, seq, key, side, acct, pslot, qty, limit)
            if left == 0:
                return 0
        if otype != LIMIT:
            self._journal(J_EXEC, seq, b, key, acct, S_EXPIRED, 0, 0, 0)
            return left
        self._rest(b, hpos, key, side, price, left, acct, pslot)
        if left == qty:
            self._journal(J_EXEC, seq, b, key, acct, S_NEW, 0, 0, left)
        return left

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
        cdef i64 s, bk, st, side, acct, hpos, opp, pslot
        if qty <= 0:
            return self._reject(seq, key, RC_QTY)
        if price <= 0:
            return self._reject(seq, key, RC_PRICE)
        s = self._live_slot(seq, b, key)
        if s < 0:
            return -1
        bk = self.pool[P_BOOK, s]
        acct = self.pool[P_ACCT, s]
        if price == self.pool[P_PRICE, s] and qty <= self.pool[P_QTY, s]:
            self._journal(J_EXEC, seq, bk, key, acct, S_REPLACED, 0, 0, qty)
            self.levels[bk, price - self.books[bk, B_BASE], L_QTY] -= self.pool[P_QTY, s] - qty
            self.pool[P_QTY, s] = qty
            return qty
        st = self._ensure_window(bk, price)
        if st == NEED_WIDTH:
            self.status = st
            return 0
        if st < 0:
            return self._reject(seq, key, RC_WINDOW)
        self._journal(J_EXEC, seq, bk, key, acct, S_REPLACED, 0, 0, qty)
        side = self.pool[P_SIDE, s]
        hpos = self.pool[P_HPOS, s]
        pslot = self.pool[P_POS, s]
        self._remove(s)  # loses priority: re-enters as a new limit order
        opp = self.books[bk, B_ASK] if side == BUY else self.books[bk, B_BID]
        if side * opp <= side * price:
            qty = self._match(bk, seq, key, side, acct, pslot, qty, price)
            if qty == 0:
                return 0
        self._rest(bk, hpos, key, side, price, qty, acct, pslot)
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
        if self.meta[M_PNL]:
            if self.meta[M_NPOS] >= self.positions.shape[1]:
                return NEED_POSITIONS
            if 2 * (self.meta[M_NPOS] + 1) > self.ptable.shape[1]:
                return NEED_PTABLE
        if self.meta[M_REPORTS] and \
                self.journal.shape[0] - self.meta[M_NJOURNAL] < 3 * self.meta[M_LIVE] + 5:
            return NEED_JOURNAL
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
            self._journal(J_EXEC, seq, self.pool[P_BOOK, s], key, self.pool[P_ACCT, s],
                          S_CANCELED, 0, 0, 0)
            self._remove(s)
            return 0
        if action == 2:
            return self._modify(seq, b, key, price, qty)
        return self._reject(seq, key, RC_ACTION)

    cdef i64 _apply_one(self, i64 seq, i64 b, i64 action, i64 key, i64 side, i64 otype,
                        i64 price, i64 qty, i64 acct) except? -2:
        """One event, growing first (through the owner) until its worst case fits."""
        cdef i64 st, r
        while True:
            st = self._room()
            if st == OK:
                r = self._event(seq, b, action, key, side, otype, price, qty, acct)
                st = self.status
                if st == OK:
                    self.meta[M_RESULT] = r
                    return r
                self.status = OK
            self.grow(st)

    def run(self, i64[:, ::1] events):
        """Apply every event of ``events`` (rows of :data:`.layout.EVENT_FIELDS`)."""
        cdef Py_ssize_t i
        for i in range(events.shape[0]):
            self._apply_one(events[i, 0], events[i, 1], events[i, 2], events[i, 3],
                            events[i, 4], events[i, 5], events[i, 6], events[i, 7],
                            events[i, 8])

    cpdef i64 step(self, i64 seq, i64 b, i64 action, i64 key, i64 side, i64 otype, i64 price,
                   i64 qty, i64 acct) except? -2:
        """Apply one event; return what Lab 02 returns."""
        return self._apply_one(seq, b, action, key, side, otype, price, qty, acct)

    cpdef i64 add(self, i64 b, i64 key, i64 side, i64 otype, i64 price, i64 qty, i64 acct,
                  i64 seq) except? -2:
        """The lean entry point: a new order, every argument an int (book index, id key)."""
        return self._apply_one(seq, b, 0, key, side, otype, price, qty, acct)

    cpdef i64 cancel(self, i64 b, i64 key, i64 seq) except? -2:
        return self._apply_one(seq, b, 1, key, 0, 0, 0, 0, 0)

    cpdef i64 modify(self, i64 b, i64 key, i64 price, i64 qty, i64 seq) except? -2:
        return self._apply_one(seq, b, 2, key, 0, 0, price, qty, 0)

    # Reads of one order, for a strategy that trades inside the book (not on the event path).
    cpdef i64 leaves(self, i64 key):
        """Leaves quantity of order ``key`` while it rests, 0 once filled or cancelled (or
        never seen): one probe of the id table, O(1)."""
        cdef i64 hpos = _slot_of(self.table, key)
        cdef i64 s
        if self.table[0, hpos] != key:
            return 0
        s = self.table[1, hpos]
        return self.pool[P_QTY, s] if s >= 0 else 0

    cpdef tuple queue_position(self, i64 key):
        """``(orders ahead, shares ahead)`` of resting order ``key`` in its level's FIFO, or
        ``(-1, -1)`` if it is not resting: the probe, then the ``P_PREV`` links walked to
        the head in C (O(orders ahead of it), no Python object per order)."""
        cdef i64 hpos = _slot_of(self.table, key)
        cdef i64 s, n = 0, q = 0
        if self.table[0, hpos] != key or self.table[1, hpos] < 0:
            return (-1, -1)
        s = self.pool[P_PREV, self.table[1, hpos]]
        while s >= 0:
            n += 1
            q += self.pool[P_QTY, s]
            s = self.pool[P_PREV, s]
        return (n, q)
