"""Execution costs shared by both engines: fees, slippage, and the cash check.

One definition of each, used by the event-driven engine per fill and by the vectorised
kernel (numba compiles the same functions), so a fill costs the same to the last bit on both.

- fee: ``fee_bps`` of the notional, backtrader's percentage commission
  (``broker.setcommission(commission=fee_bps / 1e4)``), plus ``per_share`` per unit;
- slippage: the fill price moves ``slippage_bps`` against the order (buys pay more);
- cash: a buy whose cost (notional plus fee) exceeds the cash is rejected, as backtrader's
  broker rejects an order it cannot pay for (``Margin``); shorting is not financed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ParamError

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None


@dataclass(frozen=True, slots=True)
class Costs:
    """Fee and slippage settings of a run."""

    fee_bps: float = 0.0
    per_share: float = 0.0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("fee_bps", "per_share", "slippage_bps"):
            v = getattr(self, name)
            if not (v >= 0 and v < 10_000):
                raise ParamError(f"{name} must be in [0, 10000), got {v}")


def fill_price(ref: float, side: int, slippage_bps: float) -> float:
    """The price a market order gets when the reference (the bar's open) is ``ref``."""
    return ref * (1.0 + side * slippage_bps * 1e-4)


def fee(qty: float, price: float, fee_bps: float, per_share: float) -> float:
    return qty * price * (fee_bps * 1e-4) + qty * per_share


def can_pay(cash: float, qty: float, price: float, fee_amount: float) -> bool:
    return qty * price + fee_amount <= cash


if numba is not None:
    fill_price_nb = numba.njit(cache=True)(fill_price)
    fee_nb = numba.njit(cache=True)(fee)
    can_pay_nb = numba.njit(cache=True)(can_pay)
else:  # pragma: no cover
    fill_price_nb, fee_nb, can_pay_nb = fill_price, fee, can_pay
