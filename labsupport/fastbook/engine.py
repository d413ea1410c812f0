""":class:`FastEngine`: Lab 02's engine API over the compiled kernels (Numba or Cython).

The engine owns the arrays of :mod:`.layout` and hands them to a *backend*: the Numba kernel
(:mod:`._nbcore`, functions compiled with ``@njit(cache=True)``) or the Cython extension
(``_cyengine``, a ``cdef class`` holding typed memoryviews of the same arrays). Both run the
same algorithm; the engine does what only Python can do well:

- **the boundary**: symbols become dense book indexes, order ids and accounts become int64
  keys (ints in ``[0, 2**62)`` pass through unchanged, text ClOrdIDs and account codes get
  negative keys from an intern table), and back again when trades and rejects are reported;
- **growth**: a kernel never allocates; when the pool, the id table, an output buffer or the
  price window is too small it stops *before* the event and returns a status, the engine grows
  that array (doubling) and resumes at the same event;
- **PnL**: every trade row is fed, in order, to Lab 02's own
  :class:`~labsupport.orderbook.pnl.PositionBook`, so positions and PnL are the same numbers
  by construction (computed when the trades are drained from the kernel's buffer).

Single events (``add``, ``cancel``, ``modify``, ``process``) answer exactly what Lab 02's
:class:`~labsupport.orderbook.engine.MatchingEngine` answers; ``process_rows``,
``process_array`` (a :mod:`labsupport.marketdata` event array, converted without a Python loop)
and ``process_events`` (the kernel's own int64 rows) are the batch path, one boundary crossing
per batch. Views (``l2_snapshot``, ``l3``, ``book(symbol).depth``, ``best_bid_ask``, ``pnl``)
read the arrays from Python: they are for people and files, not for the hot path. What is not
there: listeners (trades and rejects are kept and read with :meth:`trades`/:meth:`rejects`; no
execution reports, no L2 incremental updates) and ladder choice (the window *is* the ladder).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..orderbook.pnl import PositionBook
from ..orderbook.types import (
    ADD,
    BUY,
    CANCEL,
    MODIFY,
    R_DUPLICATE_ID,
    R_FOK_UNFILLABLE,
    R_INVALID_ACTION,
    R_INVALID_PRICE,
    R_INVALID_QTY,
    R_INVALID_SIDE,
    R_INVALID_TYPE,
    R_NOT_LIVE,
    R_SYMBOL_MISMATCH,
    R_UNKNOWN_ORDER,
    R_UNKNOWN_SYMBOL,
    SELL,
    Account,
    L2Snapshot,
    L3Order,
    OrderEvent,
    OrderId,
    PositionView,
    Reject,
    Symbol,
    Trade,
)
from . import backends
from .layout import (
    B_ASK,
    B_BASE,
    B_BID,
    B_RANK,
    BOOK_FIELDS,
    EMPTY_KEY,
    EVENT_FIELDS,
    INITIAL_WIDTH,
    L_HEAD,
    L_TAIL,
    M_FIXED,
    M_FREE,
    M_LIVE,
    M_MAXWIDTH,
    M_NRANK,
    M_NREJECTS,
    M_NTRADES,
    M_REJECT_TOTAL,
    M_TRADE_TOTAL,
    M_WIDTH,
    MAX_WIDTH,
    META_FIELDS,
    NEED_POOL,
    NEED_REJECTS,
    NEED_TABLE,
    NEED_TRADES,
    NEED_WIDTH,
    NO_ASK,
    NO_BID,
    NO_BOOK,
    OK,
    P_NEXT,
    POOL_FIELDS,
    R_WINDOW,
    REJECT_FIELDS,
    TRADE_FIELDS,
)
from .views import BookView, probe

REASONS = (R_DUPLICATE_ID, R_UNKNOWN_ORDER, R_NOT_LIVE, R_FOK_UNFILLABLE, R_INVALID_SIDE,
           R_INVALID_TYPE, R_INVALID_PRICE, R_INVALID_QTY, R_INVALID_ACTION, R_UNKNOWN_SYMBOL,
           R_SYMBOL_MISMATCH, R_WINDOW)
"""Reject reason text by kernel reason code (the strings of Lab 02, plus the window)."""

_KEY_LIMIT = 1 << 62
_I64 = (-(1 << 63), (1 << 63) - 1)


class Interner:
    """Ids or accounts <-> int64 keys: ints in ``[0, 2**62)`` are their own key, anything
    else (text, other ints) gets ``-1, -2, ...`` in order of first sight."""

    __slots__ = ("keys", "names")

    def __init__(self) -> None:
        self.keys: dict[object, int] = {}
        self.names: list[object] = []

    def key(self, value: OrderId) -> int:
        if type(value) is int and 0 <= value < _KEY_LIMIT:
            return value
        k = self.keys.get(value)
        if k is None:
            self.names.append(value)
            k = self.keys[value] = -len(self.names)
        return k

    def name(self, key: int) -> OrderId:
        return key if key >= 0 else self.names[-key - 1]


def _clamp(v: int) -> int:
    return _I64[0] + 1 if v <= _I64[0] else _I64[1] if v > _I64[1] else v


class FastEngine:
    """Lab 02's matching engine on compiled kernels: ``backend`` is ``"numba"`` or
    ``"cython"``. ``symbols``, ``pnl`` and ``fee_per_share_ticks`` as in
    :class:`~labsupport.orderbook.engine.MatchingEngine`."""

    def __init__(self, backend: str = "numba", symbols: Iterable[Symbol] | None = None, *,
                 pnl: bool = True, fee_per_share_ticks: int = 0, pool_capacity: int = 1024,
                 width: int = INITIAL_WIDTH, max_width: int = MAX_WIDTH) -> None:
        self.backend_name = backend
        self._backend = backends.load(backend)
        self.meta = np.zeros(META_FIELDS, np.int64)
        self.meta[M_WIDTH] = width
        self.meta[M_MAXWIDTH] = max(max_width, width)
        self.meta[M_FREE] = -1
        self.pool = np.zeros((POOL_FIELDS, 0), np.int64)
        self._grow_pool(max(pool_capacity, 1))
        # A power of two (the probe masks the hash), at least twice the pool.
        self.table = np.full((2, 1 << (2 * self.pool.shape[1] - 1).bit_length()), EMPTY_KEY,
                             np.int64)
        self.books = np.zeros((0, BOOK_FIELDS), np.int64)
        self.levels = np.zeros((0, width, 4), np.int64)
        self.trades_buf = np.zeros((1024, TRADE_FIELDS), np.int64)
        self.rejects_buf = np.zeros((256, REJECT_FIELDS), np.int64)
        self.ids, self.accounts = Interner(), Interner()
        self._book_of: dict[Symbol, int] = {}
        self._names: list[Symbol] = []
        self._trade_rows: list[np.ndarray] = []
        self._reject_rows: list[np.ndarray] = []
        self.positions: PositionBook | None = PositionBook(fee_per_share_ticks) if pnl else None
        self._kernel = None
        for s in symbols or ():
            b = self._book(s)
            self.books[b, B_RANK] = self.meta[M_NRANK]
            self.meta[M_NRANK] += 1
        self.meta[M_FIXED] = symbols is not None
        self._bind()

    # ------------------------------------------------------------------ arrays and growth
    def _bind(self) -> None:
        self._kernel = self._backend.bind(self.meta, self.pool, self.table, self.books,
                                          self.levels, self.trades_buf, self.rejects_buf)

    def _grow_pool(self, extra: int) -> None:
        old = self.pool
        cap = old.shape[1]
        pool = np.zeros((POOL_FIELDS, cap + extra), np.int64)
        pool[:, :cap] = old
        nxt = np.arange(cap + 1, cap + extra + 1, dtype=np.int64)
        nxt[-1] = self.meta[M_FREE]
        pool[P_NEXT, cap:] = nxt
        self.meta[M_FREE] = cap
        self.pool = pool

    def _book(self, symbol: Symbol) -> int:
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
                if self._kernel is not None:
                    self._bind()
        return b

    @staticmethod
    def _new_levels(n: int, width: int) -> np.ndarray:
        levels = np.zeros((n, width, 4), np.int64)
        levels[:, :, L_HEAD] = -1
        levels[:, :, L_TAIL] = -1
        return levels

    def _grow(self, status: int) -> None:
        """Do what the kernel asked for before it can apply the next event."""
        if status == NEED_POOL:
            self._grow_pool(self.pool.shape[1])
        elif status == NEED_TABLE:
            table = np.full((2, 2 * self.table.shape[1]), EMPTY_KEY, np.int64)
            self._backend.rehash(self.table, table, self.pool)
            self.table = table
        elif status == NEED_TRADES:
            self._drain()
            need = int(self.meta[M_LIVE]) + 1
            if self.trades_buf.shape[0] < need:
                self.trades_buf = np.zeros((2 * need, TRADE_FIELDS), np.int64)
        elif status == NEED_REJECTS:
            self._drain()
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

    def _drain(self) -> None:
        """Move the kernel's trade and reject rows out of its buffers (and into the PnL)."""
        n = int(self.meta[M_NTRADES])
        if n:
            rows = self.trades_buf[:n].copy()
            self.meta[M_NTRADES] = 0
            self._trade_rows.append(rows)
            if self.positions is not None:
                fill, names, acct = self.positions.fill, self._names, self.accounts.name
                for _seq, b, price, qty, _a, _r, side, aa, ra in rows.tolist():
                    fill(names[b], acct(aa), side, acct(ra), price, qty)
        n = int(self.meta[M_NREJECTS])
        if n:
            self._reject_rows.append(self.rejects_buf[:n].copy())
            self.meta[M_NREJECTS] = 0

    # ------------------------------------------------------------------ single events
    def _step(self, seq: int, b: int, action: int, key: int, side: int, otype: int,
              price: int, qty: int, acct: int) -> int:
        while True:
            try:
                status, result = self._kernel.step(seq, b, action, key, side, otype, price,
                                                   qty, acct)
            except OverflowError:  # a field beyond int64: clamp it (it is rejected anyway)
                seq, side, otype, price, qty = (_clamp(v) for v in (seq, side, otype, price, qty))
                continue
            if status == OK:
                return result
            self._grow(status)

    def add(self, symbol: Symbol, order_id: OrderId, side: int, otype: int, price_ticks: int,
            qty: int, account: Account = 0, seq: int = 0) -> int:
        """Submit a new order; leaves quantity, or -1 if rejected (as Lab 02)."""
        return self._step(seq, self._book(symbol), ADD, self.ids.key(order_id), side, otype,
                          price_ticks, qty, self.accounts.key(account))

    def cancel(self, order_id: OrderId, symbol: Symbol | None = None, seq: int = 0) -> bool:
        """Cancel a resting order; False (and a reject) if it is not live."""
        b = NO_BOOK if symbol is None else self._book(symbol)
        return self._step(seq, b, CANCEL, self.ids.key(order_id), 0, 0, 0, 0, 0) == 0

    def modify(self, order_id: OrderId, price_ticks: int, qty: int,
               symbol: Symbol | None = None, seq: int = 0) -> int:
        """New price and/or remaining quantity; priority kept only on a same-price decrease."""
        b = NO_BOOK if symbol is None else self._book(symbol)
        return self._step(seq, b, MODIFY, self.ids.key(order_id), 0, 0, price_ticks, qty, 0)

    def process(self, event: OrderEvent) -> int:
        """Apply one :class:`OrderEvent` (returns as Lab 02's ``process``)."""
        e = event
        if e.action == ADD:
            return self.add(e.symbol, e.order_id, e.side, e.type, e.price_ticks, e.qty,
                            e.account, e.seq)
        if e.action == CANCEL:
            return int(self.cancel(e.order_id, e.symbol, e.seq)) - 1
        b = NO_BOOK if e.symbol is None else self._book(e.symbol)
        return self._step(e.seq, b, e.action, self.ids.key(e.order_id), 0, 0, e.price_ticks,
                          e.qty, 0)

    # ------------------------------------------------------------------ batches
    def encode_rows(self, rows: Iterable[tuple]) -> np.ndarray:
        """Rows ``(seq, symbol, action, order_id, side, type, price_ticks, qty, account)`` ->
        the kernel's int64 event array (symbols, ids and accounts mapped)."""
        book, key, acct = self._book, self.ids.key, self.accounts.key
        out = [(seq, NO_BOOK if (sym is None and action != ADD) else book(sym), action,
                key(oid), side, otype, price, qty, acct(account))
               for seq, sym, action, oid, side, otype, price, qty, account in rows]
        try:
            return np.array(out, dtype=np.int64).reshape(-1, EVENT_FIELDS)
        except OverflowError:
            return np.array([[_clamp(v) for v in r] for r in out],
                            dtype=np.int64).reshape(-1, EVENT_FIELDS)

    def encode_array(self, events: np.ndarray, symbols: tuple | None = None) -> np.ndarray:
        """A :mod:`labsupport.marketdata` structured event array -> kernel rows, vectorised.
        Ids and accounts are ints there, so they pass through as keys."""
        index = np.unique(events["symbol"])
        lut = np.zeros(int(index.max()) + 1 if len(index) else 1, np.int64)
        for i in index.tolist():
            lut[i] = self._book(symbols[i] if symbols is not None else i)
        out = np.empty((len(events), EVENT_FIELDS), np.int64)
        out[:, 0] = events["seq"]
        out[:, 1] = lut[events["symbol"]]
        for col, name in enumerate(("action", "order_id", "side", "type", "price_ticks",
                                    "qty", "account"), 2):
            out[:, col] = events[name]
        if len(events) and int(events["order_id"].max()) >= _KEY_LIMIT:
            big = out[:, 3] >= _KEY_LIMIT
            out[big, 3] = [self.ids.key(int(v)) for v in events["order_id"][big].tolist()]
        return out

    def process_events(self, events: np.ndarray) -> int:
        """Apply kernel rows (see :meth:`encode_rows`): one call into compiled code per batch
        (plus one per growth)."""
        events = np.ascontiguousarray(events, dtype=np.int64)
        i = 0
        while True:
            status, i = self._kernel.run(events, i)
            if status == OK:
                break
            self._grow(status)
        self._drain()
        return len(events)

    def process_rows(self, rows: Iterable[tuple]) -> int:
        return self.process_events(self.encode_rows(rows))

    def process_array(self, events: np.ndarray, symbols: tuple | None = None) -> int:
        return self.process_events(self.encode_array(events, symbols))

    # ------------------------------------------------------------------ outputs
    def trade_array(self) -> np.ndarray:
        """Every trade so far as int64 rows (:data:`.layout.T_SEQ` ... fields, keys unmapped)."""
        self._drain()
        return np.concatenate(self._trade_rows) if self._trade_rows else \
            np.zeros((0, TRADE_FIELDS), np.int64)

    def reject_array(self) -> np.ndarray:
        self._drain()
        return np.concatenate(self._reject_rows) if self._reject_rows else \
            np.zeros((0, REJECT_FIELDS), np.int64)

    def trades(self) -> list[Trade]:
        """Every trade so far, as Lab 02's :class:`Trade` records (ids as given)."""
        names, oid, acct = self._names, self.ids.name, self.accounts.name
        return [Trade(seq, names[b], price, qty, oid(a), oid(r), side, acct(aa), acct(ra))
                for seq, b, price, qty, a, r, side, aa, ra in self.trade_array().tolist()]

    def rejects(self) -> list[Reject]:
        oid = self.ids.name
        return [Reject(seq, oid(k), REASONS[c]) for seq, k, c in self.reject_array().tolist()]

    @property
    def trade_count(self) -> int:
        return int(self.meta[M_TRADE_TOTAL])

    @property
    def reject_count(self) -> int:
        return int(self.meta[M_REJECT_TOTAL])

    @property
    def live_order_count(self) -> int:
        return int(self.meta[M_LIVE])

    def is_live(self, order_id: OrderId) -> bool:
        key = self.ids.key(order_id)
        i = probe(self.table, key)
        return bool(self.table[0, i] == key and self.table[1, i] >= 0)

    def position(self, account: Account, symbol: Symbol) -> PositionView:
        if self.positions is None:
            raise ValueError("engine built with pnl=False")
        self._drain()
        return self.positions.view(account, symbol)

    def pnl(self) -> Iterator[PositionView]:
        if self.positions is None:
            raise ValueError("engine built with pnl=False")
        self._drain()
        return self.positions.views()

    # ------------------------------------------------------------------ views
    @property
    def symbols(self) -> list[Symbol]:
        """Symbols with a book, in the order their books were created (as Lab 02)."""
        made = [(int(self.books[b, B_RANK]), s) for s, b in self._book_of.items()
                if self.books[b, B_RANK] >= 0]
        return [s for _, s in sorted(made, key=lambda t: t[0])]

    def book(self, symbol: Symbol) -> BookView:
        """A read-only view of one book (KeyError if no order for it was ever accepted)."""
        b = self._book_of.get(symbol)
        if b is None or self.books[b, B_RANK] < 0:
            raise KeyError(symbol)
        return BookView(self, b)

    def best_bid_ask(self, symbol: Symbol) -> tuple[int | None, int | None]:
        try:
            v = self.book(symbol)
        except KeyError:
            return None, None
        return v.best_bid_price, v.best_ask_price

    def l2_snapshot(self, symbol: Symbol, depth: int | None = 10) -> L2Snapshot:
        v = self.book(symbol)
        return L2Snapshot(symbol, tuple(v.depth(BUY, depth)), tuple(v.depth(SELL, depth)))

    def l3(self, symbol: Symbol) -> list[L3Order]:
        v = self.book(symbol)
        return list(v.orders(BUY)) + list(v.orders(SELL))

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held by each array (the pool and table grow; levels are per book x width)."""
        return {"pool": self.pool.nbytes, "table": self.table.nbytes,
                "levels": self.levels.nbytes, "books": self.books.nbytes,
                "buffers": self.trades_buf.nbytes + self.rejects_buf.nbytes}

    def __repr__(self) -> str:
        return (f"FastEngine({self.backend_name!r}, books={len(self.symbols)}, "
                f"live={self.live_order_count}, trades={self.trade_count})")
