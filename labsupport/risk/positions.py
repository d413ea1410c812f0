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
out and the new one put in (O(1) per account touched). Only two totals move with a price:
``net`` (sum of position x price) and ``gross`` (sum of |position| x price, prices being
positive); everything else a mark leaves alone is folded into ``base = capital + realized -
cost`` (cost: the sum of the positions' cost bases), so ``equity = base + net`` and
``unrealized = net - cost``, and a mark of a symbol changes each holder by two additions of
``position x (new - old)``. All money is integer money units (1e-8 currency; see
:mod:`.events`), so the running sums are exact and equal a from-scratch recomputation to the
unit, which the tests check after every event.

The account also carries its limits as plain integers (the pre-trade chain reads them with
one attribute load each, not two) and, for each alert metric, the *quiet band* of its current
hysteresis state: the values for which the state cannot change (none: below 80 % of the
limit; warn: 70 % up to 100 %; breach: 70 % and over), as integers rounded the exact way
(:meth:`AccountRisk.quiet`). The engine's common case, every metric inside its band whatever
its state, is then a few integer comparisons and no zone arithmetic; an account sitting in
warn for hours costs no more than a calm one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

from labsupport.orderbook.pnl import COST_SCALE, Position, _apply

from .alerts import NONE
from .events import MONEY_SCALE, format_money
from .limits import Limits
from .var import EwmaVaR, HistoricalVaR

__all__ = ["METRICS_HEADER", "AccountRisk", "Metrics"]

_INF = float("inf")  # the top of a breach band: no value leaves it upwards
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

    __slots__ = ("name", "limits", "positions", "realized", "cost", "base", "net", "gross",
                 "peak", "halted", "open_buy", "open_sell", "order_ts", "hvar", "ewma",
                 "last_sample", "ewma_due", "alert_state", "util_a", "util_b", "lines",
                 # limits as plain ints, for the chain
                 "restricted", "max_order_qty", "max_notional_pu", "collar_num", "collar_den",
                 "max_position", "credit_limit", "max_orders_per_s",
                 # the quiet band of each alert metric in its current state (see quiet())
                 "dd_lo", "dd_hi", "var_lo", "var_hi", "gross_lo", "gross_hi", "m_lo", "m_hi",
                 "util_a10")

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.positions: dict[str, Position] = {}
        self.realized = 0  # sum of the positions' realized (no fees here)
        self.cost = 0  # sum of the positions' cost bases
        self.base = limits.capital  # capital + realized - cost: equity is base + net
        self.net = 0
        self.gross = 0
        self.peak = limits.capital
        self.halted = False
        self.open_buy: dict[str, int] = {}  # symbol -> open quantity of accepted buy orders
        self.open_sell: dict[str, int] = {}
        self.order_ts: deque[int] = deque()  # ts_ns of this account's orders in the last 1 s
        self.hvar = HistoricalVaR(limits.var_window)
        self.ewma = EwmaVaR()
        self.last_sample: int | None = None  # equity at the last VaR sample
        # The EWMA is no alert metric, so it is folded in when read, from the changes the
        # historical window holds: ewma_due of them are not in it yet (at most the window).
        self.ewma_due = 0
        # Alert state per metric of alerts.METRICS (none / warn / breach), and the integer
        # factors of "margin / equity against the limit": margin / eq >= u <=> gross a >= b eq.
        self.alert_state = [NONE, NONE, NONE, NONE]
        scan, u = limits.scan, limits.utilization_limit
        self.util_a = scan.numerator * u.denominator
        self.util_b = u.numerator * scan.denominator
        self.util_a10 = 10 * self.util_a
        self.restricted = limits.restricted
        self.max_order_qty = limits.max_order_qty
        # qty x price x COST_SCALE > N  <=>  qty x price > N // COST_SCALE (integers)
        self.max_notional_pu = limits.max_order_notional // COST_SCALE
        self.collar_num, self.collar_den = limits.collar_num, limits.collar_den
        self.max_position = limits.max_position
        self.credit_limit = limits.credit_limit
        self.max_orders_per_s = limits.max_orders_per_s
        # The zone lines of the integer-valued metrics (drawdown, 100 x VaR, gross): 10 x value
        # >= k x limit  <=>  value >= ceil(k x limit / 10), for k = 7, 8, 10.
        self.lines = tuple((-(-7 * lim // 10), -(-8 * lim // 10), lim) for lim in
                           (limits.drawdown_limit, 100 * limits.var_limit, limits.credit_limit))
        for k in range(4):
            self.set_band(k, NONE)

    def set_band(self, k: int, state: int) -> None:
        """Metric ``k`` is now in ``state``: store the values for which its hysteresis emits
        nothing (none: below 80 %; warn: 70 % to below 100 %; breach: 70 % and over). For the
        margin utilization, the band is on ``10 x gross x a`` against multiples of ``b x eq``."""
        if k == 2:
            b = self.util_b
            self.m_lo, self.m_hi = ((0, 8 * b), (7 * b, 10 * b), (7 * b, 0))[state]
            return
        t7, t8, t10 = self.lines[k if k < 2 else 2]
        band = ((0, t8), (t7, t10), (t7, _INF))[state]
        if k == 0:
            self.dd_lo, self.dd_hi = band
        elif k == 1:
            self.var_lo, self.var_hi = band
        else:
            self.gross_lo, self.gross_hi = band

    def quiet(self, eq: int) -> bool:
        """True if no alert state can change at equity ``eq``: every metric inside its band
        (the engine's common case, a handful of integer comparisons). False means look
        closer (:meth:`RiskEngine._zone_steps`), which is always exact."""
        gross = self.gross
        gx = gross * self.util_a10
        return (self.dd_lo <= self.peak - eq < self.dd_hi
                and self.var_lo <= self.hvar.var100 < self.var_hi
                and self.gross_lo <= gross < self.gross_hi
                # margin: breach (m_hi 0) stays at >= 70 % or with no equity, unless flat
                and (self.m_lo * eq <= gx < self.m_hi * eq if self.m_hi else
                     gx > 0 and gx >= self.m_lo * eq))

    @property
    def equity(self) -> int:
        return self.base + self.net

    @property
    def unrealized(self) -> int:
        return self.net - self.cost

    @property
    def var_ewma(self) -> float:
        if self.ewma_due:
            self.fold_ewma()
        return self.ewma.value()

    def fold_ewma(self) -> None:
        """Bring the EWMA up to date with the changes sampled since it was last read."""
        self.ewma.extend(self.hvar.last(self.ewma_due))
        self.ewma_due = 0

    def position(self, symbol: str) -> int:
        p = self.positions.get(symbol)
        return p.position if p is not None else 0

    def revalue(self, symbol: str, old_price: int, new_price: int) -> None:
        """The symbol's reference price moved: swap its contribution (position unchanged)."""
        pos = self.positions[symbol].position
        d = pos * (new_price - old_price) * COST_SCALE
        self.net += d
        self.gross += d if pos > 0 else -d

    def fill(self, symbol: str, signed_qty: int, price: int, ref_price: int) -> int:
        """Apply a fill of ``signed_qty`` at ``price`` (price units), valuing the position at
        ``ref_price``; returns the position after it."""
        p = self.positions.get(symbol)
        if p is None:
            p = self.positions[symbol] = Position()
        pos0, cost0, realized0 = p.position, p.cost, p.realized
        _apply(p, signed_qty, price, 0)
        unit = ref_price * COST_SCALE
        pos1 = p.position
        d_realized = p.realized - realized0
        d_cost = p.cost - cost0
        self.realized += d_realized
        self.cost += d_cost
        self.base += d_realized - d_cost
        self.net += (pos1 - pos0) * unit
        self.gross += (abs(pos1) - abs(pos0)) * unit
        return pos1

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
