"""The simulated book a tick-level strategy trades in: Lab 02's engine or Lab 11's compiled one.

A :class:`Venue` replays one symbol's market events in slices and lets a strategy add and
cancel its own orders between slices, in the same price-time priority queues as the market's
orders; it answers the touch, whether an order is live, and the strategy account's position.
Two implementations behind that one small interface, with identical fills, queue positions
and PnL (tested over several seeds):

- :class:`Lab02Venue`: :class:`labsupport.orderbook.MatchingEngine`, pure Python; each slice
  goes through ``process_rows``.
- :class:`FastVenue`: :class:`labsupport.fastbook.FastEngine` (``"cython"`` or ``"numba"``).
  The whole event array is encoded to the kernel's int64 rows once (vectorised), and each
  slice is one call into compiled code (``process_events``): no Python object per tick.

Theory of operation
-------------------
:meth:`Venue.replay` feeds the events in slices of ``step`` and yields after each one, so what
is left per slice is Python work per *decision*, not per tick: read the touch and the
account's position. Two things keep that read cheap on the compiled engine. The market's own
orders are all booked to one account (``MARKET_ACCOUNT``): matching never looks at accounts
(no self-trade rule in the base engine), so the strategy's fills are unchanged, while reading
its position no longer walks a hundred market accounts. And a position changes only by a
trade, so the last view is kept until the engine's trade count moves. :func:`make_venue`
picks the engine: ``"auto"`` is Cython when its extension is built, else Lab 02's engine,
which replays the events exactly as recorded (the reference the other is tested against).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..orderbook import LIMIT, MatchingEngine, PositionBook, PositionView
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
        self._view: PositionView | None = None

    def feed(self, a: int, b: int) -> None:
        """Apply market events ``a`` to ``b`` (exclusive)."""
        raise NotImplementedError

    def replay(self, step: int) -> Iterator[int]:
        """Feed the events in slices of ``step``; after each, yield the seq of its last event."""
        for a in range(0, self.n, step):
            b = min(a + step, self.n)
            self.feed(a, b)
            yield int(self.seq[b - 1])

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

    def position(self) -> PositionView:
        """The account's position in the symbol (Lab 02's exact view)."""
        return self.engine.position(self.account, self.symbol)

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

    def passive_fills(self) -> tuple[int, int]:
        return self._counts.fills, self._counts.shares


class FastVenue(Venue):
    def __init__(self, events: np.ndarray, symbol: int, account: str, backend: str = "cython") -> None:
        from ..fastbook import FastEngine

        super().__init__(events, symbol, account)
        self.name = backend
        self.engine = FastEngine(backend, pnl=True)
        market = events.copy()
        market["account"] = MARKET_ACCOUNT
        self.rows = self.engine.encode_array(market)
        self._trades = -1  # the engine's trade count when the view was read

    def feed(self, a: int, b: int) -> None:
        self.engine.process_events(self.rows[a:b])

    def position(self) -> PositionView:
        n = self.engine.trade_count
        if n != self._trades:
            self._view, self._trades = super().position(), n
        return self._view

    def passive_fills(self) -> tuple[int, int]:
        from ..fastbook.layout import T_QTY, T_RACCT

        key = self.engine.accounts.find(self.account)
        t = self.engine.trade_array()
        mine = t[t[:, T_RACCT] == key] if key is not None else t[:0]
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
