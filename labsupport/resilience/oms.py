"""The order manager (OMS): intent journalled before sending, retries, reconciliation.

The component every fault in this lab is aimed at. Its rules, each one a defence that a
sabotage switch removes so the checker can be seen to catch the bug:

1. **Write-ahead intent** (``no-journal``, ``ack-before-journal``). A new order is written to
   the journal and fsynced *before* it is sent. After a crash the OMS knows every order it may
   have sent; without the journal, an order acknowledged by the exchange is an orphan the OMS
   never hears of again. Journalling only when the ack comes back leaves the same hole for the
   orders in flight.
2. **Idempotent retries.** If no answer comes, the same ``NewOrder`` (same client order id) is
   sent again after an exponential backoff with jitter (:class:`~.retry.Backoff`), at most
   ``max_attempts`` times, then the OMS asks for the order's status. The exchange treats a known
   id as a question, not an order (``no-idempotency`` breaks that side).
3. **Reconciliation** (``no-reconcile``). After its own restart, and whenever the exchange's
   session restarts, the OMS stops taking orders, asks the exchange for the status and fills of
   every order it knows (``StatusQuery``), applies the fills it missed (by execution id, so at
   most once), moves each order to the state reported, sends again what the exchange never saw,
   and only then takes orders again.
4. **Pre-trade risk** through Lab 06's :class:`~labsupport.risk.RiskEngine` (max order quantity,
   max position including working orders); a drawdown breach alert is sent to the kill switch.
5. **Positions checked against the drop copy** every 100 ms (a break is recorded, not hidden).

Each strategy ``Quote`` keeps at most one order per side: a quote at a new price cancels the
working order of that side (``pending-cancel``) and places a new one.
"""

from __future__ import annotations

from typing import Any

from labsupport.risk import Event, RiskEngine
from labsupport.sim import MS

from .component import Component
from .errors import IllegalTransition
from .journal import Journal
from .messages import (
    CancelOrder,
    CancelReject,
    ExecReport,
    NewOrder,
    PositionQuery,
    PositionReply,
    Quote,
    RiskBreach,
    StatusQuery,
    StatusReply,
)
from .orders import (
    CANCELLED,
    NEW,
    PARTIAL,
    PENDING_CANCEL,
    PENDING_NEW,
    REJECTED,
    TERMINAL,
    Order,
    PositionKeeper,
)
from .retry import Backoff

__all__ = ["Oms", "PRICE_UNITS_PER_TICK"]

PRICE_UNITS_PER_TICK = 100  # Lab 06 prices are 1e-4 of a currency unit; a tick is 0.01


class Oms(Component):
    PEERS = ("exchange", "strategy", "dropcopy", "kill")

    def start(self) -> None:
        self.orders: dict[str, Order] = {}
        self.keeper = PositionKeeper()
        self.risk = RiskEngine(self.ctx.limits.toml(), clock=self.local_ns)
        self.risk_seq = 0
        self.backoff = Backoff(**self.ctx.setting("backoff", {}))
        self.working: dict[int, str] = {}  # side -> the order quoting it
        self.pending_status: set[str] = set()
        self.breach_sent = False
        self.n = 0
        self.journal = Journal(self.disk, "orders")
        for rec in self.journal.recover():
            cid, side, qty, price = rec
            self.orders[cid] = Order(cid, side, qty, price)
            self._risk("order", side, qty, price, cid)
        self.recovering = self.epoch > 1
        self.after(100 * MS, "posrec")

    # -- the strategy's wishes ----------------------------------------------------------------
    def handle(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is Quote:
            self._quote(msg)
        elif kind is ExecReport:
            self._report(msg)
        elif kind is StatusReply:
            self._status_reply(msg)
        elif kind is CancelReject:
            order = self.orders.get(msg.cl_ord_id)
            if order is not None and order.state == PENDING_CANCEL:
                order.cancel_rejected()
                self.record("state", order.cl_ord_id, order.state)
        elif kind is PositionReply:
            state = "ok" if msg.position == self.keeper.position else "break"
            self.record("position-check", state, self.keeper.position, msg.position)

    def _quote(self, q: Quote) -> None:
        if self.recovering:
            self.record("refused", "recovering")
            return
        self._risk("mark", 0, 0, q.mid_ticks, "")
        for side, price in ((1, q.bid_ticks), (-1, q.ask_ticks)):
            cid = self.working.get(side)
            order = self.orders.get(cid) if cid else None
            if order is not None and order.state not in TERMINAL:
                if order.state in (PENDING_NEW, PENDING_CANCEL) or order.price_ticks == price:
                    continue
                self._cancel(order)
            self._place(side, q.qty, price)

    def _place(self, side: int, qty: int, price: int) -> None:
        self.n += 1
        cid = f"{self.epoch}.{self.n}"
        decision = self._risk("order", side, qty, price, cid)
        if decision is not None and not decision.accepted:
            self.record("risk-reject", cid, decision.reason)
            return
        order = self.orders[cid] = Order(cid, side, qty, price)
        self.working[side] = cid
        self.record("intent", cid, side, qty, price)
        sabotage = self.ctx.sabotage
        if "no-journal" in sabotage or "ack-before-journal" in sabotage:
            self._send(order, 0)
        else:
            self.durable(self.journal, [cid, side, qty, price], lambda: self._send(order, 0))

    def _send(self, order: Order, attempt: int) -> None:
        if order.state != PENDING_NEW:
            return
        self.emit("exchange", NewOrder(order.cl_ord_id, order.side, order.qty, order.price_ticks,
                                       attempt))
        self.record("send", order.cl_ord_id, attempt)
        delay = self.backoff.delay_ns(attempt, self.rng)
        if delay is None:
            self.emit("exchange", StatusQuery((order.cl_ord_id,)))  # give up asking twice
        else:
            self.after(delay, ("retry", order.cl_ord_id, attempt + 1))

    def _cancel(self, order: Order) -> None:
        order.transition(PENDING_CANCEL)
        self.record("state", order.cl_ord_id, PENDING_CANCEL)
        self.emit("exchange", CancelOrder(order.cl_ord_id))

    def timer(self, name: Any) -> None:
        if name == "posrec":
            self.emit("dropcopy", PositionQuery(self.now_ns))
            self.after(100 * MS, "posrec")
        elif name[0] == "retry":
            order = self.orders.get(name[1])
            if order is not None and not self.recovering:
                self._send(order, name[2])

    # -- the exchange's answers ---------------------------------------------------------------
    def _report(self, r: ExecReport) -> None:
        order = self.orders.get(r.cl_ord_id)
        if order is None and r.cl_ord_id.startswith("FLAT-") and r.exec_id:
            order = self._adopt(r)
        if order is None:
            self.record("orphan-report", r.cl_ord_id, r.status)
            return
        if r.exec_id:
            self._fill(order, r.exec_id, r.last_qty, r.last_price_ticks)
        self._reach(order, r.status)

    def _adopt(self, r: ExecReport) -> Order:
        """The kill switch's close-out, placed by the exchange: journal it and book it as ours."""
        order = self.orders[r.cl_ord_id] = Order(r.cl_ord_id, r.side, r.last_qty,
                                                 r.last_price_ticks)
        self.journal.append([r.cl_ord_id, r.side, r.last_qty, r.last_price_ticks])
        self._risk("order", r.side, r.last_qty, r.last_price_ticks, r.cl_ord_id)
        self.record("adopt", r.cl_ord_id, r.side, r.last_qty)
        return order

    def _fill(self, order: Order, exec_id: int, qty: int, price: int) -> None:
        if order.apply_fill(exec_id, qty):
            self.keeper.apply(exec_id, order.side * qty)
            self._risk("fill", order.side, qty, price, order.cl_ord_id)
            self.record("fill", order.cl_ord_id, exec_id, qty)

    def _reach(self, order: Order, status: str) -> None:
        was = order.state
        try:
            entered = order.reach(status)
        except IllegalTransition as exc:  # a report no correct exchange sends: keep the book
            self.record("illegal", order.cl_ord_id, exc.old, exc.new)
            return
        for state in entered:
            self.record("state", order.cl_ord_id, state)
        if was == PENDING_NEW and order.state != PENDING_NEW \
                and "ack-before-journal" in self.ctx.sabotage:
            self.journal.append([order.cl_ord_id, order.side, order.qty, order.price_ticks])
        if order.state in (CANCELLED, REJECTED) and was not in (CANCELLED, REJECTED):
            self._risk("cancel", 0, 0, None, order.cl_ord_id)

    # -- reconciliation -----------------------------------------------------------------------
    def peer_up(self, peer: str, restarted: bool) -> None:
        if peer == "exchange" and (restarted or self.recovering):
            self._reconcile(everything=not restarted)

    def _reconcile(self, *, everything: bool) -> None:
        if "no-reconcile" in self.ctx.sabotage:
            self.recovering = False
            return
        self.recovering = True
        ids = [cid for cid, o in self.orders.items() if everything or o.state not in TERMINAL]
        self.record("reconcile", len(ids))
        self.pending_status = set(ids)
        for i in range(0, len(ids), 50):
            self.emit("exchange", StatusQuery(tuple(ids[i:i + 50])))
        if not ids:
            self.recovering = False

    def _status_reply(self, r: StatusReply) -> None:
        order = self.orders.get(r.cl_ord_id)
        if order is None:
            return
        for exec_id, qty, price in r.fills:
            self._fill(order, exec_id, qty, price)
        if r.status == "unknown":
            if order.state == PENDING_NEW:
                self._send(order, 0)  # the exchange never saw it: send it (same id) again
        else:
            self._reach(order, r.status)
            if order.state == PENDING_CANCEL and r.status in (NEW, PARTIAL):
                self.emit("exchange", CancelOrder(order.cl_ord_id))
        self.pending_status.discard(r.cl_ord_id)
        if self.recovering and not self.pending_status:
            self.recovering = False
            self.record("reconciled", len(self.orders))

    # -- Lab 06 -------------------------------------------------------------------------------
    def _risk(self, kind: str, side: int, qty: int, price: int | None, cid: str):
        self.risk_seq += 1
        units = None if price is None else price * PRICE_UNITS_PER_TICK
        decision = self.risk.process(Event(self.risk_seq, self.local_ns(), kind, "desk", "X",
                                           side, qty, units, cid))
        if not self.breach_sent:
            for alert in self.risk.alerts:
                if alert.level == "breach":
                    self.breach_sent = True
                    self.emit("kill", RiskBreach(alert.metric, alert.value))
                    self.record("risk-breach", alert.metric, alert.value)
                    break
        return decision

    def final(self) -> dict[str, Any]:
        return {"orders": {cid: [o.state, o.cum_qty] for cid, o in self.orders.items()},
                "position": self.keeper.position,
                "fills": sorted(e for o in self.orders.values() for e in o.fills)}
