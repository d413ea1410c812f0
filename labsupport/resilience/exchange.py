"""The exchange: Lab 02's matching engine behind a FIX-like order-entry session, with a journal.

A simulated exchange with the semantics of a real one's order entry (what Lab 10 builds in full):

- ``NewOrder`` is idempotent by client order id (FIX ClOrdID uniqueness): a second copy of an id
  it already knows, a retry or a network duplicate that slipped past the session, gets the
  order's current status, never a second order. The ``no-idempotency`` sabotage turns this off:
  every copy becomes an order of its own (``ID#2``, ``ID#3``).
- Every input (desk orders, cancels, the other participants' orders, a kill) is journalled and
  fsynced before it is applied, and a restart replays the journal through a fresh
  :class:`~labsupport.orderbook.MatchingEngine` with outputs muted: the engine is deterministic,
  so the book, fills and execution ids come back exactly. This is the state-machine replication
  trick (Lamport; and how an exchange's matching engine fails over), in one process.
- The rest of the market ("the street") is simulated here too: on a timer the mid price walks and
  aggressive IOC orders arrive that trade against the desk's resting quotes (until the
  scenario's ``trade_until_ns``, so the settling phase ends quiet and final states are final).
- Every desk fill goes to the OMS (``ExecReport``) and to the drop copy (``DropFill``); every
  accepted desk order to the kill switch (``OrderNotice``, for its order-rate trigger).
- ``Kill`` blocks the desk at the gateway (later orders are rejected ``blocked``) and cancels
  every working desk order, answering ``KillAck``; it is idempotent by kill id. With
  ``flatten`` it also closes the desk's position at the mid (order ``FLAT-<kill id>``, which
  the OMS adopts when its report arrives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labsupport.orderbook import IOC, LIMIT, ExecutionReport, Listener, MatchingEngine
from labsupport.sim import MS

from .component import Component
from .journal import Journal
from .messages import (
    CancelOrder,
    CancelReject,
    DropFill,
    ExecReport,
    FillsSince,
    Kill,
    KillAck,
    MarketData,
    NewOrder,
    OrderNotice,
    StatusQuery,
    StatusReply,
)
from .orders import CANCELLED, FILLED, NEW, PARTIAL, REJECTED

__all__ = ["Exchange", "SYMBOL", "START_MID", "DESK"]

SYMBOL, DESK, STREET = "X", "desk", "street"
START_MID = 10_000  # ticks of 0.01: 100.00


@dataclass(slots=True)
class _Order:
    cl_ord_id: str
    side: int
    qty: int
    status: str = NEW
    fills: list[tuple[int, int, int]] = field(default_factory=list)  # exec_id, qty, price


class _Executions(Listener):
    def __init__(self) -> None:
        self.reports: list[ExecutionReport] = []

    def on_execution(self, report: ExecutionReport) -> None:
        if report.account == DESK and report.last_qty:
            self.reports.append(report)


class Exchange(Component):
    PEERS = ("oms", "feed", "dropcopy", "kill")

    def start(self) -> None:
        self.listener = _Executions()
        self.engine = MatchingEngine([SYMBOL], pnl=False, listener=self.listener)
        self.orders: dict[str, _Order] = {}  # engine order id -> order
        self.by_client: dict[str, list[str]] = {}  # cl_ord_id -> engine order ids
        self.rejected: dict[str, str] = {}  # cl_ord_id -> reason
        self.kills: dict[int, int] = {}  # kill id -> orders it cancelled
        self.fills: list[DropFill] = []
        self.position = 0
        self.mid = START_MID
        self.street_n = 0
        self.blocked = False
        self.journal = Journal(self.disk, "inputs")
        self.replaying = True
        for rec in self.journal.recover():
            self._apply(rec)
        self.replaying = False
        self.after(3 * MS, "street")

    # -- inputs -------------------------------------------------------------------------------
    def handle(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is NewOrder:
            known = msg.cl_ord_id in self.by_client or msg.cl_ord_id in self.rejected
            if known and "no-idempotency" not in self.ctx.sabotage:
                self._status_report(msg.cl_ord_id)
                return
            throttled = self.ctx.reject_until.get(self.name, 0) > self.now_ns
            self._input(["new", msg.cl_ord_id, msg.side, msg.qty, msg.price_ticks, throttled])
        elif kind is CancelOrder:
            self._input(["cancel", msg.cl_ord_id])
        elif kind is StatusQuery:
            for cid in msg.cl_ord_ids:
                self.emit("oms", self._status(cid))
        elif kind is FillsSince:
            for fill in self.fills:
                if fill.exec_id > msg.exec_id:
                    self.emit("dropcopy", fill)
        elif kind is Kill:
            if msg.kill_id in self.kills:
                self.emit("kill", KillAck(msg.kill_id, self.kills[msg.kill_id]))
            else:
                self._input(["kill", msg.kill_id, msg.flatten])

    def timer(self, name: Any) -> None:
        if name == "street" and self.now_ns < self.ctx.setting("trade_until_ns", 1 << 62):
            rng = self.rng
            r = rng.random()
            mid = self.mid + (1 if r < 0.15 else -1 if r < 0.3 else 0)
            if rng.random() < 0.15:
                side = 1 if rng.random() < 0.5 else -1
                self.street_n += 1
                self._input(["street", self.street_n, side, rng.randint(1, 3), mid + 3 * side,
                             mid])
            elif mid != self.mid:
                self._input(["mid", mid])
            self.after(3 * MS, "street")

    def _input(self, rec: list) -> None:
        """Journal, fsync, apply: the write-ahead rule for every input."""
        self.journal.append(rec)
        self._apply(rec)

    # -- applying (live and on replay) --------------------------------------------------------
    def _apply(self, rec: list) -> None:
        op = rec[0]
        if op == "new":
            self._new(*rec[1:])
        elif op == "cancel":
            self._cancel(rec[1], "requested")
        elif op == "street" or op == "mid":
            mid = rec[-1]
            if mid != self.mid:
                self.mid = mid
                self._out("feed", MarketData(mid))
            if op == "street":
                _, n, side, qty, price, _mid = rec
                self.engine.add(SYMBOL, f"S{n}", side, IOC, price, qty, STREET)
                self._fills()
        elif op == "kill":
            self.blocked = True
            n = 0
            for oid, order in self.orders.items():
                if order.status in (NEW, PARTIAL):
                    self._cancel(order.cl_ord_id, "kill", oid)
                    n += 1
            self.kills[rec[1]] = n
            self._note("kill", rec[1], n)
            if rec[2] and self.position:
                self._flatten(rec[1])
            self._out("kill", KillAck(rec[1], n))

    def _new(self, cid: str, side: int, qty: int, price: int, throttled: bool) -> None:
        if throttled or self.blocked:
            reason = "throttled" if throttled else "blocked"
            self.rejected[cid] = reason
            self._note("reject", cid, reason)
            self._out("oms", ExecReport(cid, REJECTED, 0, reason=reason))
            return
        ids = self.by_client.setdefault(cid, [])
        oid = cid if not ids else f"{cid}#{len(ids) + 1}"
        ids.append(oid)
        self.orders[oid] = _Order(cid, side, qty)
        self._note("accept", cid, oid, side, qty, price)
        self._out("oms", ExecReport(cid, NEW, 0))
        self._out("kill", OrderNotice(cid))
        self.engine.add(SYMBOL, oid, side, LIMIT, price, qty, DESK)
        self._fills()

    def _cancel(self, cid: str, reason: str, oid: str | None = None) -> None:
        if oid is None:
            live = [o for o in self.by_client.get(cid, ()) if self.orders[o].status in (NEW, PARTIAL)]
            if not live:
                self._out("oms", CancelReject(cid, "unknown" if cid not in self.by_client
                                              else "too late"))
                return
            oid = live[0]
        order = self.orders[oid]
        self.engine.cancel(oid, SYMBOL)
        order.status = CANCELLED
        self._note("cancel", cid, oid, reason)
        self._out("oms", ExecReport(cid, CANCELLED, sum(f[1] for f in order.fills)))

    def _fills(self) -> None:
        reports, self.listener.reports = self.listener.reports, []
        for rep in reports:
            self._book(rep.order_id, rep.last_qty, rep.last_price_ticks)

    def _book(self, oid: str, qty: int, price: int) -> None:
        """One desk fill: to the order, the position, the OMS and the drop copy."""
        order = self.orders[oid]
        exec_id = len(self.fills) + 1
        order.fills.append((exec_id, qty, price))
        cum = sum(f[1] for f in order.fills)
        order.status = FILLED if cum == order.qty else PARTIAL
        self.position += order.side * qty
        fill = DropFill(exec_id, order.cl_ord_id, order.side, qty, price)
        self.fills.append(fill)
        self._note("fill", exec_id, order.cl_ord_id, oid, order.side, qty, price, self.position)
        self._out("oms", ExecReport(order.cl_ord_id, order.status, cum, exec_id, qty, price,
                                    side=order.side))
        self._out("dropcopy", fill)

    def peer_up(self, peer: str, restarted: bool) -> None:
        """A new OMS session: tell it again of the orders placed on its behalf (close-outs),
        which its journal cannot know if it crashed before their report arrived."""
        if peer != "oms":
            return
        for oid, order in self.orders.items():
            if oid.startswith("FLAT-"):
                cum = sum(f[1] for f in order.fills)
                for exec_id, qty, price in order.fills:
                    self.emit("oms", ExecReport(oid, order.status, cum, exec_id, qty, price,
                                                side=order.side))

    def _flatten(self, kill_id: int) -> None:
        """Close the desk's position at the mid against the street (a broker's close-out):
        an order of the exchange's own, ``FLAT-<kill id>``, reported like any other."""
        cid = f"FLAT-{kill_id}"
        side, qty = (-1 if self.position > 0 else 1), abs(self.position)
        self.by_client[cid] = [cid]
        self.orders[cid] = _Order(cid, side, qty)
        self._note("flatten", cid, side, qty, self.mid)
        self._book(cid, qty, self.mid)

    # -- outputs (muted while replaying the journal) --------------------------------------------
    def _out(self, dst: str, msg: Any) -> None:
        if not self.replaying:
            self.emit(dst, msg)

    def _note(self, kind: str, *fields: Any) -> None:
        if not self.replaying:
            self.record(kind, *fields)

    def _status(self, cid: str) -> StatusReply:
        if cid in self.rejected:
            return StatusReply(cid, REJECTED, ())
        ids = self.by_client.get(cid)
        if not ids:
            return StatusReply(cid, "unknown", ())
        order = self.orders[ids[0]]
        return StatusReply(cid, order.status, tuple(order.fills))

    def _status_report(self, cid: str) -> None:
        reply = self._status(cid)
        cum = sum(f[1] for f in reply.fills)
        self.emit("oms", ExecReport(cid, reply.status, cum))

    def final(self) -> dict[str, Any]:
        return {"orders": {oid: [o.cl_ord_id, o.status, sum(f[1] for f in o.fills)]
                           for oid, o in self.orders.items()},
                "position": self.position, "blocked": self.blocked,
                "fills": [[f.exec_id, f.cl_ord_id, f.side * f.qty] for f in self.fills]}
