"""A deliberately naive risk engine: every metric recomputed from the whole history, every event.

The incremental engine is only trusted because it agrees with this one. Nothing here is
running state except what is sequential by definition (the alert states, the kill switch, the
equity history a peak and a VaR sample are taken from): after each event the positions, costs,
PnL, exposures and margin are rebuilt from the list of every event so far with pandas and
numpy, the VaR windows are re-sliced and re-sorted, and a pre-trade decision re-derives the
open quantities and the order rate by scanning the past. Cost: O(n) per event, O(n^2) per
stream, so it is for tests and the notebook's comparison on short streams only.

Written independently of :mod:`.positions` and :mod:`.checks`: the average cost is replayed
with :class:`fractions.Fraction` and an explicit rounding step (Lab 02's rule: the cost removed
by a reduction is rounded to one money unit, halves away from zero), collars and ratios are
compared as Fractions, and the historical VaR is ``numpy.quantile`` (as a float, for the
comparison) next to an exact sort (for the alert levels, so both engines decide on the same
exact numbers).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from labsupport.orderbook.pnl import COST_SCALE

from .events import BUY, CANCEL, FILL, MARK, MONEY_SCALE, ORDER, Event
from .limits import LimitsFile

__all__ = ["ReferenceRisk", "average_cost"]


def _round_half_away(x: Fraction) -> int:
    n = math.floor(abs(x) + Fraction(1, 2))
    return n if x >= 0 else -n


def average_cost(fills: list[tuple[int, int]]) -> tuple[int, int, int]:
    """Replay (signed qty, price units) fills: returns (position, cost, realized), money units."""
    pos = cost = realized = 0
    for q, price in fills:
        unit = price * COST_SCALE
        if pos == 0 or (pos > 0) == (q > 0):
            pos, cost = pos + q, cost + q * unit
            continue
        closed = min(abs(q), abs(pos))
        removed = cost if closed == abs(pos) else _round_half_away(Fraction(cost * closed, abs(pos)))
        sign = 1 if pos > 0 else -1  # a long sells the closed shares, a short buys them back
        realized += sign * closed * unit - removed
        cost -= removed
        pos += sign * -closed
        rest = abs(q) - closed
        if rest:
            pos, cost = (rest, rest * unit) if q > 0 else (-rest, -rest * unit)
    return pos, cost, realized


class ReferenceRisk:
    """Feed :meth:`step` the same events as the engine; read :attr:`metrics` (account ->
    dict of exact values), :attr:`decisions` and :attr:`alerts` (tuples)."""

    def __init__(self, limits: LimitsFile) -> None:
        self.limits = limits
        self.events: list[Event] = []
        self.decisions: list[tuple[int, str, bool, str]] = []  # seq, order_id, accepted, why
        self.accepted: dict[str, Event] = {}
        self.equity_after: list[dict[str, Fraction]] = []  # per event, every account's equity
        self.alerts: list[tuple[int, str, str, str]] = []  # seq, account, metric, level
        self.state: dict[tuple[str, str], str] = {}
        self.halted: set[str] = set()
        self.metrics: dict[str, dict[str, object]] = {}

    # ------------------------------------------------------------------ from scratch
    def _frames(self) -> tuple[pd.DataFrame, dict[str, int]]:
        fills = [(e.account, e.symbol, e.qty * e.side, e.price) for e in self.events
                 if e.kind == FILL]
        df = pd.DataFrame(fills, columns=["account", "symbol", "q", "price"])
        marks = {e.symbol: e.price for e in self.events if e.kind == MARK}
        last_fill = df.groupby("symbol")["price"].last().to_dict() if len(df) else {}
        prices = {s: marks.get(s, p) for s, p in last_fill.items()}
        prices.update(marks)
        return df, prices

    def _recompute(self) -> None:
        df, prices = self._frames()
        accounts = sorted({e.account for e in self.events if e.kind in (ORDER, FILL)})
        out: dict[str, dict[str, object]] = {}
        for acct in accounts:
            lim = self.limits.for_account(acct)
            rows = df[df["account"] == acct]
            realized = unreal = 0
            values = []
            for symbol, g in rows.groupby("symbol", sort=True):
                pos, cost, r = average_cost(list(zip(g["q"].tolist(), g["price"].tolist())))
                assert pos == int(g["q"].sum())  # the replay agrees with a plain sum
                realized += r
                v = pos * prices[symbol] * COST_SCALE
                unreal += v - cost
                values.append(v)
            vals = np.array(values, dtype=object)
            gross = int(np.abs(vals).sum()) if len(vals) else 0
            net = int(vals.sum()) if len(vals) else 0
            equity = lim.capital + realized + unreal
            history = [h[acct] for h in self.equity_after if acct in h]
            peak = max([Fraction(lim.capital)] + history + [Fraction(equity)])
            out[acct] = {"equity": Fraction(equity), "realized_pnl": Fraction(realized),
                         "unrealized_pnl": Fraction(unreal), "gross_exposure": Fraction(gross),
                         "net_exposure": Fraction(net), "peak_equity": peak,
                         "drawdown": peak - equity, "margin": gross * lim.scan}
        self.metrics = out

    def _samples(self, acct: str) -> list[Fraction]:
        """The account's equity after every mark of a symbol it held (the last one included)."""
        pos: dict[str, int] = {}
        samples = []
        for i, e in enumerate(self.events):
            if e.kind == FILL and e.account == acct:
                pos[e.symbol] = pos.get(e.symbol, 0) + e.side * e.qty
            elif e.kind == MARK and pos.get(e.symbol, 0):
                samples.append(self.equity_after[i][acct] if i < len(self.equity_after)
                               else self.metrics[acct]["equity"])
        return samples

    def _var(self, acct: str) -> None:
        m = self.metrics[acct]
        lim = self.limits.for_account(acct)
        changes = np.diff(np.array(self._samples(acct), dtype=object)).tolist()
        window = changes[-lim.var_window:]
        m["var_hist_float"] = (max(0.0, -float(np.quantile(np.array(window, dtype=float), 0.05)))
                               / MONEY_SCALE if len(window) >= 2 else 0.0)
        exact = Fraction(0)
        if len(window) >= 2:
            srt = sorted(window)
            h = Fraction(len(window) - 1) * Fraction(5, 100)
            lo = math.floor(h)
            q = srt[lo] + (h - lo) * (srt[lo + 1] - srt[lo]) if h > lo else Fraction(srt[lo])
            exact = max(Fraction(0), -q)
        m["var_hist"] = exact
        sigma2 = None
        for c in changes:
            c = int(c) / MONEY_SCALE
            sigma2 = c * c if sigma2 is None else 0.94 * sigma2 + 0.06 * c * c
        m["var_ewma"] = 1.6448536269514722 * math.sqrt(sigma2) if sigma2 is not None else 0.0

    # ------------------------------------------------------------------ decisions
    def _decide(self, e: Event) -> str:
        lim = self.limits.for_account(e.account)
        past = self.events[:-1]
        orders = [p for p in past if p.kind == ORDER]
        rate = 1 + sum(1 for p in orders if p.account == e.account
                       and e.ts_ns - 1_000_000_000 < p.ts_ns <= e.ts_ns)
        if e.account in self.halted:
            return "halted"
        if any(p.order_id == e.order_id for p in orders):
            return "duplicate"
        if e.symbol in lim.restricted:
            return "restricted"
        if e.qty > lim.max_order_qty:
            return "max_order_qty"
        marks = [p.price for p in past if p.kind == MARK and p.symbol == e.symbol]
        mark = marks[-1] if marks else None
        if e.price is None and mark is None:
            return "no_price"
        notional = e.qty * (e.price if e.price is not None else mark) * COST_SCALE
        if notional > lim.max_order_notional:
            return "max_order_notional"
        if e.price is not None and mark is not None and \
                abs(e.price - mark) * 100 > Fraction(lim.raw["price_collar_pct"]) * mark:
            return "price_collar"
        position = sum(p.side * p.qty for p in past if p.kind == FILL and p.account == e.account
                       and p.symbol == e.symbol)
        open_qty = 0
        for oid, o in self.accepted.items():
            if o.account != e.account or o.symbol != e.symbol or o.side != e.side:
                continue
            left = o.qty
            for p in past[past.index(o) + 1:]:
                if p.order_id == oid and p.kind == CANCEL:
                    left = 0
                elif p.order_id == oid and p.kind == FILL:
                    left -= min(left, p.qty)
            open_qty += left
        if e.side == BUY and position + open_qty + e.qty > lim.max_position:
            return "max_position"
        if e.side != BUY and position - open_qty - e.qty < -lim.max_position:
            return "max_position"
        gross = self.metrics.get(e.account, {}).get("gross_exposure", 0)
        if gross + notional > lim.credit_limit:
            return "credit"
        if rate > lim.max_orders_per_s:
            return "order_rate"
        return ""

    # ------------------------------------------------------------------ alerts
    def _alerts(self, e: Event, touched: list[str]) -> None:
        for acct in touched:
            lim = self.limits.for_account(acct)
            m = self.metrics[acct]
            eq, margin = m["equity"], m["margin"]
            util = (Fraction(0) if margin == 0 else math.inf if eq <= 0 else margin / eq)
            for metric, value, limit in (
                    ("drawdown", m["drawdown"], lim.drawdown_limit),
                    ("var_hist", m["var_hist"], lim.var_limit),
                    ("margin_utilization", util, lim.utilization_limit),
                    ("gross_exposure", m["gross_exposure"], lim.credit_limit)):
                ratio = value / limit if value != math.inf else math.inf
                old = self.state.get((acct, metric), "none")
                new = old
                if old == "none" and ratio >= 1:
                    new = "breach"
                elif old == "none" and ratio >= Fraction(8, 10):
                    new = "warn"
                elif old == "warn" and ratio >= 1:
                    new = "breach"
                elif old != "none" and ratio < Fraction(7, 10):
                    new = "none"
                if new != old:
                    self.state[(acct, metric)] = new
                    self.alerts.append((e.seq, acct, metric, "clear" if new == "none" else new))
                    if metric == "drawdown" and new == "breach":
                        self.halted.add(acct)

    # ------------------------------------------------------------------ one event
    def step(self, e: Event) -> None:
        holders_before = []
        if e.kind in (MARK, FILL):
            symbol_marked = any(p.kind == MARK and p.symbol == e.symbol for p in self.events)
            if e.kind == MARK or not symbol_marked:
                for acct in self.metrics:
                    pos = sum(p.side * p.qty for p in self.events
                              if p.kind == FILL and p.account == acct and p.symbol == e.symbol)
                    if pos:
                        holders_before.append(acct)
        self.events.append(e)
        if e.kind == ORDER:
            reason = self._decide(e)
            self.decisions.append((e.seq, e.order_id, not reason, reason))
            if not reason:
                self.accepted[e.order_id] = e
        self._recompute()
        for acct in self.metrics:
            self._var(acct)
        touched = sorted(set(holders_before) | ({e.account} if e.kind == FILL else set()))
        self._alerts(e, touched)
        for acct in self.metrics:
            self.metrics[acct]["halted"] = acct in self.halted
        self.equity_after.append({a: m["equity"] for a, m in self.metrics.items()})


def differences(events: list[Event], limits: LimitsFile) -> list[str]:
    """Run the engine and the reference side by side; every disagreement, after every event
    (decisions, alerts, and each account's money metrics and both VaRs)."""
    from .engine import RiskEngine

    engine = RiskEngine(limits, clock=lambda: 0)
    ref = ReferenceRisk(limits)
    out = []
    keys = ("equity", "realized_pnl", "unrealized_pnl", "gross_exposure", "net_exposure",
            "peak_equity", "drawdown", "margin", "var_hist")
    for ev in events:
        d = engine.process(ev)
        ref.step(ev)
        if d is not None and (d.seq, d.order_id, d.accepted, d.reason) != ref.decisions[-1]:
            out.append(f"seq {ev.seq}: decision {d} != {ref.decisions[-1]}")
        if [(a.seq, a.account, a.metric, a.level) for a in engine.alerts] != ref.alerts:
            out.append(f"seq {ev.seq}: alerts differ")
        for name, want in ref.metrics.items():
            got = engine.metrics(name)
            for key in keys:
                if getattr(got, key) * MONEY_SCALE != want[key]:
                    out.append(f"seq {ev.seq}: {name} {key}")
            if not math.isclose(got.var_ewma, want["var_ewma"], rel_tol=1e-12, abs_tol=1e-12):
                out.append(f"seq {ev.seq}: {name} var_ewma")
    return out
