"""The vectorised fast path: whole-array signals, a compiled long-or-flat state machine.

What vectorbt does: indicators and entry/exit flags are arrays (:mod:`.indicators`), and the
only sequential part, "am I long?", is one compiled loop over the flags. The loop applies the
event engine's rules exactly: a signal at bar ``i``'s close fills at bar ``i + 1``'s open, a
buy that the cash cannot pay for is rejected, costs from :mod:`.costs`. So it is equal to the
event-driven engine for any strategy whose ``on_bar`` is the default long-or-flat rule, and
wrong for anything else (limit orders, latency, position-dependent sizing): :class:`VectorEngine`
refuses those rather than answer wrongly.

Cost: one pass over the bars in machine code, plus the indicators; no Python per bar.
"""

from __future__ import annotations

import numpy as np

from .bars import Bars
from .costs import Costs, can_pay_nb, fee_nb, fill_price_nb
from .engine import START_CASH, EventEngine
from .errors import ParamError
from .result import FILL_DTYPE, RunResult, make_result
from .strategies import BarStrategy

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None


def _long_flat(entry, exit_, open_, size, cash, fee_bps, per_share, slip_bps, out_bar, out_side,
               out_price, out_fee):
    n = entry.size
    k = 0
    pos = 0.0
    for i in range(n - 1):  # a signal on the last bar never fills
        if pos == 0.0:
            if not entry[i]:
                continue
            side = 1
        elif exit_[i]:
            side = -1
        else:
            continue
        qty = size if side > 0 else pos
        price = fill_price_nb(open_[i + 1], side, slip_bps)
        f = fee_nb(qty, price, fee_bps, per_share)
        if side > 0 and not can_pay_nb(cash, qty, price, f):
            continue  # rejected, as in the event engine
        cash += -side * qty * price - f
        pos += side * qty
        out_bar[k] = i + 1
        out_side[k] = side
        out_price[k] = price
        out_fee[k] = f
        k += 1
    return k


if numba is not None:
    _long_flat = numba.njit(cache=True, nogil=True)(_long_flat)


class VectorEngine:
    """Signals in, fills out, for strategies with the default long-or-flat ``on_bar``."""

    name = "vector"

    def __init__(self, cash: float = START_CASH, costs: Costs | None = None, latency_ns: int = 0) -> None:
        if latency_ns:
            raise ParamError("the vectorised path has no latency model: use the event engine")
        if not cash > 0:
            raise ParamError(f"cash must be positive, got {cash}")
        self.cash = float(cash)
        self.costs = costs or Costs()

    def run(self, strategy: BarStrategy, bars: Bars) -> RunResult:
        if not strategy.VECTORISABLE or type(strategy).on_bar is not BarStrategy.on_bar:
            raise ParamError(f"{strategy.name} needs the event loop (it overrides on_bar)")
        entry, exit_ = strategy.signals(bars)
        n = len(bars)
        bar = np.zeros(n, np.int64)
        side = np.zeros(n, np.int8)
        price = np.zeros(n)
        fee = np.zeros(n)
        c = self.costs
        k = _long_flat(np.ascontiguousarray(entry), np.ascontiguousarray(exit_), bars.open,
                       float(strategy.size), self.cash, c.fee_bps, c.per_share, c.slippage_bps,
                       bar, side, price, fee)
        fills = np.zeros(k, FILL_DTYPE)
        fills["bar"] = bar[:k]
        fills["ts_ns"] = bars.ts_ns[bar[:k]]
        fills["side"] = side[:k]
        fills["qty"] = float(strategy.size)
        fills["price"] = price[:k]
        fills["fee"] = fee[:k]
        return make_result(bars.symbol, repr(strategy), fills, bars.ts_ns, bars.close, self.cash)


ENGINES = {"event": EventEngine, "vector": VectorEngine}
