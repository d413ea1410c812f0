"""The risk engine: a plain class fed events, answering orders and raising alerts.

Mirrors a broker's real-time risk server on both sides of the market: pre-trade, every
``order`` goes through :func:`.checks.pretrade` and gets a :class:`Decision`; post-trade, every
``fill`` and ``mark`` updates the accounts' positions and metrics (:mod:`.positions`), VaR
(:mod:`.var`) and alert states (:mod:`.alerts`), and a drawdown breach turns on the account's
kill switch (every later order rejected ``halted``; the switch stays on).

No I/O inside: the CLI (:mod:`.report`), the ZeroMQ shell (:mod:`.serve`), the notebook and the
benchmark all feed :meth:`RiskEngine.process`. Time comes from two places: the events' own
``ts_ns`` (the order-rate window) and an injected ``clock`` (nanoseconds) that stamps when a
decision or alert was produced, so event-to-alert latency can be measured and tests stay
deterministic.

Per event
---------
- order: the chain; accepted orders are *open* (their quantity counts in ``max_position``)
  until filled or cancelled.
- cancel: an open order's remaining quantity is released (an unknown id is counted).
- fill: the open order's remaining quantity shrinks (an unknown id is counted, and the fill is
  still applied: a position is a fact, whatever the order book says); the position moves. If
  the symbol has no mark yet, the fill price becomes its reference price, revaluing every
  holder.
- mark: the symbol's price; every holder is revalued and then sampled for VaR.

After a fill or a mark, each account it changed (:attr:`RiskEngine.touched`, sorted by name)
has its peak updated and its four alert metrics stepped, in the order of
:data:`.alerts.METRICS`; an event's alerts are listed by account name, then metric.

Cost: O(1) for orders, cancels and fills; O(holders) for a mark, with a small constant.
``holders`` (symbol -> {account: its position record}) keeps a mark from visiting accounts
that do not hold the symbol, and the mark loop is the engine's hot path, written flat: per
holder, ``d = position x (new - old)`` moves ``net`` and ``gross`` (:mod:`.positions`), the
equity change since the last sample goes into the historical VaR (whose usual update is two
comparisons, :mod:`.var`; the EWMA, no alert metric, folds the same changes in when it is
read, or when the window is about to forget them), the peak is raised, and a few integer
comparisons against each metric's quiet band (:meth:`.positions.AccountRisk.quiet`) decide
whether the alert states need looking at at all.
No object is allocated per holder, and the names in :attr:`touched` are sorted only when
someone reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from labsupport.orderbook.pnl import COST_SCALE, Position

from .alerts import METRICS, TRANSITIONS, Alert, zone
from .checks import pretrade
from .events import BUY, CANCEL, FILL, MARK, ORDER, Event, RiskError, decimal_text
from .events import format_money as _money
from .limits import LimitsFile, parse_limits
from .positions import AccountRisk, Metrics

__all__ = ["DECISION_HEADER", "ENGINES", "Decision", "OpenOrder", "RiskEngine", "make_engine"]

DECISION_HEADER = "seq,order_id,decision,reason"
LIMIT_KEYS = ("drawdown_limit", "var_limit", "margin_utilization_limit", "credit_limit")
_EMPTY: tuple[AccountRisk, ...] = ()
ENGINES = ("python", "numba")  # make_engine(engine=...): this module, or .kernel compiled


class Decision(NamedTuple):
    """The answer to one order: ``reason`` is empty when accepted. Immutable; a named tuple
    rather than a frozen dataclass because one is made per order, and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) cost about five times as much."""

    seq: int
    order_id: str
    account: str
    accepted: bool
    reason: str
    at_ns: int = 0  # the engine's clock when it decided

    def row(self) -> str:
        return f"{self.seq},{self.order_id},{'accept' if self.accepted else 'reject'},{self.reason}"


class OpenOrder:
    """An accepted order's remaining quantity (what it still reserves)."""

    __slots__ = ("account", "symbol", "side", "qty")

    def __init__(self, account: AccountRisk, symbol: str, side: int, qty: int) -> None:
        self.account = account
        self.symbol = symbol
        self.side = side
        self.qty = qty


def _by_account(alert: Alert) -> str:
    return alert.account


def _release(order: OpenOrder, qty: int) -> None:
    book = order.account.open_buy if order.side == BUY else order.account.open_sell
    book[order.symbol] -= qty
    order.qty -= qty


class RiskEngine:
    """Pre-trade checks and post-trade metrics for many accounts. ``limits``: a
    :class:`LimitsFile` (or TOML text); ``clock``: nanoseconds, for the ``at_ns`` stamps."""

    def __init__(self, limits: LimitsFile | str = "", *,
                 clock: Callable[[], int] = time.perf_counter_ns) -> None:
        self.limits = parse_limits(limits) if isinstance(limits, str) else limits
        self.clock = clock
        self.accounts: dict[str, AccountRisk] = {}
        self.marks: dict[str, int] = {}  # symbol -> last mark (price units)
        self.prices: dict[str, int] = {}  # symbol -> reference price: the mark, else last fill
        # symbol -> {account holding it: its position record}
        self.holders: dict[str, dict[AccountRisk, Position]] = {}
        self.open: dict[str, OpenOrder] = {}
        self.seen: set[str] = set()
        self.alerts: list[Alert] = []  # every alert so far, in order
        self._touched: Iterable[AccountRisk] = _EMPTY  # accounts the last event changed
        self.unknown_fills = 0
        self.unknown_cancels = 0
        self.events = 0

    @property
    def touched(self) -> list[str]:
        """The names of the accounts whose metrics the last event changed, sorted."""
        return sorted(acct.name for acct in self._touched)

    def account(self, name: str) -> AccountRisk:
        acct = self.accounts.get(name)
        if acct is None:
            acct = self.accounts[name] = AccountRisk(name, self.limits.for_account(name))
        return acct

    # ------------------------------------------------------------------ events
    def process(self, ev: Event) -> Decision | None:
        """Apply one event; returns the decision for an order, else None. New alerts are
        appended to :attr:`alerts`; :attr:`touched` names the accounts whose metrics moved."""
        self.events += 1
        kind = ev.kind
        if kind == ORDER:
            self._touched = _EMPTY
            return self.order(ev)
        if kind == MARK:
            self.mark(ev)
        elif kind == FILL:
            self.fill(ev)
        elif kind == CANCEL:
            self._touched = _EMPTY
            self.cancel(ev.order_id)
        else:
            raise RiskError(f"event {ev.seq}: unknown kind {kind!r}")
        return None

    def run(self, events: Iterable[Event]) -> list[Decision]:
        """Process every event; returns the decisions (alerts are in :attr:`alerts`)."""
        out = []
        for ev in events:
            d = self.process(ev)
            if d is not None:
                out.append(d)
        return out

    def order(self, ev: Event) -> Decision:
        acct = self.account(ev.account)
        reason = pretrade(acct, ev, self.seen, self.marks)
        return self.decided(acct, ev, reason)

    def decided(self, acct: AccountRisk, ev: Event, reason: str) -> Decision:
        """Book the chain's answer: an accepted order is open from now on."""
        if not reason:
            self.open[ev.order_id] = OpenOrder(acct, ev.symbol, ev.side, ev.qty)
            book = acct.open_buy if ev.side == BUY else acct.open_sell
            book[ev.symbol] = book.get(ev.symbol, 0) + ev.qty
        return Decision(ev.seq, ev.order_id, ev.account, not reason, reason, self.clock())

    def cancel(self, order_id: str) -> bool:
        order = self.open.pop(order_id, None)
        if order is None:
            self.unknown_cancels += 1
            return False
        _release(order, order.qty)
        return True

    def fill(self, ev: Event) -> None:
        order = self.open.get(ev.order_id)
        if order is None:
            self.unknown_fills += 1
        else:
            _release(order, min(ev.qty, order.qty))
            if order.qty == 0:
                del self.open[ev.order_id]
        symbol, price = ev.symbol, ev.price
        assert price is not None  # parse_event guarantees it for fills
        holders = self.holders.get(symbol)
        if holders is None:
            holders = self.holders[symbol] = {}
        touched: dict[AccountRisk, None] = {}
        if symbol not in self.marks:  # no mark yet: the last fill is the reference price
            old = self.prices.get(symbol)
            if old is not None and old != price:
                for acct in holders:
                    acct.revalue(symbol, old, price)
            self.prices[symbol] = price
            touched = dict.fromkeys(holders)
        acct = self.account(ev.account)
        if acct.fill(symbol, ev.qty if ev.side == BUY else -ev.qty, price, self.prices[symbol]):
            holders[acct] = acct.positions[symbol]
        else:
            holders.pop(acct, None)
        touched[acct] = None
        self._touched = touched
        n_alerts = len(self.alerts)
        for a in touched:
            self._settle(ev, a)
        if len(self.alerts) - n_alerts > 1:
            self._order_alerts(n_alerts)

    def mark(self, ev: Event) -> None:
        """Revalue, sample and check every holder of the symbol: the hot path, written flat
        (see the module's docstring); :meth:`_settle` is the same per account, unrolled."""
        symbol, price = ev.symbol, ev.price
        assert price is not None
        self.marks[symbol] = price
        old = self.prices.get(symbol)
        self.prices[symbol] = price
        holders = self.holders.get(symbol)
        if not holders:
            self._touched = _EMPTY
            return
        self._touched = holders
        dv = 0 if old is None else (price - old) * COST_SCALE
        alerts = self.alerts
        n_alerts = len(alerts)
        for acct, p in holders.items():
            if dv:  # |position x price| moves by |position| x dv: prices are positive
                pos = p.position
                d = pos * dv
                acct.net += d
                acct.gross += d if pos > 0 else -d
            eq = acct.base + acct.net
            last = acct.last_sample
            acct.last_sample = eq
            if last is not None:  # one VaR sample: the equity change since the last one
                hvar = acct.hvar
                hvar.push(eq - last)
                acct.ewma_due = due = acct.ewma_due + 1
                if due == hvar.window:  # the EWMA is folded in when read, or now
                    acct.fold_ewma()
            if eq > acct.peak:
                acct.peak = eq
            if not acct.quiet(eq):
                self._zone_steps(ev, acct, eq)
        if len(alerts) - n_alerts > 1:
            self._order_alerts(n_alerts)

    def _settle(self, ev: Event, acct: AccountRisk) -> None:
        """The peak and the alert states of one account the event changed: nothing more than
        a few comparisons while every metric is in its quiet band (:meth:`AccountRisk.quiet`)."""
        eq = acct.base + acct.net
        if eq > acct.peak:
            acct.peak = eq
        if not acct.quiet(eq):
            self._zone_steps(ev, acct, eq)

    def _order_alerts(self, start: int) -> None:
        """One event's alerts, from ``start`` on, by account name (stable: metric order)."""
        self.alerts[start:] = sorted(self.alerts[start:], key=_by_account)

    def _zone_steps(self, ev: Event, acct: AccountRisk, eq: int) -> None:
        """Step every metric by its zone (a metric in its quiet band steps to itself)."""
        lim = acct.limits
        self._zone_step(ev, acct, 0, acct.peak - eq, lim.drawdown_limit)
        self._zone_step(ev, acct, 1, acct.hvar.var100, 100 * lim.var_limit)
        gross = acct.gross
        if not (gross and acct.util_a):
            self._zone_step(ev, acct, 2, 0, 1)  # no margin: utilization 0
        elif eq <= 0:
            self._zone_step(ev, acct, 2, 1, 0)  # margin, no equity: infinitely used
        else:  # margin / equity against the limit: gross x a against b x eq
            self._zone_step(ev, acct, 2, gross * acct.util_a, acct.util_b * eq)
        self._zone_step(ev, acct, 3, gross, lim.credit_limit)

    def _zone_step(self, ev: Event, acct: AccountRisk, k: int, a: int, b: int) -> None:
        """Step metric ``k`` of ``acct`` by the zone of ``a / b`` (b == 0: over any limit)."""
        z = zone(a, b) if b else 3
        was = acct.alert_state[k]
        new, level = TRANSITIONS[was][z]
        if level is None:
            return
        acct.alert_state[k] = new
        acct.set_band(k, new)
        metric = METRICS[k]
        lim = acct.limits
        if k == 0:
            value = _money(acct.peak - acct.equity)
            if level == "breach":
                acct.halted = True  # the kill switch: stays on
        elif k == 1:
            value = _money(acct.hvar.value())
        elif k == 2:
            u = acct.metrics().margin_utilization
            value = "inf" if isinstance(u, float) else _money(u)
        else:
            value = _money(acct.gross)
        self.alerts.append(Alert(ev.seq, ev.ts_ns, acct.name, metric, level, value,
                                 decimal_text(lim.raw[LIMIT_KEYS[k]])))

    # ------------------------------------------------------------------ views
    def metrics(self, account: str) -> Metrics:
        return self.account(account).metrics()

    def all_metrics(self) -> list[Metrics]:
        """Every account seen, by name."""
        return [self.accounts[name].metrics() for name in sorted(self.accounts)]

    def halt(self, account: str) -> None:
        """Turn an account's kill switch on by hand (it stays on)."""
        self.account(account).halted = True

    def open_quantity(self, account: str, symbol: str) -> tuple[int, int]:
        acct = self.account(account)
        return acct.open_buy.get(symbol, 0), acct.open_sell.get(symbol, 0)

    def position(self, account: str, symbol: str) -> int:
        return self.account(account).position(symbol)


def make_engine(limits: LimitsFile | str = "", *, engine: str = "python",
                clock: Callable[[], int] = time.perf_counter_ns) -> RiskEngine:
    """A risk engine by name: ``"python"`` (this module's :class:`RiskEngine`, the reference
    and teaching path) or ``"numba"`` (:class:`.kernel.KernelRiskEngine`, the same answers
    from a compiled kernel over int64 arrays; imported only when asked for)."""
    if engine == "python":
        return RiskEngine(limits, clock=clock)
    if engine == "numba":
        try:
            from .kernel import KernelRiskEngine
        except ImportError as exc:  # numba comes with the project's `fast` extra
            raise RiskError(f"engine 'numba' needs numba (pip install -e '.[fast]'): {exc}"
                            ) from None
        return KernelRiskEngine(limits, clock=clock)  # type: ignore[return-value]
    raise RiskError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")

