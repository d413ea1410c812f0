"""Positions and PnL per (account, symbol), average-cost method, in exact integers.

Mirrors what a broker's or a prop desk's position keeper does on every fill:

- ``position``: signed shares (long > 0).
- ``cost``: the cost basis of the open position, signed like the position, in *cost units*
  (``COST_SCALE`` units per tick-share, i.e. 1e-6 currency per share at a 0.01 tick).
  ``avg_price = cost / position``.
- Adding to a position (or opening one) adds ``qty * price`` to the cost: the average is
  re-weighted. Reducing it by ``c`` shares removes the proportional share of the cost,
  ``round(cost * c / |position|)``, and *realizes* ``proceeds - removed``. A fill that goes
  through zero first closes the whole position, then opens the rest at the fill price.
- ``unrealized = position * mark - cost``, marked to the symbol's last trade price.
- ``fees``: ``fee_per_share * qty`` on every fill, both sides; realized PnL is net of fees.

Why integers with one rounding, instead of Fractions: an exact rational average cost needs a
new denominator at every re-averaging, and after a few thousand fills the denominators have
thousands of digits (tried: 16 k events/s). With an integer cost basis only the *split*
between realized and unrealized is rounded (to 1e-6 per share, halves away from zero); the
total is exact: ``realized + unrealized == cash + position * mark`` to the unit, which the
tests check after every event.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from .types import Account, PositionView, Symbol, id_sort_key

COST_SCALE = 10_000  # cost units per (tick x share)


class Position:
    __slots__ = ("position", "cost", "realized", "fees", "cash")

    def __init__(self) -> None:
        self.position = 0
        self.cost = 0  # cost basis of the open position, signed, cost units
        self.realized = 0  # gross of fees, cost units
        self.fees = 0  # cost units
        self.cash = 0  # net of fees, cost units


def _apply(p: Position, signed: int, price: int, fee: int) -> None:
    """Apply one fill of ``signed`` shares (+ bought, - sold) at ``price`` ticks to ``p``."""
    unit = price * COST_SCALE
    p.cash -= signed * unit + fee
    p.fees += fee
    pos = p.position
    if pos == 0 or (pos > 0) == (signed > 0):
        # Opening or adding: the cost basis grows by what was paid (or received).
        p.cost += signed * unit
        p.position = pos + signed
        return
    qty = signed if signed > 0 else -signed
    apos = pos if pos > 0 else -pos
    closed = qty if qty < apos else apos
    if closed == apos:
        removed = p.cost
    else:  # cost * closed / |position|, to the nearest unit, halves away from zero
        num = p.cost * closed
        removed, rem = divmod(num if num >= 0 else -num, apos)
        if 2 * rem >= apos:
            removed += 1
        if num < 0:
            removed = -removed
    # Long: sold `closed` shares, proceeds closed*price. Short: bought them back.
    p.realized += (closed * unit - removed) if pos > 0 else (-removed - closed * unit)
    p.cost -= removed
    rest = qty - closed
    if rest:  # went through zero: the remainder opens a position at this price
        rest = rest if signed > 0 else -rest
        p.cost = rest * unit
        p.position = rest
    else:
        p.position = pos + signed


class PositionBook:
    """All positions of an engine; :meth:`fill` is called once per trade (both sides)."""

    def __init__(self, fee_per_share_ticks: int | Fraction = 0) -> None:
        fee_units = Fraction(fee_per_share_ticks) * COST_SCALE
        if fee_units.denominator != 1:
            raise ValueError(f"fee {fee_per_share_ticks} ticks is finer than 1/{COST_SCALE} tick")
        self.fee_units = int(fee_units)
        self._by_symbol: dict[Symbol, dict[Account, Position]] = {}
        self.marks: dict[Symbol, int] = {}

    def fill(self, symbol: Symbol, aggressor: Account, side: int, resting: Account, price: int,
             qty: int) -> None:
        """One trade of ``qty`` at ``price`` ticks; ``side`` is the aggressor's. The aggressor's
        position is updated first (it matters when an account trades with itself)."""
        accounts = self._by_symbol.get(symbol)
        if accounts is None:
            accounts = self._by_symbol[symbol] = {}
        self.marks[symbol] = price
        fee = self.fee_units * qty
        signed = qty if side > 0 else -qty
        p = accounts.get(aggressor)
        if p is None:
            p = accounts[aggressor] = Position()
        _apply(p, signed, price, fee)
        p = accounts.get(resting)
        if p is None:
            p = accounts[resting] = Position()
        _apply(p, -signed, price, fee)

    def on_fill(self, seq: int, symbol: Symbol, price: int, qty: int, aggressor_id: object,
                side: int, account: Account, aggressor_leaves: int, resting) -> None:
        """:meth:`fill` with the book's fill-hook signature, so an engine without listener
        calls it directly (one Python call less per fill than going through the engine)."""
        accounts = self._by_symbol.get(symbol)
        if accounts is None:
            accounts = self._by_symbol[symbol] = {}
        self.marks[symbol] = price
        fee = self.fee_units * qty
        signed = qty if side > 0 else -qty
        p = accounts.get(account)
        if p is None:
            p = accounts[account] = Position()
        _apply(p, signed, price, fee)
        p = accounts.get(resting.account)
        if p is None:
            p = accounts[resting.account] = Position()
        _apply(p, -signed, price, fee)

    def view(self, account: Account, symbol: Symbol) -> PositionView:
        p = self._by_symbol.get(symbol, {}).get(account) or Position()
        mark = self.marks.get(symbol)
        unreal = p.position * mark * COST_SCALE - p.cost if mark is not None else 0
        avg = Fraction(p.cost, COST_SCALE * p.position) if p.position else Fraction(0)
        return PositionView(account, symbol, p.position, avg,
                            Fraction(p.realized - p.fees, COST_SCALE),
                            Fraction(unreal, COST_SCALE), mark, Fraction(p.fees, COST_SCALE))

    def cash(self, account: Account, symbol: Symbol) -> Fraction:
        """Net cash flow (ticks x shares) of one account in one symbol, fees included."""
        p = self._by_symbol.get(symbol, {}).get(account)
        return Fraction(p.cash, COST_SCALE) if p else Fraction(0)

    def keys(self) -> list[tuple[Account, Symbol]]:
        """Every (account, symbol) that traded, by account (int codes before text) then symbol."""
        return sorted(((a, s) for s, accts in self._by_symbol.items() for a in accts),
                      key=lambda k: (id_sort_key(k[0]), str(k[1])))

    def views(self) -> Iterator[PositionView]:
        for account, symbol in self.keys():
            yield self.view(account, symbol)
