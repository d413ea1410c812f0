"""Positions and PnL per (account, symbol), average-cost method, exact arithmetic.

Mirrors what a broker's or a prop desk's position keeper does on every fill:

- ``position``: signed shares (long > 0).
- ``avg_price``: average cost of the open position. Adding to a position re-averages;
  reducing it leaves the average unchanged; flipping through zero opens the new side at the
  fill price.
- ``realized``: on the reducing part of a fill, ``closed_qty * (price - avg) * sign(position)``,
  minus fees.
- ``unrealized``: ``position * (mark - avg)``, marked to the symbol's last trade price.
- ``fees``: ``fee_per_share_ticks * qty`` on every fill, both sides (a flat per-share fee).

Identity tested after every event: ``realized + unrealized == cash + position * mark`` where
``cash`` is minus what was paid for buys plus what was received for sells, minus fees.

Money is in *ticks x shares* (one tick = 0.01). Averages are exact: ints while the division
is exact, :class:`fractions.Fraction` otherwise, so the engine and the reference agree to the
last unit and no float rounding leaks into a sum that must be zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from .types import PositionView, Symbol


class Position:
    __slots__ = ("position", "avg", "realized", "fees", "cash")

    def __init__(self) -> None:
        self.position = 0
        self.avg: int | Fraction = 0
        self.realized: int | Fraction = 0  # gross of fees
        self.fees: int | Fraction = 0
        self.cash: int | Fraction = 0  # net of fees


def _div(num: int | Fraction, den: int) -> int | Fraction:
    """Exact division that stays an int when it can (ints are much faster than Fractions)."""
    if isinstance(num, int) and num % den == 0:
        return num // den
    return Fraction(num) / den


class PositionBook:
    """All positions of an engine; :meth:`fill` is called once per side of every trade."""

    def __init__(self, fee_per_share_ticks: int | Fraction = 0) -> None:
        self.fee = fee_per_share_ticks
        self._pos: dict[tuple[int, Symbol], Position] = {}
        self.marks: dict[Symbol, int] = {}

    def fill(self, account: int, symbol: Symbol, side: int, price: int, qty: int) -> None:
        key = (account, symbol)
        p = self._pos.get(key)
        if p is None:
            p = self._pos[key] = Position()
        signed = qty if side > 0 else -qty
        fee = self.fee * qty
        p.cash -= signed * price + fee
        p.fees += fee
        pos = p.position
        if pos == 0 or (pos > 0) == (signed > 0):
            # Opening or adding: re-average over the whole position.
            a = abs(pos)
            p.avg = _div(p.avg * a + price * qty, a + qty)
            p.position = pos + signed
            return
        closed = min(qty, abs(pos))
        p.realized += closed * (price - p.avg) * (1 if pos > 0 else -1)
        new = pos + signed
        p.position = new
        if new == 0:
            p.avg = 0
        elif (new > 0) != (pos > 0):
            p.avg = price  # flipped: the remainder opened at this fill's price

    def view(self, account: int, symbol: Symbol) -> PositionView:
        p = self._pos.get((account, symbol)) or Position()
        mark = self.marks.get(symbol)
        unreal = p.position * (mark - p.avg) if mark is not None else 0
        return PositionView(account, symbol, p.position, Fraction(p.avg),
                            Fraction(p.realized - p.fees), Fraction(unreal), mark,
                            Fraction(p.fees))

    def cash(self, account: int, symbol: Symbol) -> Fraction:
        p = self._pos.get((account, symbol))
        return Fraction(p.cash) if p else Fraction(0)

    def keys(self) -> list[tuple[int, Symbol]]:
        return sorted(self._pos, key=lambda k: (k[0], str(k[1])))

    def views(self) -> Iterator[PositionView]:
        for account, symbol in self.keys():
            yield self.view(account, symbol)
