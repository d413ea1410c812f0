"""Positions and PnL of a compiled engine, read from the kernel's arrays with Lab 02's API.

The kernels keep one int64 row of position, cost basis, realized PnL, fees and cash per
(account, book), updated on every fill by Lab 02's own rules (:mod:`labsupport.orderbook.pnl`,
average cost in ``COST_SCALE`` units, one rounding): see :mod:`.layout` and
:mod:`._nbpnl`. :class:`KernelPositions` answers what Lab 02's
:class:`~labsupport.orderbook.pnl.PositionBook` answers (``view``, ``views``, ``keys``,
``cash``, ``marks``), turning those integers into the same exact :class:`PositionView`
fractions, so ``engine.pnl()`` is the same list of objects for the three engines.

When the kernel had to switch its PnL off (the int64 bound of :mod:`.layout`),
:func:`replayed` builds Lab 02's ``PositionBook`` from the whole trade log instead, and the
engine feeds it from then on: unbounded Python integers, the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ..orderbook.pnl import COST_SCALE, PositionBook
from ..orderbook.types import Account, PositionView, Symbol, id_sort_key
from .layout import (
    B_MARK,
    M_NPOS,
    Q_ACCT,
    Q_BOOK,
    Q_CASH,
    Q_COST,
    Q_FEES,
    Q_POS,
    Q_REAL,
    Q_TRADED,
)

if TYPE_CHECKING:
    from .engine import FastEngine


class KernelPositions:
    """A read-only :class:`PositionBook` look-alike over ``engine``'s position arrays."""

    def __init__(self, engine: FastEngine, fee_units: int) -> None:
        self.engine = engine
        self.fee_units = fee_units

    @property
    def marks(self) -> dict[Symbol, int]:
        """Last trade price per symbol that traded."""
        e = self.engine
        return {s: int(e.books[b, B_MARK]) for b, s in enumerate(e._names)
                if e.books[b, B_MARK] > 0}

    def _traded(self) -> np.ndarray:
        e = self.engine
        n = int(e.meta[M_NPOS])
        return np.flatnonzero(e.position_rows[Q_TRADED, :n])

    def _slot(self, account: Account, symbol: Symbol) -> int | None:
        e = self.engine
        b, key = e._book_of.get(symbol), e.accounts.find(account)
        if b is None or key is None:
            return None
        for q in self._traded().tolist():
            if e.position_rows[Q_ACCT, q] == key and e.position_rows[Q_BOOK, q] == b:
                return q
        return None

    def _row(self, q: int | None) -> tuple[int, int, int, int, int]:
        if q is None:
            return 0, 0, 0, 0, 0
        p = self.engine.position_rows[:, q]
        return int(p[Q_POS]), int(p[Q_COST]), int(p[Q_REAL]), int(p[Q_FEES]), int(p[Q_CASH])

    def _view(self, account: Account, symbol: Symbol, q: int | None,
              marks: dict[Symbol, int]) -> PositionView:
        # Lab 02's PositionBook.view, term for term, on the kernel's integers.
        pos, cost, realized, fees, _ = self._row(q)
        mark = marks.get(symbol)
        unreal = pos * mark * COST_SCALE - cost if mark is not None else 0
        avg = Fraction(cost, COST_SCALE * pos) if pos else Fraction(0)
        return PositionView(account, symbol, pos, avg, Fraction(realized - fees, COST_SCALE),
                            Fraction(unreal, COST_SCALE), mark, Fraction(fees, COST_SCALE))

    def view(self, account: Account, symbol: Symbol) -> PositionView:
        return self._view(account, symbol, self._slot(account, symbol), self.marks)

    def cash(self, account: Account, symbol: Symbol) -> Fraction:
        """Net cash flow (ticks x shares) of one account in one symbol, fees included."""
        return Fraction(self._row(self._slot(account, symbol))[4], COST_SCALE)

    def _keyed(self) -> list[tuple[Account, Symbol, int]]:
        e = self.engine
        name, names = e.accounts.name, e._names
        rows = [(name(int(e.position_rows[Q_ACCT, q])), names[int(e.position_rows[Q_BOOK, q])], q)
                for q in self._traded().tolist()]
        return sorted(rows, key=lambda k: (id_sort_key(k[0]), str(k[1])))

    def keys(self) -> list[tuple[Account, Symbol]]:
        """Every (account, symbol) that traded, in Lab 02's order."""
        return [(a, s) for a, s, _ in self._keyed()]

    def views(self) -> Iterator[PositionView]:
        marks = self.marks
        for account, symbol, q in self._keyed():
            yield self._view(account, symbol, q, marks)


def replayed(fee_per_share_ticks: int | Fraction,
             fills: Iterable[tuple[Symbol, Account, int, Account, int, int]]) -> PositionBook:
    """Lab 02's ``PositionBook`` after ``fills`` ``(symbol, aggressor account, side, resting
    account, price, qty)``, in order."""
    book = PositionBook(fee_per_share_ticks)
    for fill in fills:
        book.fill(*fill)
    return book
