"""The risk and drop-copy services: Lab 06's pre-trade checks in front of matching, and the
clearing view of every fill behind it. Both sans-IO.

What they mirror: a venue's (or a broker's) pre-trade risk gate, which every order passes
before the matching engine may see it (SEC Rule 15c3-5), and the drop copy a clearing firm
receives: every fill, positions per account, an end-of-day report.

:class:`RiskGate` turns a ``new`` order into a Lab 06 :class:`~labsupport.risk.Event` and asks
:class:`~labsupport.risk.RiskEngine`; a reject goes straight back to the gateway as
``{"x": "rej", "why": "risk: <reason>"}``, an accepted order goes on to the matcher of its
symbol's partition. Cancels and replaces pass through (the same path, so they never overtake
the order they refer to). Trades coming back from matching update the engine's positions
(``fill`` events for both sides) and its marks (the trade price), so the collar and the
position limits see what really traded, and each fill releases what it filled of the two
orders' open quantity (the trade names both order ids). Prices: Lab 02 ticks are cents,
Lab 06 price units are 1/10 000, hence the factor 100.

:class:`DropCopy` keeps every fill and Lab 02's :class:`~labsupport.orderbook.PositionBook`
(average-cost positions and realized PnL) per account and symbol.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

from labsupport.orderbook import MARKET, PositionBook
from labsupport.risk import Event, LimitsFile, RiskEngine, parse_limits

from .matching import partition_of

__all__ = ["DEFAULT_LIMITS", "DropCopy", "RiskGate"]

RISK_PRICE_PER_TICK = 100  # Lab 06 price units (1e-4) per Lab 02 tick (1e-2)
DEFAULT_LIMITS = """
[defaults]
max_order_qty = 10_000
max_order_notional = 5_000_000
price_collar_pct = 50
max_position = 1_000_000
credit_limit = 1_000_000_000
max_orders_per_s = 100_000
drawdown_limit = 1_000_000_000
var_limit = 1_000_000_000
"""


class RiskGate:
    """Pre-trade checks; ``send(dest, msg)`` with dest ``gateway`` or ``match.<k>``."""

    def __init__(self, symbols: list[str] | tuple[str, ...], partitions: int,
                 send: Callable[[str, dict], None], *, limits: LimitsFile | str = DEFAULT_LIMITS,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.symbols = tuple(symbols)
        self.partitions = partitions
        self.route = {s: f"match.{partition_of(s, self.symbols, partitions)}" for s in symbols}
        self.send = send
        self.clock = clock
        self.engine = RiskEngine(parse_limits(limits) if isinstance(limits, str) else limits,
                                 clock=clock)
        self.seq = 0
        self.accepted = self.rejected = 0
        self.reasons: dict[str, int] = {}

    def handle(self, msg: dict) -> None:
        now = self.clock()
        msg["ts"].append(["risk_in", now])
        if msg["k"] == "new":
            self.seq += 1
            price = None if msg["ot"] == MARKET else msg["px"] * RISK_PRICE_PER_TICK
            ev = Event(self.seq, now, "order", str(msg["acct"]), msg["sym"], msg["side"],
                       msg["qty"], price, str(msg["oid"]))
            decision = self.engine.process(ev)
            assert decision is not None
            if not decision.accepted:
                self.rejected += 1
                self.reasons[decision.reason] = self.reasons.get(decision.reason, 0) + 1
                self.send("gateway", {"k": "er", "oid": msg["oid"], "x": "rej",
                                      "why": f"risk: {decision.reason}", "ts": msg["ts"]})
                return
            self.accepted += 1
        elif msg["k"] == "cxl":
            self.engine.cancel(str(msg["oid"]))
        msg["ts"].append(["risk_out", self.clock()])
        self.send(self.route[msg["sym"]], msg)

    def on_fills(self, msg: dict) -> None:
        """Trades from matching: positions and marks of the risk engine follow them."""
        sym = msg["sym"]
        now = self.clock()
        for price, qty, side, aggr, rest, _match, aggr_oid, rest_oid in msg["trades"]:
            px = price * RISK_PRICE_PER_TICK
            self.seq += 1
            self.engine.process(Event(self.seq, now, "fill", str(aggr), sym, side, qty, px,
                                      str(aggr_oid)))
            self.seq += 1
            self.engine.process(Event(self.seq, now, "fill", str(rest), sym, -side, qty, px,
                                      str(rest_oid)))
        if msg["trades"]:
            self.seq += 1
            self.engine.process(Event(self.seq, now, "mark", "", sym, 0, 0,
                                      msg["trades"][-1][0] * RISK_PRICE_PER_TICK, ""))

    def status(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected, "reasons": self.reasons}


class DropCopy:
    """Every fill, positions and realized PnL per account and symbol, the end-of-day report."""

    def __init__(self) -> None:
        self.fills: list[tuple] = []
        self.positions = PositionBook()

    def on_fills(self, msg: dict) -> None:
        sym = msg["sym"]
        for price, qty, side, aggr, rest, match, _aggr_oid, _rest_oid in msg["trades"]:
            self.fills.append((match, sym, price, qty, side, aggr, rest))
            self.positions.fill(sym, aggr, side, rest, price, qty)

    def position_rows(self) -> list[dict]:
        rows = []
        for v in self.positions.views():
            rows.append({"account": str(v.account), "symbol": v.symbol, "position": v.position,
                         "avg_price": _money(v.avg_price_ticks),
                         "realized_pnl": _money(v.realized_pnl_ticks)})
        return sorted(rows, key=lambda r: (r["account"], r["symbol"]))

    def end_of_day(self) -> str:
        """The end-of-day report as CSV text: one row per account and symbol."""
        lines = ["account,symbol,position,avg_price,realized_pnl,fills"]
        counts: dict[tuple[str, str], int] = {}
        for _m, sym, _p, _q, _s, aggr, rest in self.fills:
            for acct in (str(aggr), str(rest)):
                counts[(acct, sym)] = counts.get((acct, sym), 0) + 1
        for r in self.position_rows():
            lines.append(f"{r['account']},{r['symbol']},{r['position']},{r['avg_price']},"
                         f"{r['realized_pnl']},{counts.get((r['account'], r['symbol']), 0)}")
        return "\n".join(lines) + "\n"

    def status(self) -> dict:
        return {"fills": len(self.fills), "accounts": len({r["account"] for r in self.position_rows()})}


def _money(ticks: Fraction | int) -> str:
    return f"{float(Fraction(ticks) / 100):.4f}"
