"""PnL and reports inside the Numba kernel: positions per (account, book) and the journal.

The int64 twin of Lab 02's :mod:`labsupport.orderbook.pnl` (average cost, integer cost
units, one rounding, halves away from zero), applied to both sides of every fill as it happens,
in the same order (aggressor first, which matters when an account trades with itself). See
:mod:`.layout` for the arrays and for the overflow rule: every amount is bounded by the total
notional traded, so :func:`fill` checks that sum before each fill and, if it would pass
``PNL_LIMIT``, turns the kernel's PnL off and leaves the rest to the owner (which replays the
trade log into Lab 02's ``PositionBook``).

The one step that needs care in int64 is Lab 02's ``round(cost * closed / |position|)``:
``cost * closed`` can overflow even when the result fits. :func:`_mul_div` splits it as
``q * closed + r * closed / |position|`` with ``r < |position|`` and, when ``r * closed``
itself might overflow (positions beyond 2**31 shares), falls back to a shift-and-subtract
loop that never holds more than ``2 * |position|``.

:func:`journal` writes one row of what a listener hears; its callers test ``meta[M_REPORTS]``
first, so an engine without a listener pays one load and a branch.

Which functions are inlined: the ones on every event's path (``inline="always"``); the ones
that are cold, or long and called from several places (:func:`_apply`, :func:`journal`), are
compiled once and called, because each inlined copy is compiled again, and the kernel's
compile time (a minute or more on a loaded machine) grows faster than its size.
"""

from __future__ import annotations

from numba import njit

from .layout import (
    COST_SCALE,
    EMPTY_KEY,
    M_FEE,
    M_NJOURNAL,
    M_NOTIONAL,
    M_NPOS,
    M_PNL,
    PNL_LIMIT,
    Q_ACCT,
    Q_BOOK,
    Q_CASH,
    Q_COST,
    Q_FEES,
    Q_POS,
    Q_REAL,
    Q_TRADED,
)

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64 (Fibonacci hashing)
_MIX = 7240280573005008577  # 0x647AD9A1F5E2F041: spreads the book index over the key


@njit(cache=True, inline="always")
def _pslot_of(ptable, acct, b):
    """Bucket of the (account, book) pair, or the empty bucket where it would go."""
    mask = ptable.shape[1] - 1
    h = (acct ^ (b * _MIX)) * _GOLDEN
    i = (h ^ (h >> 29)) & mask
    while True:
        k = ptable[0, i]
        if k == EMPTY_KEY or (k == acct and ptable[1, i] == b):
            return i
        i = (i + 1) & mask


@njit(cache=True, inline="always")
def position(meta, positions, ptable, acct, b):
    """Slot of account ``acct`` in book ``b``, created (all zero, untraded) on first sight."""
    i = _pslot_of(ptable, acct, b)
    if ptable[0, i] != EMPTY_KEY:
        return ptable[2, i]
    q = meta[M_NPOS]
    meta[M_NPOS] = q + 1
    ptable[0, i] = acct
    ptable[1, i] = b
    ptable[2, i] = q
    positions[Q_ACCT, q] = acct
    positions[Q_BOOK, q] = b
    return q


@njit(cache=True)
def prehash(positions, n, ptable):
    """Fill the (empty, larger) ``ptable`` with the first ``n`` position slots."""
    for q in range(n):
        acct = positions[Q_ACCT, q]
        b = positions[Q_BOOK, q]
        i = _pslot_of(ptable, acct, b)
        ptable[0, i] = acct
        ptable[1, i] = b
        ptable[2, i] = q


@njit(cache=True, inline="always")
def _mul_div(r, c, m):
    """(floor(r * c / m), r * c mod m) for 0 <= r < m and 0 < c < m, without overflow."""
    if r < 2147483648 and c < 2147483648:
        p = r * c
        return p // m, p % m
    q = 0
    rem = 0
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
    return q, rem


@njit(cache=True)
def _apply(positions, q, signed, price, fee):
    """Lab 02's ``_apply``: one fill of ``signed`` shares at ``price`` ticks to slot ``q``."""
    unit = price * COST_SCALE
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
        lo, rem = _mul_div(acost - whole * apos, closed, apos)
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


@njit(cache=True, inline="always")
def fill(meta, positions, aslot, rslot, side, price, qty):
    """Both sides of one fill; returns 0 (and turns the kernel's PnL off) if int64 could
    overflow, 1 otherwise."""
    fee_unit = meta[M_FEE]
    per = float(price) * COST_SCALE + float(abs(fee_unit))
    if float(qty) * per + float(meta[M_NOTIONAL]) > PNL_LIMIT:
        meta[M_PNL] = 0
        return 0
    meta[M_NOTIONAL] += qty * (price * COST_SCALE + abs(fee_unit))
    fee = fee_unit * qty
    signed = qty if side > 0 else -qty
    _apply(positions, aslot, signed, price, fee)
    _apply(positions, rslot, -signed, price, fee)
    return 1


@njit(cache=True)
def journal(meta, rows, kind, seq, b, key, acct, status, last_qty, last_price, leaves):
    """Append one report row (the room was checked); callers test ``meta[M_REPORTS]``."""
    n = meta[M_NJOURNAL]
    rows[n, 0] = kind
    rows[n, 1] = seq
    rows[n, 2] = b
    rows[n, 3] = key
    rows[n, 4] = acct
    rows[n, 5] = status
    rows[n, 6] = last_qty
    rows[n, 7] = last_price
    rows[n, 8] = leaves
    meta[M_NJOURNAL] = n + 1
