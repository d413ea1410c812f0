"""The memory layout both compiled engines share: every field an int64 in a numpy array.

Lab 02's book is a graph of Python objects (a dict of ``Level`` objects holding deques of
``Order`` objects, ids as dict keys). Each hop is a pointer chase to a boxed object somewhere
on the heap, every integer is a 28-byte object, and every attribute read is a dict or slot
lookup. A compiled loop wants the opposite: a few flat arrays of machine integers that it can
index with arithmetic, so the hot data of one event sits in a handful of cache lines. This
module defines those arrays; :mod:`._nbcore` (Numba) and ``_cyengine.pyx`` (Cython) run the
same algorithm over them, and :class:`~.engine.FastEngine` owns them and grows them.

The arrays (all ``int64``; ``-1`` means "none" for a link)
--------------------------------------------------------
``pool[F, slot]``: the order pool, a *struct of arrays*. Row ``P_QTY`` holds every order's
    leaves quantity, row ``P_NEXT`` every order's next link, and so on: a scan of one field
    (the matching loop reads ``P_QTY`` and ``P_NEXT`` of consecutive queue members) touches
    only that field's memory. (A matching engine mostly reads all fields of one order at
    once, which favours the opposite, an array of structs; an A/B of the two in the Numba
    kernel on the generated flow differed by 5-15 % of CPU time in favour of the structs, on a
    loaded machine: the struct of arrays stays as the layout this lab teaches.) Free slots are chained through ``P_NEXT`` from
    ``meta[M_FREE]`` (a *free list*): an add pops a slot, a fill or cancel pushes it back, so
    steady-state trading allocates nothing and recently freed (cache-warm) slots are reused
    first. The pool doubles when the free list runs dry.
``levels[book, offset, L_*]``: the price ladder of one book as an *array indexed by tick
    offset* from the book's ``B_BASE`` price: ``offset = price - base``. A level is 32 bytes
    (head, tail, total qty, order count: half a cache line), so the best level and its
    neighbours are adjacent in memory and "is there a level at this price?" is one load, no
    hash and no search. Both sides share the row: the book is never crossed, so a price holds
    bids or asks, never both. ``head``/``tail`` are pool slots; the orders of a level form an
    *intrusive* doubly linked FIFO through ``P_NEXT``/``P_PREV`` (the links live in the order
    itself, no separate node): append at the tail, fill from the head, cancel from anywhere in
    O(1).
``books[book, B_*]``: per symbol the window base, the best bid and best ask (kept
    *incrementally*: an add can only improve them, and when the best level empties the engine
    scans outwards to the next occupied offset, a short walk over adjacent memory on a real
    book), the number of bid and ask levels (so an emptied side needs no scan), the creation
    rank (books are listed in the order Lab 02 creates them), its trade count and its last
    trade price (``B_MARK``, the mark of the PnL).
``table[2, capacity]``: order id -> pool slot, an open-addressing hash table with linear
    probing (keys in row 0, values in row 1, capacity a power of two, at most half full). An
    id is never reused (Lab 02's rule), so entries are never deleted: a filled or cancelled
    order's value becomes ``-1``, which is how "order not live" is told from "unknown order
    id" and how duplicates are caught. The pool keeps each order's table position
    (``P_HPOS``), so a fill marks its id dead without a second probe.
``trades[k, T_*]`` and ``rejects[k, R_*]``: preallocated output rows the kernels append to;
    ``meta[M_NTRADES]``/``meta[M_NREJECTS]`` count them. Before each event the kernel checks
    there is room for the worst case (one trade per resting order); if not it stops and tells
    the owner, which drains or grows the buffers and resumes at the same event. The same
    protocol grows the pool, the table and the window: an event is never half applied.

``positions[Q_*, slot]`` and ``ptable[3, capacity]``: PnL in the kernel, Lab 02's
    :mod:`~labsupport.orderbook.pnl` rules (average cost, integer cost units of
    ``COST_SCALE`` per tick-share, one rounding, halves away from zero) on int64. One slot per
    (account, book), found through a second open-addressing table keyed by the pair (rows:
    account key, book, slot). A slot is created when its account first sends an accepted
    order to that book, *before* any fill, and a resting order keeps its slot in ``P_POS``: a
    fill updates two positions with no probe at all, and an event creates at most one slot
    (so "room for one more" before each event is enough). ``Q_TRADED`` marks the slots that
    really traded: only those are listed, as Lab 02 lists only accounts that traded.
    Overflow: Python's ints are unbounded, int64 is not. The kernel sums the notional of
    every fill (``meta[M_NOTIONAL]``, which bounds every cash, cost, fee and realized amount)
    and, before a fill would take it past ``PNL_LIMIT``, switches its PnL off
    (``meta[M_PNL] = 0``); the owner then replays the whole trade log into Lab 02's own
    ``PositionBook`` and keeps feeding it. Same numbers either way, exact by construction.
``journal[k, J_*]``: with a listener attached (``meta[M_REPORTS]``), what Lab 02 publishes,
    in its order: a ``J_TRADE`` row per fill (the trade itself is the next row of
    ``trades``), the two fill execution reports after it, ``NEW``/``EXPIRED``/``CANCELED``/
    ``REPLACED`` reports, and a ``J_REJECT`` row per reject (the next row of ``rejects``).
    The owner turns the rows into Lab 02's report objects when it drains the buffers.

The window and its limit
------------------------
A book's window is ``meta[M_WIDTH]`` ticks wide (4096 at first). When an order must rest
outside it, the kernel *re-centres* the book (moves its occupied levels so they and the new
price sit in the middle); if they cannot fit, the owner doubles the width of every book and the
event is retried. The width stops at ``MAX_WIDTH`` (65 536 ticks, $655 at a cent tick, 2 MiB
of levels per book); an order that would need more is rejected with ``R_WINDOW`` ("price
outside the book's window"): a price collar, as exchanges have, and the one rule Lab 02 does
not have (its dict of levels accepts any price).

Ids, symbols and accounts
-------------------------
The kernels see int64 only. :class:`~.engine.FastEngine` maps at the boundary: a symbol to a
dense book index, an int id in ``[0, 2**62)`` to itself, and anything else (a text ClOrdID
``"o1"``, an int outside that range) to a negative key from an intern table, mapped back when
trades and rejects are reported. Accounts are mapped the same way. So ``7`` and ``"7"`` stay two
orders, as in Lab 02, and integer flow is passed through with no per-event Python work.
"""

from __future__ import annotations

from ..orderbook.pnl import COST_SCALE  # noqa: F401 (the kernels' cost unit, Lab 02's)

# --- pool rows (struct of arrays) ---------------------------------------------------------
P_QTY, P_PRICE, P_SIDE, P_BOOK, P_ACCT, P_KEY, P_NEXT, P_PREV, P_HPOS, P_POS = range(10)
POOL_FIELDS = 10

# --- level fields ---------------------------------------------------------------------------
L_HEAD, L_TAIL, L_QTY, L_COUNT = range(4)
LEVEL_FIELDS = 4

# --- book fields ----------------------------------------------------------------------------
B_BASE, B_BID, B_ASK, B_NBID, B_NASK, B_RANK, B_TRADES, B_MARK = range(8)
BOOK_FIELDS = 8

# --- meta (engine-wide counters and switches) ----------------------------------------------
(M_FREE, M_LIVE, M_HCOUNT, M_NTRADES, M_NREJECTS, M_WIDTH, M_MAXWIDTH, M_FIXED, M_NRANK,
 M_REJECT_TOTAL, M_TRADE_TOTAL, M_PNL, M_FEE, M_NPOS, M_NOTIONAL, M_REPORTS, M_NJOURNAL,
 M_RESULT) = range(18)
META_FIELDS = 18

# --- event, trade and reject rows -----------------------------------------------------------
E_SEQ, E_BOOK, E_ACTION, E_KEY, E_SIDE, E_TYPE, E_PRICE, E_QTY, E_ACCT = range(9)
EVENT_FIELDS = 9
T_SEQ, T_BOOK, T_PRICE, T_QTY, T_AGGR, T_REST, T_SIDE, T_AACCT, T_RACCT = range(9)
TRADE_FIELDS = 9
R_SEQ, R_KEY, R_REASON = range(3)
REJECT_FIELDS = 3

# --- positions (struct of arrays) and the journal -------------------------------------------
Q_POS, Q_COST, Q_REAL, Q_FEES, Q_CASH, Q_ACCT, Q_BOOK, Q_TRADED = range(8)
POSITION_FIELDS = 8
J_KIND, J_SEQ, J_BOOK, J_KEY, J_ACCT, J_STATUS, J_LAST_QTY, J_LAST_PRICE, J_LEAVES = range(9)
JOURNAL_FIELDS = 9
J_TRADE, J_EXEC, J_REJECT = range(3)
"""Journal row kinds; an execution report's ``J_STATUS`` is Lab 02's ``Status`` value."""
S_NEW, S_PARTIAL, S_FILLED, S_CANCELED, S_EXPIRED, S_REPLACED = range(6)

# --- kernel status codes: 0 = done, otherwise what the owner must do before resuming --------
(OK, NEED_POOL, NEED_TABLE, NEED_TRADES, NEED_REJECTS, NEED_WIDTH, NEED_POSITIONS, NEED_PTABLE,
 NEED_JOURNAL) = range(9)

# --- sentinels and limits -----------------------------------------------------------------
NO_BID = 0
NO_ASK = 1 << 62
EMPTY_KEY = -(1 << 63)
"""Hash-table key of an empty bucket (no id maps to it)."""
INITIAL_WIDTH = 4096
MAX_WIDTH = 1 << 16
NO_BOOK = -1
"""``E_BOOK`` of a cancel or modify that names no symbol (no check)."""
PNL_LIMIT = float(1 << 60)
"""Cost units of fill notional up to which the kernels keep PnL in int64 (see above)."""

# --- reject reason codes (index into REASONS) -------------------------------------------------
(RC_DUPLICATE_ID, RC_UNKNOWN_ORDER, RC_NOT_LIVE, RC_FOK, RC_SIDE, RC_TYPE, RC_PRICE, RC_QTY,
 RC_ACTION, RC_SYMBOL, RC_MISMATCH, RC_WINDOW) = range(12)
R_WINDOW = "price outside the book's window"
