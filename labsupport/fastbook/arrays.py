"""The arrays of one compiled engine and how they grow: :class:`KernelArrays`.

A kernel never allocates (see :mod:`.layout`): before each event it checks that the worst
case of that event fits every array, and when one is too small it stops *before* the event
with a status naming what is missing. This class owns the arrays, answers those statuses
(:meth:`KernelArrays.grow`: double the pool, the id table, the position table, the output
buffers or the price window), rebinds the kernel to the new arrays and lets it resume at the
same event, so an event is never half applied. Growth is rare (doubling: O(log n) times in a
run), which is why it can stay in Python.

Books are created here too, one per symbol, with its row in ``books`` and its window of
``levels``; the symbol -> book index map is the one piece of the boundary that allocates.
:class:`~.engine.FastEngine` builds on this class; nothing here runs per event.
"""

from __future__ import annotations

import numpy as np

from ..orderbook.types import Symbol
from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_RANK,
    BOOK_FIELDS,
    EMPTY_KEY,
    INITIAL_WIDTH,
    JOURNAL_FIELDS,
    L_HEAD,
    L_TAIL,
    M_FREE,
    M_LIVE,
    M_MAXWIDTH,
    M_NPOS,
    M_WIDTH,
    MAX_WIDTH,
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
    NO_BID,
    P_NEXT,
    POOL_FIELDS,
    POSITION_FIELDS,
    REJECT_FIELDS,
    TRADE_FIELDS,
)


def _pow2_at_least(n: int) -> int:
    return 1 << max(1, (n - 1).bit_length())


class KernelArrays:
    """Every array a kernel works on, allocated small and grown on the kernel's request.

    ``backend`` is a loaded backend (:func:`.backends.load`); ``drain`` is called when an
    output buffer is full (the owner moves its rows out)."""

    def __init__(self, backend, *, pool_capacity: int = 1024, width: int = INITIAL_WIDTH,
                 max_width: int = MAX_WIDTH) -> None:
        self._backend = backend
        self.meta = np.zeros(META_FIELDS, np.int64)
        self.meta[M_WIDTH] = width
        self.meta[M_MAXWIDTH] = max(max_width, width)
        self.meta[M_FREE] = -1
        self.pool = np.zeros((POOL_FIELDS, 0), np.int64)
        self._grow_pool(max(pool_capacity, 1))
        # Power-of-two tables (the probes mask the hash), at least twice what they hold.
        self.table = np.full((2, _pow2_at_least(2 * self.pool.shape[1])), EMPTY_KEY, np.int64)
        self.position_rows = np.zeros((POSITION_FIELDS, 64), np.int64)
        self.ptable = np.full((3, 128), EMPTY_KEY, np.int64)
        self.books = np.zeros((0, BOOK_FIELDS), np.int64)
        self.levels = np.zeros((0, width, 4), np.int64)
        self.trades_buf = np.zeros((1024, TRADE_FIELDS), np.int64)
        self.rejects_buf = np.zeros((256, REJECT_FIELDS), np.int64)
        self.journal = np.zeros((1024, JOURNAL_FIELDS), np.int64)
        self._book_of: dict[Symbol, int] = {}
        self._names: list[Symbol] = []
        self._kernel = backend.kernel(self.grow)
        self._bind()

    def _bind(self) -> None:
        self._kernel.bind(self.meta, self.pool, self.table, self.books, self.levels,
                          self.trades_buf, self.rejects_buf, self.position_rows, self.ptable,
                          self.journal)

    def _drain(self) -> None:  # pragma: no cover - the engine overrides it
        raise NotImplementedError

    # ------------------------------------------------------------------ books
    def _book(self, symbol: Symbol) -> int:
        """The book index of ``symbol``, creating its arrays on first sight (the book itself
        only exists for Lab 02's views once an order for it is accepted: ``B_RANK``)."""
        b = self._book_of.get(symbol)
        if b is None:
            b = self._book_of[symbol] = len(self._names)
            self._names.append(symbol)
            if b >= self.books.shape[0]:
                n = max(4, 2 * self.books.shape[0])
                books = np.zeros((n, BOOK_FIELDS), np.int64)
                books[:, B_BASE] = -1
                books[:, B_BID] = NO_BID
                books[:, B_ASK] = NO_ASK
                books[:, B_RANK] = -1
                books[:b] = self.books
                levels = self._new_levels(n, int(self.meta[M_WIDTH]))
                levels[:b] = self.levels
                self.books, self.levels = books, levels
                self._bind()
        return b

    @staticmethod
    def _new_levels(n: int, width: int) -> np.ndarray:
        levels = np.zeros((n, width, 4), np.int64)
        levels[:, :, L_HEAD] = -1
        levels[:, :, L_TAIL] = -1
        return levels

    # ------------------------------------------------------------------ growth
    def _grow_pool(self, extra: int) -> None:
        old = self.pool
        cap = old.shape[1]
        pool = np.zeros((POOL_FIELDS, cap + extra), np.int64)
        pool[:, :cap] = old
        nxt = np.arange(cap + 1, cap + extra + 1, dtype=np.int64)
        nxt[-1] = self.meta[M_FREE]  # the new slots go in front of the free list
        pool[P_NEXT, cap:] = nxt
        self.meta[M_FREE] = cap
        self.pool = pool

    def _buffer_for(self, buf: np.ndarray, need: int) -> np.ndarray:
        """``buf`` after a drain, or a bigger empty one if ``need`` rows would not fit."""
        return buf if buf.shape[0] >= need else np.zeros((2 * need, buf.shape[1]), np.int64)

    def grow(self, status: int) -> None:
        """Do what the kernel asked for before it can apply the next event, then rebind."""
        live = int(self.meta[M_LIVE])
        if status == NEED_POOL:
            self._grow_pool(self.pool.shape[1])
        elif status == NEED_TABLE:
            table = np.full((2, 2 * self.table.shape[1]), EMPTY_KEY, np.int64)
            self._backend.rehash(self.table, table, self.pool)
            self.table = table
        elif status == NEED_POSITIONS:
            positions = np.zeros((POSITION_FIELDS, 2 * self.position_rows.shape[1]), np.int64)
            positions[:, :self.position_rows.shape[1]] = self.position_rows
            self.position_rows = positions
        elif status == NEED_PTABLE:
            ptable = np.full((3, 2 * self.ptable.shape[1]), EMPTY_KEY, np.int64)
            self._backend.prehash(self.position_rows, int(self.meta[M_NPOS]), ptable)
            self.ptable = ptable
        elif status in (NEED_TRADES, NEED_REJECTS, NEED_JOURNAL):
            self._drain()
            self.trades_buf = self._buffer_for(self.trades_buf, live + 1)
            self.journal = self._buffer_for(self.journal, 3 * live + 5)
        elif status == NEED_WIDTH:
            width = int(self.meta[M_WIDTH])
            new = min(2 * width, int(self.meta[M_MAXWIDTH]))
            levels = self._new_levels(self.levels.shape[0], new)
            levels[:, :width] = self.levels
            self.levels = levels
            self.meta[M_WIDTH] = new
        else:  # pragma: no cover - a kernel bug, not input
            raise AssertionError(f"kernel status {status}")
        self._bind()

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held by each array (the pool and tables grow; levels are per book x width)."""
        return {"pool": self.pool.nbytes, "table": self.table.nbytes,
                "levels": self.levels.nbytes, "books": self.books.nbytes,
                "positions": self.position_rows.nbytes + self.ptable.nbytes,
                "buffers": self.trades_buf.nbytes + self.rejects_buf.nbytes
                + self.journal.nbytes}
