"""The event-driven engine: a bar loop with orders, a broker, costs and order latency.

It mirrors backtrader's ``Cerebro`` with its default ``BackBroker``: for each bar, first the
broker fills the orders that have arrived (a market order at the bar's open, a limit order if
the bar trades through its price), then the strategy sees the bar's close in ``on_bar`` and
submits orders through the context. An order submitted on bar ``i`` can therefore never fill
at a price of bar ``i``: the fill convention that rules out look-ahead bias.

Theory of operation
-------------------
``Order`` arrival is ``ts[i] + bar_ns + latency_ns`` (the end of the decision bar plus the
latency model), so with zero latency it is the next bar's open, and a latency longer than a bar
skips bars. Pending orders sit in a list in submission order and fill in that order; a buy the
cash cannot pay for (:func:`.costs.can_pay`) is rejected, as backtrader's ``Margin``. Fills go
to :func:`.result.make_result`, which derives trades and equity exactly as for the vectorised
path. Cost per bar: one Python call of ``on_bar`` plus the pending orders (usually none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bars import Bars
from .costs import Costs, can_pay, fee, fill_price
from .errors import ParamError
from .result import FILL_DTYPE, RunResult, make_result

START_CASH = 100_000.0


@dataclass(slots=True)
class Order:
    id: int
    side: int  # +1 buy, -1 sell
    qty: float
    arrive_ns: int
    limit: float | None = None  # None: market


class Context:
    """What a strategy sees and calls from ``on_bar``: position, cash, order entry."""

    __slots__ = ("position", "cash", "pending", "rejected", "_next_id", "_arrive", "bar")

    def __init__(self, cash: float) -> None:
        self.position = 0.0
        self.cash = cash
        self.pending: list[Order] = []
        self.rejected: list[Order] = []
        self._next_id = 0
        self._arrive = 0
        self.bar = 0

    def _submit(self, side: int, qty: float, limit: float | None) -> Order:
        if not qty > 0:
            raise ParamError(f"order quantity must be positive, got {qty}")
        self._next_id += 1
        order = Order(self._next_id, side, float(qty), self._arrive, limit)
        self.pending.append(order)
        return order

    def buy(self, qty: float, limit: float | None = None) -> Order:
        return self._submit(1, qty, limit)

    def sell(self, qty: float, limit: float | None = None) -> Order:
        return self._submit(-1, qty, limit)

    def close(self) -> Order | None:
        """Flatten the position with a market order (nothing when flat)."""
        if self.position > 0:
            return self.sell(self.position)
        if self.position < 0:
            return self.buy(-self.position)
        return None

    def cancel_all(self) -> None:
        self.pending.clear()


def bar_ns_of(bars: Bars) -> int:
    """The bar length: the smallest step between bars (gaps are longer, never shorter)."""
    d = np.diff(bars.ts_ns)
    return int(d.min()) if d.size else 60 * 10**9


class EventEngine:
    """Run a strategy bar by bar. ``latency_ns`` delays every order's arrival at the broker."""

    name = "event"

    def __init__(self, cash: float = START_CASH, costs: Costs | None = None, latency_ns: int = 0) -> None:
        if not cash > 0:
            raise ParamError(f"cash must be positive, got {cash}")
        if latency_ns < 0:
            raise ParamError(f"latency must be >= 0 ns, got {latency_ns}")
        self.cash = float(cash)
        self.costs = costs or Costs()
        self.latency_ns = int(latency_ns)

    def run(self, strategy, bars: Bars) -> RunResult:
        strategy.prepare(bars)
        ctx = Context(self.cash)
        c = self.costs
        fills = []
        ts, op, hi, lo = bars.ts_ns.tolist(), bars.open.tolist(), bars.high.tolist(), bars.low.tolist()
        delay = bar_ns_of(bars) + self.latency_ns
        on_bar = strategy.on_bar
        for i in range(len(ts)):
            t = ts[i]
            if ctx.pending:
                keep = []
                for o in ctx.pending:
                    if o.arrive_ns > t:
                        keep.append(o)
                        continue
                    if o.limit is None:
                        ref = op[i]
                    elif o.side > 0 and lo[i] <= o.limit:
                        ref = min(op[i], o.limit)
                    elif o.side < 0 and hi[i] >= o.limit:
                        ref = max(op[i], o.limit)
                    else:
                        keep.append(o)
                        continue
                    price = fill_price(ref, o.side, c.slippage_bps) if o.limit is None else ref
                    f = fee(o.qty, price, c.fee_bps, c.per_share)
                    if o.side > 0 and not can_pay(ctx.cash, o.qty, price, f):
                        ctx.rejected.append(o)
                        continue
                    ctx.cash += -o.side * o.qty * price - f
                    ctx.position += o.side * o.qty
                    fills.append((i, t, o.side, o.qty, price, f))
                ctx.pending = keep
            ctx.bar = i
            ctx._arrive = t + delay
            on_bar(ctx, i)
        arr = np.array(fills, dtype=FILL_DTYPE) if fills else np.zeros(0, FILL_DTYPE)
        return make_result(bars.symbol, repr(strategy), arr, bars.ts_ns, bars.close, self.cash)
