"""One account's risk state: positions, PnL, exposure, drawdown, margin, kept per event.

Post-trade half of the engine, what a prime broker's or a prop desk's real-time risk system
recomputes on every fill and every price:

- position and average cost per symbol, and realized PnL, by Lab 02's average-cost method
  (:mod:`labsupport.orderbook.pnl`: its ``Position`` and ``_apply`` run here unchanged, on
  price units, so a cost basis is exact and only the realized/unrealized split is rounded, to
  one money unit, halves away from zero);
- unrealized PnL ``position x price - cost`` at the symbol's reference price (the last mark,
  or the last fill price while there is no mark);
- equity ``capital + realized + unrealized``; peak equity (starting at capital) and drawdown
  ``peak - equity``;
- gross exposure ``sum |position x price|`` and net exposure ``sum position x price``;
- margin, SPAN-style: the loss if every position moved against the holder by the scan range,
  ``gross x margin_scan_pct / 100``; utilization ``margin / equity`` (infinite when equity is
  not positive while margin is).

Theory of operation: nothing is re-summed. Each total is a running sum of per-symbol
contributions, and when a symbol's position or price changes its old contribution is taken
out and the new one put in (O(1) per account touched). All money is integer money units
(1e-8 currency; see :mod:`.events`), so the running sums are exact and equal a from-scratch
recomputation to the unit, which the tests check after every event.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

from labsupport.orderbook.pnl import COST_SCALE, Position, _apply

from .events import MONEY_SCALE, format_money
from .limits import Limits
from .var import EwmaVaR, HistoricalVaR

__all__ = ["METRICS_HEADER", "AccountRisk", "Metrics"]

METRICS_HEADER = ("account,equity,realized_pnl,unrealized_pnl,gross_exposure,net_exposure,"
                  "peak_equity,drawdown,var_hist,var_ewma,margin,margin_utilization,halted")


@dataclass(frozen=True, slots=True)
class Metrics:
    """A snapshot of one account, money in currency (exact Fractions; ``var_ewma`` a float;
    ``margin_utilization`` a Fraction, or ``inf``)."""

    account: str
    equity: Fraction
    realized_pnl: Fraction
    unrealized_pnl: Fraction
    gross_exposure: Fraction
    net_exposure: Fraction
    peak_equity: Fraction
    drawdown: Fraction
    var_hist: Fraction
    var_ewma: float
    margin: Fraction
    margin_utilization: Fraction | float
    halted: bool

    def row(self) -> str:
        """The ``metrics.csv`` / ``timeline.csv`` columns from ``account`` on."""
        u = self.margin_utilization
        util = "inf" if isinstance(u, float) else format_money(u)
        m = format_money
        return (f"{self.account},{m(self.equity)},{m(self.realized_pnl)},"
                f"{m(self.unrealized_pnl)},{m(self.gross_exposure)},{m(self.net_exposure)},"
                f"{m(self.peak_equity)},{m(self.drawdown)},{m(self.var_hist)},"
                f"{self.var_ewma:.8f},{m(self.margin)},{util},{int(self.halted)}")


class AccountRisk:
    """Everything the engine knows about one account; money in integer money units."""

    __slots__ = ("name", "limits", "positions", "realized", "unrealized", "gross", "net",
                 "peak", "halted", "open_buy", "open_sell", "order_ts", "hvar", "ewma",
                 "var_ewma", "last_sample", "alert_state", "util_a", "util_b")

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.positions: dict[str, Position] = {}
        self.realized = 0  # sum of the positions' realized (no fees here)
        self.unrealized = 0
        self.gross = 0
        self.net = 0
        self.peak = limits.capital
        self.halted = False
        self.open_buy: dict[str, int] = {}  # symbol -> open quantity of accepted buy orders
        self.open_sell: dict[str, int] = {}
        self.order_ts: deque[int] = deque()  # ts_ns of this account's orders in the last 1 s
        self.hvar = HistoricalVaR(limits.var_window)
        self.ewma = EwmaVaR()
        self.var_ewma = 0.0
        self.last_sample: int | None = None  # equity at the last VaR sample
        # Alert state per metric of alerts.METRICS (none / warn / breach), and the integer
        # factors of "margin / equity against the limit": margin/eq >= u <=> gross*a >= b*eq.
        self.alert_state = [0, 0, 0, 0]
        scan, u = limits.scan, limits.utilization_limit
        self.util_a = scan.numerator * u.denominator
        self.util_b = u.numerator * scan.denominator

    @property
    def equity(self) -> int:
        return self.limits.capital + self.realized + self.unrealized

    def position(self, symbol: str) -> int:
        p = self.positions.get(symbol)
        return p.position if p is not None else 0

    def revalue(self, symbol: str, old_price: int, new_price: int) -> None:
        """The symbol's reference price moved: swap its contribution (position unchanged)."""
        pos = self.positions[symbol].position
        v_old = pos * old_price * COST_SCALE
        v_new = pos * new_price * COST_SCALE
        self.unrealized += v_new - v_old
        self.net += v_new - v_old
        self.gross += abs(v_new) - abs(v_old)

    def fill(self, symbol: str, signed_qty: int, price: int, ref_price: int) -> int:
        """Apply a fill of ``signed_qty`` at ``price`` (price units), valuing the position at
        ``ref_price``; returns the position after it."""
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        unit = ref_price * COST_SCALE
        v_old = p.position * unit
        u_old = v_old - p.cost
        realized_old = p.realized
        _apply(p, signed_qty, price, 0)
        v_new = p.position * unit
        self.realized += p.realized - realized_old
        self.unrealized += (v_new - p.cost) - u_old
        self.net += v_new - v_old
        self.gross += abs(v_new) - abs(v_old)
        return p.position

    def update_peak(self) -> int:
        """Raise the peak to the equity if it is higher; returns the drawdown."""
        eq = self.equity
        if eq > self.peak:
            self.peak = eq
        return self.peak - eq

    def sample(self) -> None:
        """One VaR sample: push the equity change since the last sample into both models."""
        eq = self.equity
        last = self.last_sample
        self.last_sample = eq
        if last is not None:
            change = eq - last
            self.hvar.push(change)
            self.var_ewma = self.ewma.push(change)

    def margin(self) -> Fraction:
        """Scan margin in money units (exact)."""
        return self.gross * self.limits.scan

    def metrics(self) -> Metrics:
        eq = self.equity
        margin = self.margin()
        if margin == 0:
            util: Fraction | float = Fraction(0)
        elif eq <= 0:
            util = float("inf")
        else:
            util = margin / eq
        s = MONEY_SCALE
        return Metrics(self.name, Fraction(eq, s), Fraction(self.realized, s),
                       Fraction(self.unrealized, s), Fraction(self.gross, s),
                       Fraction(self.net, s), Fraction(self.peak, s),
                       Fraction(self.peak - eq, s), self.hvar.value(), self.var_ewma,
                       margin / s, util, self.halted)
