"""The simulated book a tick-level strategy trades in: Lab 02's engine or Lab 11's compiled one.

A :class:`Venue` replays one symbol's market events in slices and lets a strategy add and
cancel its own orders between slices, in the same price-time priority queues as the market's
orders; it answers the touch, an order's leaves and queue position (orders and shares ahead
of it at its price), and the strategy account's position. Two implementations behind that
one small interface, with identical fills, queue positions and PnL (tested over several seeds):

- :class:`Lab02Venue`: :class:`labsupport.orderbook.MatchingEngine`, pure Python; each slice
  goes through ``process_rows``; the queue position is read off the level's FIFO.
- :class:`FastVenue`: :class:`labsupport.fastbook.FastEngine` (``"cython"`` or ``"numba"``).
  The whole event array is encoded to the kernel's int64 rows once (vectorised), and each
  slice is one call into compiled code: no Python object per tick.

Theory of operation
-------------------
:meth:`Venue.replay` feeds the events in slices of ``step`` and yields after each one, so what
is left per slice is Python work per *decision*, not per tick, and on the compiled engine that
work is a handful of O(1) reads straight from the kernel's arrays and its lean entry points,
with ints only: the slice is ``kernel.run`` on a view of the encoded rows (trades stay in the
kernel's buffer until it fills, then the engine drains it); the touch is two cells of the
book row; an order's leaves and queue position are the kernel's own probes
(``Kernel.leaves``, ``Kernel.queue_position``, by the order's id key, mapped once when it was
sent); the account's position is one column of the kernel's position rows (its slot found
once), turned into the same floats Lab 02's exact :class:`PositionView` gives (a ``Fraction``
to float is the correctly rounded quotient of its integers, and so is ``int / int``). The
market's orders are all booked to one account (``MARKET_ACCOUNT``): matching never looks at
accounts (no self-trade rule in the base engine), so the strategy's fills are unchanged. If
the kernel's int64 PnL ever gives up (see Lab 11's layout), the position falls back to the
engine's exact view. :func:`make_venue` picks the engine: ``"auto"`` is Cython when its
extension is built, else Lab 02's engine, the reference the other is tested against.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..fastbook.layout import (
    B_ASK,
    B_BID,
    E_ACCT,
    M_NPOS,
    M_PNL,
    NO_ASK,
    NO_BID,
    Q_ACCT,
    Q_BOOK,
    Q_COST,
    Q_FEES,
    Q_POS,
    Q_REAL,
    T_QTY,
    T_RACCT,
)
from ..orderbook import LIMIT, MatchingEngine, PositionBook, PositionView
from ..orderbook.pnl import COST_SCALE
from .errors import ParamError

VENUES = ("auto", "python", "cython", "numba")
MARKET_ACCOUNT = 0  # every market order's account on the compiled engine


class Venue:
    """One symbol's book with the market's events queued to replay and a strategy account."""

    name = ""

    def __init__(self, events: np.ndarray, symbol: int, account: str) -> None:
        self.symbol, self.account = symbol, account
        self.seq = events["seq"].astype(np.int64)  # event seq, for marks and strategy orders
        self.n = len(events)

    def feed(self, a: int, b: int) -> None:
        """Apply market events ``a`` to ``b`` (exclusive)."""
        raise NotImplementedError

    def replay(self, step: int) -> Iterator[int]:
        """Feed the events in slices of ``step``; after each, yield the seq of its last event."""
        seq = self.seq.tolist()
        for a in range(0, self.n, step):
            b = min(a + step, self.n)
            self.feed(a, b)
            yield seq[b - 1]

    def touch(self) -> tuple[int | None, int | None]:
        """Best bid and ask prices in ticks (None for an empty side)."""
        return self.engine.best_bid_ask(self.symbol)

    def is_live(self, order_id: str) -> bool:
        return self.engine.is_live(order_id)

    def add(self, order_id: str, side: int, price: int, qty: int, seq: int) -> bool:
        """Enter a limit order for the account; True if it rests in the book."""
        self.engine.add(self.symbol, order_id, side, LIMIT, price, qty, self.account, seq)
        return self.engine.is_live(order_id)

    def cancel(self, order_id: str, seq: int) -> None:
        self.engine.cancel(order_id, self.symbol, seq)

    def queue_position(self, order_id: str) -> tuple[int, int] | None:
        """(orders ahead, shares ahead) of a resting order at its price; None if not live."""
        raise NotImplementedError

    def position(self) -> PositionView:
        """The account's position in the symbol (Lab 02's exact view)."""
        return self.engine.position(self.account, self.symbol)

    def state(self) -> tuple[int, float, float]:
        """(position, realized PnL in ticks, average price in ticks) of the account."""
        v = self.position()
        return int(v.position), float(v.realized_pnl_ticks), float(v.avg_price_ticks)

    def passive_fills(self) -> tuple[int, int]:
        """(fills, shares) in which the account's order was the resting one."""
        raise NotImplementedError


class _CountingPositions(PositionBook):
    """Lab 02's position book, also counting one account's passive fills."""

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account
        self.fills = self.shares = 0

    def on_fill(self, seq, symbol, price, qty, aggressor_id, side, account, aggressor_leaves, resting) -> None:
        if resting.account == self.account:
            self.fills += 1
            self.shares += qty
        super().on_fill(seq, symbol, price, qty, aggressor_id, side, account, aggressor_leaves, resting)


class Lab02Venue(Venue):
    name = "python"

    def __init__(self, events: np.ndarray, symbol: int, account: str) -> None:
        super().__init__(events, symbol, account)
        self.rows = events[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks",
                            "qty", "account"]].tolist()
        self.engine = MatchingEngine(pnl=True)
        self._counts = self.engine.positions = _CountingPositions(account)  # before any book

    def feed(self, a: int, b: int) -> None:
        self.engine.process_rows(self.rows[a:b])

    def queue_position(self, order_id: str) -> tuple[int, int] | None:
        if not self.engine.is_live(order_id):
            return None
        order = self.engine.book(self.symbol).live[order_id]
        n = shares = 0
        for o in order.level.orders:  # oldest first; cancelled corpses have qty 0
            if o is order:
                return n, shares
            if o.qty:
                n, shares = n + 1, shares + o.qty
        raise AssertionError(f"{order_id} is live but not in its level's queue")

    def passive_fills(self) -> tuple[int, int]:
        return self._counts.fills, self._counts.shares


class FastVenue(Venue):
    def __init__(self, events: np.ndarray, symbol: int, account: str, backend: str = "cython") -> None:
        from ..fastbook import FastEngine

        super().__init__(events, symbol, account)
        self.name = backend
        self.engine = FastEngine(backend, pnl=True)
        self.rows = self.engine.encode_array(events)
        self.rows[:, E_ACCT] = MARKET_ACCOUNT  # ints pass through as their own keys
        self.kernel = self.engine.kernel
        self._book = self.engine.book_index(symbol)
        self._acct = self.engine.accounts.key(account)
        self._keys: dict[str, int] = {}  # the strategy's order ids -> the kernel's id keys
        self._slot = -1  # the account's position row, once the kernel has made it

    def feed(self, a: int, b: int) -> None:
        self.kernel.run(self.rows[a:b])

    def touch(self) -> tuple[int | None, int | None]:
        books = self.engine.books
        bid, ask = books.item(self._book, B_BID), books.item(self._book, B_ASK)
        return None if bid == NO_BID else bid, None if ask == NO_ASK else ask

    def is_live(self, order_id: str) -> bool:
        return self.kernel.leaves(self._keys[order_id]) > 0

    def add(self, order_id: str, side: int, price: int, qty: int, seq: int) -> bool:
        key = self._keys[order_id] = self.engine.ids.key(order_id)
        return self.kernel.add(self._book, key, side, LIMIT, price, qty, self._acct, seq) > 0

    def cancel(self, order_id: str, seq: int) -> None:
        self.kernel.cancel(self._book, self._keys[order_id], seq)

    def queue_position(self, order_id: str) -> tuple[int, int] | None:
        n, shares = self.kernel.queue_position(self._keys[order_id])
        return None if n < 0 else (n, shares)

    def state(self) -> tuple[int, float, float]:
        e = self.engine
        if not e.meta.item(M_PNL):  # the kernel's int64 PnL gave up: Lab 02's exact view
            return super().state()
        rows = e.position_rows
        if self._slot < 0:
            n = e.meta.item(M_NPOS)
            mine = np.flatnonzero((rows[Q_ACCT, :n] == self._acct) & (rows[Q_BOOK, :n] == self._book))
            if not len(mine):
                return 0, 0.0, 0.0  # no order sent yet
            self._slot = int(mine[0])
        q = self._slot
        pos, cost = rows.item(Q_POS, q), rows.item(Q_COST, q)
        realized = (rows.item(Q_REAL, q) - rows.item(Q_FEES, q)) / COST_SCALE
        return pos, realized, cost / (COST_SCALE * pos) if pos else 0.0

    def passive_fills(self) -> tuple[int, int]:
        t = self.engine.trade_array()
        mine = t[t[:, T_RACCT] == self._acct]
        return len(mine), int(mine[:, T_QTY].sum())


def make_venue(events: np.ndarray, symbol: int, account: str, engine: str = "auto") -> Venue:
    """The venue on ``engine``: ``"python"`` (Lab 02), ``"cython"``, ``"numba"``, or ``"auto"``."""
    if engine not in VENUES:
        raise ParamError(f"unknown book engine {engine!r} (engines: {', '.join(VENUES)})")
    if engine == "auto":
        from ..fastbook import cython_available

        engine = "cython" if cython_available() else "python"
    if engine == "python":
        return Lab02Venue(events, symbol, account)
    return FastVenue(events, symbol, account, engine)
