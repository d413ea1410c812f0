"""The risk engine's event loop compiled by Numba: every check, metric, VaR and alert on int64.

:class:`~.kernel.KernelRiskEngine` encodes a run of events as a 2-D int64 array (``ev[E_*,
i]``: one row per field, one column per event) and calls :func:`run` once for the whole run,
the way Lab 11's compiled matching engine batches events: Numba's dispatcher costs
microseconds per call (it unboxes every array argument), which is more than a mark of 25
holders costs compiled, so one call per event would lose most of the gain. :func:`run`
applies events from ``start`` on and returns the index of the first one it did not apply,
with a status in ``meta[M_STATUS]``: done; the alert buffer needs draining (checked before
each event, so an event's alerts are never split); an account's order-rate ring must grow;
or a value would leave the exact int64 range (the event is not applied and the owner raises).

State layout (every array owned by the engine; the constants below name the columns):

- ``acc[a, A_*]``: per account, the running sums of :mod:`.positions` (base, net, gross,
  peak, realized, cost), the last VaR sample, the kill switch, the four alert states, 100 x
  the historical VaR, and the limits as integers (alert zone lines precomputed);
- ``pos[P_*, a, s]``: per account and symbol, position, cost basis, realized, open buy and
  sell quantity, the index in the symbol's holder list (-1: flat), restricted or not;
- ``hold[s, j]``: the accounts holding symbol ``s`` (``sym[s, S_NHOLD]`` of them);
- ``sym[s, S_*]``: last mark and reference price (0: none; prices are positive);
- ``oid[o, O_*]``: per interned order id: seen, open, open quantity, account, symbol, side;
- ``ring``/``tail``/``rate``: per account slices (offsets in ``acc``) of the VaR window, its
  sorted tail (:mod:`.var`'s algorithm, verbatim) and the order timestamps inside the rate
  window (a ring of at most ``max_orders_per_s``: an order is over the rate iff the ring is
  full of timestamps inside the window; a ring that fills up below that size is grown by
  the owner, status ``ST_GROW``, and the order runs again).

Exactness: every money value is kept within +-``MONEY_MAX`` (2^52 money units, about 45 M of
currency), positions within +-``POS_MAX`` and prices within ``PRICE_MAX``, which leaves room
for every product below in int64; the two products of two independent values (the collar and
margin utilization cross-multiplications) are taken to 128 bits (:func:`_mul_ge`). A row that
would break a bound is not applied (status ``ST_RANGE`` with a code in ``meta[M_ERR]``).
The EWMA's floats are the same IEEE operations in the same order as :class:`.var.EwmaVaR`
(changes stay below 2^53, so ``change / 1e8`` rounds as Python's int division does).

The per-holder helpers are inlined into their callers at Numba's level (``inline="always"``):
an array passed to a function that is not inlined has its reference count raised and lowered
around the call, atomic operations that cost more than the arithmetic they wrap.

Numba caches this file's compiled code on disk (``cache=True``); every helper lives in this
file, so an edit of any of them invalidates the cache.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---------------------------------------------------------------- layout
E_KIND, E_ACCT, E_SYM, E_SIDE, E_QTY, E_PRICE, E_OID, E_TS = range(8)
E_COLS = 8
K_ORDER, K_CANCEL, K_FILL, K_MARK = range(4)

(A_BASE, A_NET, A_GROSS, A_PEAK, A_REAL, A_COST, A_LAST, A_HASLAST, A_HALT, A_ST0, A_ST1,
 A_ST2, A_ST3, A_VAR100, A_EWN, A_MAXQ, A_MAXNPU, A_CNUM, A_CDEN, A_MAXPOS, A_CREDIT,
 A_MAXRATE, A_DD7, A_DD8, A_DD10, A_V7, A_V8, A_V10, A_G7, A_G8, A_G10, A_UA10, A_UB,
 A_W, A_ROFF, A_RN, A_HEAD, A_TOFF, A_TN, A_NEED, A_CAP, A_LO, A_REM, A_QOFF, A_QN,
 A_QHEAD, A_QCAP) = range(47)
A_COLS = 47
P_POS, P_COST, P_REAL, P_OBUY, P_OSELL, P_HIDX, P_RESTR = range(7)
P_PLANES = 7
S_MARK, S_PRICE, S_NHOLD = range(3)
S_COLS = 3
O_SEEN, O_OPEN, O_QTY, O_ACCT, O_SYM, O_SIDE = range(6)
O_COLS = 6
M_STATUS, M_NALERTS, M_NTOUCHED, M_UFILLS, M_UCANCELS, M_ERR, M_NACC = range(7)
M_COLS = 8
ST_DONE, ST_ALERTS, ST_RANGE, ST_GROW = 0, 1, 2, 3
ERR_MARK, ERR_FILL = 1, 2
LV_WARN, LV_BREACH, LV_CLEAR = 1, 2, 3

MONEY_MAX = 1 << 52
POS_MAX = (1 << 31) - 1
COST_SCALE = 10_000  # Lab 02's cost units per price unit and share (tested equal)
PRICE_MAX = MONEY_MAX // COST_SCALE
WINDOW_NS = 1_000_000_000
Z95 = 1.6448536269514722
LAM, WEIGHT, MONEY_SCALE_F = 0.94, 0.06, 1e8

# TRANSITIONS of .alerts as two tables: [state, zone] -> new state, level (0: nothing)
NEW_STATE = np.array([[0, 0, 1, 2], [0, 1, 1, 2], [0, 2, 2, 2]], dtype=np.int64)
LEVEL = np.array([[0, 0, LV_WARN, LV_BREACH], [LV_CLEAR, 0, 0, LV_BREACH],
                  [LV_CLEAR, 0, 0, 0]], dtype=np.int64)
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


# ---------------------------------------------------------------- exact helpers
@njit(cache=True, inline="always")
def _mul128(a, b):
    """The 128-bit product of two non-negative int64s, as (high, low) uint64 words."""
    a, b = np.uint64(a), np.uint64(b)
    a0, a1, b0, b1 = a & _M32, a >> _S32, b & _M32, b >> _S32
    p00, p01, p10 = a0 * b0, a0 * b1, a1 * b0
    mid = (p00 >> _S32) + (p01 & _M32) + (p10 & _M32)
    return a1 * b1 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32), \
        (p00 & _M32) | ((mid & _M32) << _S32)


@njit(cache=True, inline="always")
def _mul_ge(a, x, b, y):
    """``a * x >= b * y`` for non-negative int64s, exactly."""
    h1, l1 = _mul128(a, x)
    h2, l2 = _mul128(b, y)
    return h1 > h2 or (h1 == h2 and l1 >= l2)


@njit(cache=True, inline="always")
def _line_zone(v, t7, t8, t10):
    """The zone of ``v`` against precomputed lines ceil(k x limit / 10), k = 7, 8, 10."""
    if v >= t10:
        return 3
    if v >= t8:
        return 2
    return 1 if v >= t7 else 0


@njit(cache=True, inline="always")
def _ge_k(gross, ua10, eq, ub, k, fa, fb):
    """``gross x ua10 >= k x ub x eq``: decided in floats when they are clearly apart (their
    relative error is below 1e-15, the margin kept is 1e-12), else exactly."""
    d = fa - k * fb
    tol = 1e-12 * fa
    if d > tol:
        return True
    if d < -tol:
        return False
    return _mul_ge(gross, ua10, eq, k * ub)


@njit(cache=True, inline="always")
def margin_zone(gross, ua10, eq, ub):
    """The zone of margin utilization against its limit, as :meth:`.engine.RiskEngine.
    _zone_steps` reduces it: 0 with no margin, 3 with margin and no equity, else the zone of
    ``gross x a / (b x eq)`` (``ua10`` = 10 a, ``ub`` = b)."""
    if gross == 0 or ua10 == 0:
        return 0
    if eq <= 0:
        return 3
    fa, fb = np.float64(gross) * np.float64(ua10), np.float64(eq) * np.float64(ub)
    if _ge_k(gross, ua10, eq, ub, 10, fa, fb):
        return 3
    if _ge_k(gross, ua10, eq, ub, 8, fa, fb):
        return 2
    return 1 if _ge_k(gross, ua10, eq, ub, 7, fa, fb) else 0


# ---------------------------------------------------------------- historical VaR (.var)
@njit(cache=True, inline="always")
def _bisect_left(arr, lo, hi, x):
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, inline="always")
def _insort(arr, lo, n, x):
    """Insert ``x`` into the sorted ``arr[lo:lo+n]`` after equal values (bisect.insort)."""
    a, b = lo, lo + n
    while a < b:
        mid = (a + b) >> 1
        if x < arr[mid]:
            b = mid
        else:
            a = mid + 1
    for k in range(lo + n, a, -1):
        arr[k] = arr[k - 1]
    arr[a] = x


@njit(cache=True, inline="always")
def _var100(tail, toff, lo, rem):
    x = tail[toff + lo]
    q100 = 100 * x + (rem * (tail[toff + lo + 1] - x) if rem else 0)
    return -q100 if q100 < 0 else 0


@njit(cache=True, inline="always")
def _var_push(acc, a, ring, tail, change):
    """:meth:`.var.HistoricalVaR.push`, line for line, on the account's slices."""
    w, roff, toff = acc[a, A_W], acc[a, A_ROFF], acc[a, A_TOFF]
    tn, h = acc[a, A_TN], acc[a, A_HEAD]
    if h >= 0:
        old = ring[roff + h]
        ring[roff + h] = change
        h += 1
        acc[a, A_HEAD] = h if h < w else 0
        top = tail[toff + tn - 1]
        if old > top and change >= top:
            return
        cap, need = acc[a, A_CAP], acc[a, A_NEED]
        if old <= top:
            k = _bisect_left(tail, toff, toff + tn, old)
            for j in range(k, toff + tn - 1):
                tail[j] = tail[j + 1]
            tn -= 1
        if tn > 0 and change < tail[toff + tn - 1]:
            _insort(tail, toff, tn, change)
            tn += 1
            if tn > cap:
                tn -= 1
        if tn < need:
            srt = np.sort(ring[roff:roff + w])
            tn = min(cap, w)
            tail[toff:toff + tn] = srt[:tn]
        lo, rem = acc[a, A_LO], acc[a, A_REM]
        acc[a, A_TN] = tn
    else:
        n, cap = acc[a, A_RN], acc[a, A_CAP]
        if tn == n or change < tail[toff + tn - 1]:
            _insort(tail, toff, tn, change)
            tn += 1
            if tn > cap:
                tn -= 1
        acc[a, A_TN] = tn
        ring[roff + n] = change
        n += 1
        acc[a, A_RN] = n
        if n == w:
            acc[a, A_HEAD] = 0
        if n < 2:
            return
        lo, rem = ((n - 1) * 5) // 100, ((n - 1) * 5) % 100
    acc[a, A_VAR100] = _var100(tail, toff, lo, rem)


# ---------------------------------------------------------------- alerts
@njit(cache=True, inline="always")
def _emit(alerts, meta, i, a, k, level, v1, v2):
    n = meta[M_NALERTS]
    alerts[n, 0], alerts[n, 1], alerts[n, 2] = i, a, k
    alerts[n, 3], alerts[n, 4], alerts[n, 5] = level, v1, v2
    meta[M_NALERTS] = n + 1


@njit(cache=True, inline="always")
def _step(acc, alerts, meta, i, a, k, z, v1, v2):
    was = acc[a, A_ST0 + k]
    level = LEVEL[was, z]
    if level:
        acc[a, A_ST0 + k] = NEW_STATE[was, z]
        _emit(alerts, meta, i, a, k, level, v1, v2)
        if k == 0 and level == LV_BREACH:
            acc[a, A_HALT] = 1  # the kill switch: stays on


@njit(cache=True, inline="always")
def _settle(acc, alerts, meta, i, a):
    """Peak, then the four alert metrics of one account, in the order of .alerts.METRICS."""
    eq = acc[a, A_BASE] + acc[a, A_NET]
    if eq > acc[a, A_PEAK]:
        acc[a, A_PEAK] = eq
    dd = acc[a, A_PEAK] - eq
    _step(acc, alerts, meta, i, a, 0, _line_zone(dd, acc[a, A_DD7], acc[a, A_DD8],
                                                 acc[a, A_DD10]), dd, 0)
    v = acc[a, A_VAR100]
    _step(acc, alerts, meta, i, a, 1, _line_zone(v, acc[a, A_V7], acc[a, A_V8], acc[a, A_V10]),
          v, 0)
    gross = acc[a, A_GROSS]
    _step(acc, alerts, meta, i, a, 2, margin_zone(gross, acc[a, A_UA10], eq, acc[a, A_UB]),
          gross, eq)
    _step(acc, alerts, meta, i, a, 3, _line_zone(gross, acc[a, A_G7], acc[a, A_G8],
                                                 acc[a, A_G10]), gross, 0)


# ---------------------------------------------------------------- events
@njit(cache=True)
def _order(ev, i, acc, pos, sym, oid, rate):
    """:func:`.checks.pretrade` plus the booking of an accepted order; the reason code
    (0: accept, else 1 + its index in .checks.REASONS)."""
    a, s, o = ev[E_ACCT, i], ev[E_SYM, i], ev[E_OID, i]
    qty, price, ts = ev[E_QTY, i], ev[E_PRICE, i], ev[E_TS, i]
    # The rate window first (every order counts): the ring keeps the timestamps inside the
    # window, at most max_orders_per_s of them; full and smaller than that, it must grow.
    m, cap = acc[a, A_MAXRATE], acc[a, A_QCAP]
    qn, qoff, qh = acc[a, A_QN], acc[a, A_QOFF], acc[a, A_QHEAD]
    edge = ts - WINDOW_NS
    while qn > 0 and rate[qoff + qh] <= edge:
        qh = qh + 1 if qh + 1 < cap else 0
        qn -= 1
    acc[a, A_QN], acc[a, A_QHEAD] = qn, qh
    if qn == cap and cap < m:
        return -1  # the owner grows this account's ring, then the event runs again
    over = qn >= m  # the earlier orders in the window, and this one: more than m
    if m > 0:
        if qn < cap:
            rate[qoff + (qh + qn) % cap] = ts
            acc[a, A_QN] = qn + 1
        else:  # cap == m: the oldest leaves, it no longer decides anything
            rate[qoff + qh] = ts
            acc[a, A_QHEAD] = qh + 1 if qh + 1 < cap else 0
    dup = oid[o, O_SEEN]
    oid[o, O_SEEN] = 1
    if acc[a, A_HALT]:
        return 1
    if dup:
        return 2
    if pos[P_RESTR, a, s]:
        return 3
    if qty > acc[a, A_MAXQ]:
        return 4
    mark = sym[s, S_MARK]
    px = price
    if price == 0:  # market order
        if mark == 0:
            return 5
        px = mark
    if qty > acc[a, A_MAXNPU] // px:  # qty x px > N  <=>  qty > N // px (no overflow)
        return 6
    notional = qty * px
    if price != 0 and mark != 0:
        diff = price - mark if price > mark else mark - price
        if not _mul_ge(acc[a, A_CNUM], mark, diff, acc[a, A_CDEN]):
            return 7
    p = pos[P_POS, a, s]
    if ev[E_SIDE, i] == 1:
        if p + pos[P_OBUY, a, s] + qty > acc[a, A_MAXPOS]:
            return 8
    elif p - pos[P_OSELL, a, s] - qty < -acc[a, A_MAXPOS]:
        return 8
    if acc[a, A_GROSS] + notional * COST_SCALE > acc[a, A_CREDIT]:
        return 9
    if over:
        return 10
    oid[o, O_OPEN], oid[o, O_QTY], oid[o, O_ACCT] = 1, qty, a
    oid[o, O_SYM], oid[o, O_SIDE] = s, ev[E_SIDE, i]
    pos[P_OBUY if ev[E_SIDE, i] == 1 else P_OSELL, a, s] += qty
    return 0


@njit(cache=True)
def _release(pos, oid, o, q):
    plane = P_OBUY if oid[o, O_SIDE] == 1 else P_OSELL
    pos[plane, oid[o, O_ACCT], oid[o, O_SYM]] -= q
    oid[o, O_QTY] -= q


@njit(cache=True)
def _revalue_ok(acc, pos, hold, s, nh, price, old):
    """Would moving symbol ``s`` from ``old`` to ``price`` keep every holder in range?"""
    lim = MONEY_MAX // (max(price, old) * COST_SCALE)
    dv = (price - old) * COST_SCALE
    for j in range(nh):
        a = hold[s, j]
        p = pos[P_POS, a, s]
        if p > lim or -p > lim:
            return False
        d = p * dv
        net = acc[a, A_NET] + d
        gross = acc[a, A_GROSS] + (d if p > 0 else -d)
        eq = acc[a, A_BASE] + net
        if abs(net) > MONEY_MAX or gross > MONEY_MAX or abs(eq) > MONEY_MAX:
            return False
    return True


@njit(cache=True)
def _mark(ev, i, acc, s2, pos, hold, sym, ring, tail, alerts, touched, meta):
    s, price = ev[E_SYM, i], ev[E_PRICE, i]
    old = sym[s, S_PRICE]
    nh = sym[s, S_NHOLD]
    if old != 0 and nh and not _revalue_ok(acc, pos, hold, s, nh, price, old):
        return ERR_MARK
    sym[s, S_MARK] = price
    sym[s, S_PRICE] = price
    dv = 0 if old == 0 else (price - old) * COST_SCALE
    for j in range(nh):
        a = hold[s, j]
        touched[j] = a
        if dv:
            p = pos[P_POS, a, s]
            d = p * dv
            acc[a, A_NET] += d
            acc[a, A_GROSS] += d if p > 0 else -d
        eq = acc[a, A_BASE] + acc[a, A_NET]
        if acc[a, A_HASLAST]:  # one VaR sample: the equity change since the last one
            change = eq - acc[a, A_LAST]
            _var_push(acc, a, ring, tail, change)
            c = change / MONEY_SCALE_F
            s2[a] = LAM * s2[a] + WEIGHT * c * c if acc[a, A_EWN] else c * c
            acc[a, A_EWN] += 1
        acc[a, A_LAST] = eq
        acc[a, A_HASLAST] = 1
        _settle(acc, alerts, meta, i, a)
    meta[M_NTOUCHED] = nh
    return 0


@njit(cache=True)
def _apply_fill(acc, pos, a, s, signed, price, ref, commit):
    """:meth:`.positions.AccountRisk.fill` (Lab 02's average cost) on ``pos[:, a, s]``; with
    ``commit`` False only says whether every result stays in range."""
    unit = price * COST_SCALE
    q = signed if signed > 0 else -signed
    if q > MONEY_MAX // unit:
        return False
    p0, c0, r0 = pos[P_POS, a, s], pos[P_COST, a, s], pos[P_REAL, a, s]
    p1, c1, r1 = p0, c0, r0
    if p0 == 0 or (p0 > 0) == (signed > 0):
        c1 = c0 + signed * unit
        p1 = p0 + signed
    else:
        apos = p0 if p0 > 0 else -p0
        closed = q if q < apos else apos
        if closed == apos:
            removed = c0
        else:  # cost x closed / |position|, halves away from zero, without overflow
            mag = c0 if c0 >= 0 else -c0
            whole, part = mag // apos, mag % apos
            removed = whole * closed + (part * closed) // apos
            if 2 * ((part * closed) % apos) >= apos:
                removed += 1
            if c0 < 0:
                removed = -removed
        r1 = r0 + ((closed * unit - removed) if p0 > 0 else (-removed - closed * unit))
        c1 = c0 - removed
        rest = q - closed
        if rest:
            rest = rest if signed > 0 else -rest
            c1 = rest * unit
            p1 = rest
        else:
            p1 = p0 + signed
    ref_unit = ref * COST_SCALE
    d_real, d_cost = r1 - r0, c1 - c0
    net = acc[a, A_NET] + (p1 - p0) * ref_unit
    ap0, ap1 = (p0 if p0 > 0 else -p0), (p1 if p1 > 0 else -p1)
    gross = acc[a, A_GROSS] + (ap1 - ap0) * ref_unit
    base = acc[a, A_BASE] + d_real - d_cost
    real = acc[a, A_REAL] + d_real
    if ap1 > POS_MAX or abs(c1) > MONEY_MAX or abs(r1) > MONEY_MAX or abs(net) > MONEY_MAX \
            or gross > MONEY_MAX or abs(base) > MONEY_MAX or abs(real) > MONEY_MAX \
            or abs(base + net) > MONEY_MAX or abs(acc[a, A_COST] + d_cost) > MONEY_MAX:
        return False
    if commit:
        pos[P_POS, a, s], pos[P_COST, a, s], pos[P_REAL, a, s] = p1, c1, r1
        acc[a, A_REAL] = real
        acc[a, A_COST] += d_cost
        acc[a, A_BASE], acc[a, A_NET], acc[a, A_GROSS] = base, net, gross
    return True


@njit(cache=True)
def _fill(ev, i, acc, pos, hold, sym, oid, alerts, touched, meta):
    a, s, o = ev[E_ACCT, i], ev[E_SYM, i], ev[E_OID, i]
    signed = ev[E_QTY, i] if ev[E_SIDE, i] == 1 else -ev[E_QTY, i]
    price = ev[E_PRICE, i]
    nh = sym[s, S_NHOLD]
    revalue = sym[s, S_MARK] == 0 and sym[s, S_PRICE] != 0 and sym[s, S_PRICE] != price
    old = sym[s, S_PRICE]
    ref = price if sym[s, S_MARK] == 0 else sym[s, S_PRICE]
    # Range checks first (nothing changes if the event cannot be applied exactly).
    if revalue and not _revalue_ok(acc, pos, hold, s, nh, price, old):
        return ERR_FILL
    if revalue and pos[P_HIDX, a, s] >= 0:  # the filler's revaluation comes first
        d = pos[P_POS, a, s] * (price - old) * COST_SCALE
        acc[a, A_NET] += d
        acc[a, A_GROSS] += d if pos[P_POS, a, s] > 0 else -d
        ok = _apply_fill(acc, pos, a, s, signed, price, ref, False)
        acc[a, A_NET] -= d
        acc[a, A_GROSS] -= d if pos[P_POS, a, s] > 0 else -d
    else:
        ok = _apply_fill(acc, pos, a, s, signed, price, ref, False)
    if not ok:
        return ERR_FILL
    if oid[o, O_OPEN]:
        _release(pos, oid, o, min(ev[E_QTY, i], oid[o, O_QTY]))
        if oid[o, O_QTY] == 0:
            oid[o, O_OPEN] = 0
    else:
        meta[M_UFILLS] += 1
    nt = 0
    if sym[s, S_MARK] == 0:  # no mark yet: the last fill is the reference price
        if revalue:
            dv = (price - old) * COST_SCALE
            for j in range(nh):
                h = hold[s, j]
                p = pos[P_POS, h, s]
                d = p * dv
                acc[h, A_NET] += d
                acc[h, A_GROSS] += d if p > 0 else -d
        sym[s, S_PRICE] = price
        for j in range(nh):
            if hold[s, j] != a:
                touched[nt] = hold[s, j]
                nt += 1
    _apply_fill(acc, pos, a, s, signed, price, ref, True)
    j = pos[P_HIDX, a, s]
    if pos[P_POS, a, s] != 0:
        if j < 0:
            hold[s, nh] = a
            pos[P_HIDX, a, s] = nh
            sym[s, S_NHOLD] = nh + 1
    elif j >= 0:  # flat: out of the holder list (the last one takes its place)
        last = hold[s, nh - 1]
        hold[s, j] = last
        pos[P_HIDX, last, s] = j
        pos[P_HIDX, a, s] = -1
        sym[s, S_NHOLD] = nh - 1
    touched[nt] = a
    nt += 1
    for j in range(nt):
        _settle(acc, alerts, meta, i, touched[j])
    meta[M_NTOUCHED] = nt
    return 0


@njit(cache=True)
def run(ev, start, acc, s2, pos, hold, sym, oid, ring, tail, rate, reasons, alerts, touched,
        meta):
    """Apply ``ev[start:]``; returns the index of the first row not applied (see the module's
    docstring for ``meta[M_STATUS]``). ``reasons[i]`` gets each order's reason code."""
    n = ev.shape[1]
    room = alerts.shape[0] - 4 * meta[M_NACC]  # one event raises at most 4 per account
    i = start
    while i < n:
        if meta[M_NALERTS] > room:
            meta[M_STATUS] = ST_ALERTS
            return i
        kind = ev[E_KIND, i]
        meta[M_NTOUCHED] = 0
        err = 0
        if kind == K_ORDER:
            r = _order(ev, i, acc, pos, sym, oid, rate)
            if r < 0:
                meta[M_STATUS] = ST_GROW
                meta[M_ERR] = ev[E_ACCT, i]
                return i
            reasons[i] = r
        elif kind == K_MARK:
            err = _mark(ev, i, acc, s2, pos, hold, sym, ring, tail, alerts, touched, meta)
        elif kind == K_FILL:
            err = _fill(ev, i, acc, pos, hold, sym, oid, alerts, touched, meta)
        else:
            o = ev[E_OID, i]
            if oid[o, O_OPEN]:
                _release(pos, oid, o, oid[o, O_QTY])
                oid[o, O_OPEN] = 0
            else:
                meta[M_UCANCELS] += 1
        if err:
            meta[M_STATUS] = ST_RANGE
            meta[M_ERR] = err
            return i
        i += 1
    meta[M_STATUS] = ST_DONE
    return i
