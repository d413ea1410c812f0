""":class:`FastEngine`: Lab 02's engine API over the compiled kernels (Numba or Cython).

The engine owns the arrays of :mod:`.layout` (through :class:`~.arrays.KernelArrays`, which
also grows them) and hands them to a *backend*: the Numba kernel (:mod:`._nbcore`, compiled
with ``@njit(cache=True)``) or the Cython extension (``_cyengine``, a ``cdef class`` holding
typed memoryviews of the same arrays). Both run the same algorithm, PnL and reports included;
the engine does what only Python can do well:

- **the boundary** (:mod:`.boundary`): symbols become book indexes, ids and accounts int64
  keys, and back again when trades, rejects and reports go out;
- **growth**: a kernel never allocates; it asks (``grow(status)``) and resumes;
- **reports**: with a :class:`~labsupport.orderbook.listener.Listener` attached, the kernel
  journals what Lab 02 publishes and :mod:`.reports` calls the listener, in Lab 02's order,
  when the buffers are drained (after each single event, after each batch);
- **views** (``l2_snapshot``, ``l3``, ``book(symbol)``, ``best_bid_ask``, ``pnl``): read
  from the arrays, for people and files, not for the hot path; and two reads of one order
  for a strategy trading inside the book, done in the kernel: ``leaves(order_id)`` and
  ``queue_position(order_id)`` (orders and shares ahead of it at its price).

Single events (``add``, ``cancel``, ``modify``, ``process``) answer exactly what Lab 02's
:class:`~labsupport.orderbook.engine.MatchingEngine` answers; ``process_rows``,
``process_array`` and ``process_events`` are the batch path, one crossing per batch. The lean
entry point for one event from Python is the kernel itself, ``engine.kernel.add(book, key,
side, type, price, qty, account, seq)`` with ints (``engine.book_index(symbol)``; keys as in
:mod:`.boundary`): no Python object is built on the way in or out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

import numpy as np

from ..orderbook.listener import Listener
from ..orderbook.pnl import PositionBook
from ..orderbook.types import (
    ADD,
    BUY,
    CANCEL,
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
from .arrays import KernelArrays
from .boundary import Interner, clamp, encode_array, encode_rows
from .layout import (
    B_RANK,
    INITIAL_WIDTH,
    M_FEE,
    M_FIXED,
    M_LIVE,
    M_NJOURNAL,
    M_NRANK,
    M_NREJECTS,
    M_NTRADES,
    M_PNL,
    M_REJECT_TOTAL,
    M_REPORTS,
    M_TRADE_TOTAL,
    MAX_WIDTH,
    NO_BOOK,
    R_WINDOW,
    REJECT_FIELDS,
    TRADE_FIELDS,
)
from .positions import KernelPositions, replayed
from .reports import publish, trade_of
from .views import BookView, probe

REASONS = (R_DUPLICATE_ID, R_UNKNOWN_ORDER, R_NOT_LIVE, R_FOK_UNFILLABLE, R_INVALID_SIDE,
           R_INVALID_TYPE, R_INVALID_PRICE, R_INVALID_QTY, R_INVALID_ACTION, R_UNKNOWN_SYMBOL,
           R_SYMBOL_MISMATCH, R_WINDOW)
"""Reject reason text by kernel reason code (the strings of Lab 02, plus the window)."""


class FastEngine(KernelArrays):
    """Lab 02's matching engine on compiled kernels: ``backend`` is ``"numba"`` or
    ``"cython"``. ``symbols``, ``pnl``, ``listener`` and ``fee_per_share_ticks`` as in
    :class:`~labsupport.orderbook.engine.MatchingEngine`; ``pool_capacity``, ``width`` and
    ``max_width`` size the arrays (see :mod:`.layout`)."""

    def __init__(self, backend: str = "numba", symbols: Iterable[Symbol] | None = None, *,
                 pnl: bool = True, listener: Listener | None = None,
                 fee_per_share_ticks: int | Fraction = 0, pool_capacity: int = 1024,
                 width: int = INITIAL_WIDTH, max_width: int = MAX_WIDTH) -> None:
        self.backend_name = backend
        super().__init__(backends.load(backend), pool_capacity=pool_capacity, width=width,
                         max_width=max_width)
        self.ids, self.accounts = Interner(), Interner()
        self._trade_rows: list[np.ndarray] = []
        self._reject_rows: list[np.ndarray] = []
        self._fee = fee_per_share_ticks
        fee_units = PositionBook(fee_per_share_ticks).fee_units  # Lab 02's validation
        self.meta[M_FEE] = fee_units
        self.meta[M_PNL] = pnl
        self._positions: KernelPositions | PositionBook | None = \
            KernelPositions(self, fee_units) if pnl else None
        self._listener: Listener | None = None
        self.listener = listener
        for s in symbols or ():
            b = self._book(s)
            self.books[b, B_RANK] = self.meta[M_NRANK]
            self.meta[M_NRANK] += 1
        self.meta[M_FIXED] = symbols is not None

    @property
    def kernel(self):
        """The compiled kernel (lean ``add``/``cancel``/``modify``/``step`` on ints)."""
        return self._kernel

    def book_index(self, symbol: Symbol) -> int:
        """The kernel's book index of ``symbol`` (for the lean entry point)."""
        return self._book(symbol)

    @property
    def positions(self) -> KernelPositions | PositionBook | None:
        """The positions (Lab 02's ``PositionBook`` API): the kernel's, or Lab 02's own once
        the kernel's int64 PnL gave up; None with ``pnl=False``."""
        self._drain()
        return self._positions

    # ------------------------------------------------------------------ listener and drain
    @property
    def listener(self) -> Listener | None:
        return self._listener

    @listener.setter
    def listener(self, listener: Listener | None) -> None:
        """Attach (or detach, with None) a listener; it hears events from now on."""
        if listener is not None and listener.wants_l2:
            raise backends.FastBookError(
                "the compiled engines do not publish incremental L2 updates: use a listener "
                "with wants_l2 = False, or Lab 02's MatchingEngine")
        self._drain()
        self._listener = listener
        self.meta[M_REPORTS] = listener is not None

    def _drain(self) -> None:
        """Move the kernel's trade, reject and journal rows out of its buffers; feed Lab 02's
        PositionBook if the kernel's PnL gave up; call the listener."""
        nt, nr, nj = (int(self.meta[i]) for i in (M_NTRADES, M_NREJECTS, M_NJOURNAL))
        trades = self.trades_buf[:nt].copy()
        rejects = self.rejects_buf[:nr].copy()
        self.meta[M_NTRADES] = self.meta[M_NREJECTS] = self.meta[M_NJOURNAL] = 0
        if nt:
            self._trade_rows.append(trades)
        if nr:
            self._reject_rows.append(rejects)
        if isinstance(self._positions, KernelPositions) and not self.meta[M_PNL]:
            self._positions = replayed(self._fee, self._fills(self._trade_rows))
        elif isinstance(self._positions, PositionBook) and nt:
            fill = self._positions.fill
            for f in self._fills([trades]):
                fill(*f)
        if nj and self._listener is not None:
            publish(self._listener, self.journal[:nj], trades, rejects, self._names,
                    self.ids.name, self.accounts.name, REASONS)

    def _fills(self, chunks: list[np.ndarray]) -> Iterator[tuple]:
        names, acct = self._names, self.accounts.name
        for rows in chunks:
            for _seq, b, price, qty, _a, _r, side, aa, ra in rows.tolist():
                yield names[b], acct(aa), side, acct(ra), price, qty

    # ------------------------------------------------------------------ single events
    def _step(self, seq: int, b: int, action: int, key: int, side: int, otype: int,
              price: int, qty: int, acct: int) -> int:
        try:
            r = self._kernel.step(seq, b, action, key, side, otype, price, qty, acct)
        except OverflowError:  # a field beyond int64: clamp it (it is rejected anyway)
            r = self._kernel.step(*(clamp(v) for v in (seq, b, action, key, side, otype,
                                                       price, qty, acct)))
        if self._listener is not None:
            self._drain()
        return r

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
        return self._step(seq, b, 2, self.ids.key(order_id), 0, 0, price_ticks, qty, 0)

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
        """Rows of Python values -> the kernel's int64 event array (:mod:`.boundary`)."""
        return encode_rows(self, rows)

    def encode_array(self, events: np.ndarray, symbols: tuple | None = None) -> np.ndarray:
        """A :mod:`labsupport.marketdata` event array -> kernel rows, vectorised."""
        return encode_array(self, events, symbols)

    def process_events(self, events: np.ndarray) -> int:
        """Apply kernel rows (see :meth:`encode_rows`): one call into compiled code per batch
        (plus one per growth for Numba)."""
        self._kernel.run(np.ascontiguousarray(events, dtype=np.int64))
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
        return [trade_of(row, names, oid, acct) for row in self.trade_array().tolist()]

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
        key = self.ids.find(order_id)
        if key is None:
            return False
        i = probe(self.table, key)
        return bool(self.table[0, i] == key and self.table[1, i] >= 0)

    def leaves(self, order_id: OrderId) -> int:
        """Leaves quantity of a resting order, 0 when it is not live: one probe in the kernel."""
        key = self.ids.find(order_id)
        return 0 if key is None else int(self._kernel.leaves(key))

    def queue_position(self, order_id: OrderId) -> tuple[int, int] | None:
        """``(orders ahead, shares ahead)`` of a resting order in its price level's FIFO: what
        must trade or cancel before it fills; None when it is not live. Computed in the
        kernel (its ``P_PREV`` links walked to the head), no Python object per order."""
        key = self.ids.find(order_id)
        n, q = (-1, -1) if key is None else self._kernel.queue_position(key)
        return None if n < 0 else (int(n), int(q))

    def position(self, account: Account, symbol: Symbol) -> PositionView:
        positions = self.positions
        if positions is None:
            raise ValueError("engine built with pnl=False")
        return positions.view(account, symbol)

    def pnl(self) -> Iterator[PositionView]:
        positions = self.positions
        if positions is None:
            raise ValueError("engine built with pnl=False")
        return positions.views()

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

    def __repr__(self) -> str:
        return (f"FastEngine({self.backend_name!r}, books={len(self.symbols)}, "
                f"live={self.live_order_count}, trades={self.trade_count})")
