"""The order-entry gateway: FIX application messages in, internal orders out, and back, sans-IO.

What it mirrors: the front door of a venue (a "FIX gateway" or "order entry port"). It owns
the client-facing view of every order: ClOrdID chains, CumQty, LeavesQty, AvgPx, OrdStatus,
while the matching engine only knows exchange order ids, quantities and prices.

Theory of operation. :class:`Gateway` holds one :class:`~.session.SessionStore` per
SenderCompID (one live session each) and a table of :class:`OrderState` by exchange order id.

- In: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G). Each field is
  validated; a missing tag, an empty value, a bad number or an out-of-range code is a
  session-level Reject (35=3) with SessionRejectReason 373 = 1, 4, 6 or 5 and RefTagID 371,
  and the session stays up. A well-formed order the venue will not take (unknown symbol,
  duplicate ClOrdID, a price off the tick) is an ExecutionReport 150=8 with the reason in 58.
  Accepted orders become internal messages (``emit(message)``, a dict) sent to risk.
- Back: :meth:`Gateway.on_event` takes the matcher's and risk's per-order events (``new``,
  ``fill``, ``cxl``, ``exp``, ``rpl``, ``rej``) and writes the ExecutionReport (35=8) or the
  OrderCancelReject (35=9) to the owning session, which may be offline (then the report is
  kept in its store and resent when the client asks).
- Persistence: with ``journal`` set, every change of this state (an order, a pending cancel or
  replace, an event, an application message sent) is handed to it as a record;
  :mod:`.gwstate` writes them and restores a restarted gateway from them.

The report is the hot path (about two per order): it is written as one formatted string, with
the fields that stay the same for the life of an order (1, 55, 54, 38, 44) kept pre-formatted
on its :class:`OrderState`, integer prices formatted through a cache, and the body encoded
once for the wire and for the resend store alike.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

from labsupport.orderbook import BUY, FOK, IOC, LIMIT, MARKET, SELL

from .session import (
    EXCHANGE_COMP_ID,
    Fields,
    FixSession,
    SessionStore,
    encode_fields,
    utc_timestamp,
)

__all__ = ["Gateway", "OrderState", "TICKS_PER_UNIT", "format_price"]

TICKS_PER_UNIT = 100  # Lab 02's PRICE_SCALE: prices are cents
ACK_SAMPLES = 100_000  # latency samples kept (the newest), for the Latency RPC
_SIDES = {"1": BUY, "2": SELL}
_REQUIRED = {"D": (11, 55, 54, 38, 40), "F": (41, 11, 55, 54), "G": (41, 11, 55, 54, 38, 40)}


@lru_cache(maxsize=1 << 14)
def _tick_text(ticks: int) -> str:
    whole, cents = divmod(ticks, TICKS_PER_UNIT)
    return str(whole) if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")


def format_price(value: Fraction | int) -> str:
    """Ticks (or a fraction of ticks) as a FIX price text: ``10025`` -> ``"100.25"``."""
    if isinstance(value, int) or value.denominator == 1:
        return _tick_text(int(value))
    units = Fraction(value) / TICKS_PER_UNIT
    exact = (units * 10**6).denominator == 1
    text = format(Decimal(units.numerator) / Decimal(units.denominator), "f") if exact \
        else f"{float(units):.6f}"
    return text.rstrip("0").rstrip(".")


class OrderState:
    """The client's view of one order."""

    __slots__ = ("oid", "comp", "clordid", "account", "symbol", "side", "qty", "price", "otype",
                 "cum", "notional", "leaves", "status", "pending", "done", "fixed")

    def __init__(self, oid: int, comp: str, clordid: str, account: str, symbol: str, side: int,
                 qty: int, price: int, otype: int) -> None:
        self.oid, self.comp, self.clordid, self.account = oid, comp, clordid, account
        self.symbol, self.side, self.qty, self.price, self.otype = symbol, side, qty, price, otype
        self.cum = 0
        self.notional = 0  # sum of qty x price of the fills, in ticks
        self.leaves = qty
        self.status = "A"  # 39: A pending new, 0 new, 1 partial, 2 filled, 4 canceled, 8 rejected
        self.pending: dict | None = None  # the cancel or replace waiting for its answer
        self.done = False
        self.fixed = ""  # fields 1, 55, 54, 38, 44 of its reports, formatted (see ``fields``)

    @property
    def avg_px(self) -> str:
        if not self.cum:
            return "0"
        whole, rest = divmod(self.notional, self.cum)
        return _tick_text(whole) if rest == 0 else format_price(Fraction(self.notional, self.cum))

    def fields(self) -> str:
        """``1=..|55=..|54=..|38=..|44=..|`` of its reports (44 only for a priced order),
        formatted on first use and again after a replace changes 38 or 44."""
        if not self.fixed:
            px = "" if self.otype == MARKET else f"44={format_price(self.price)}\x01"
            self.fixed = (f"1={self.account}\x0155={self.symbol}\x01"
                          f"54={'1' if self.side == BUY else '2'}\x0138={self.qty}\x01{px}")
        return self.fixed


class Gateway:
    """Sessions and orders of the venue's order entry; ``emit(msg)`` sends to risk."""

    def __init__(self, symbols: list[str] | tuple[str, ...], emit: Callable[[dict], None], *,
                 comp_id: str = EXCHANGE_COMP_ID, clock: Callable[[], int] = time.monotonic_ns,
                 wall: Callable[[], float] = time.time, first_order_id: int = 1) -> None:
        self.symbols = {s: i for i, s in enumerate(symbols)}
        self.emit = emit
        self.comp_id, self.clock, self.wall = comp_id, clock, wall
        self.stores: dict[str, SessionStore] = {}
        self.live: dict[str, FixSession] = {}  # SenderCompID -> its connected session
        self.orders: dict[int, OrderState] = {}
        self.by_clordid: dict[tuple[str, str], OrderState] = {}
        self.next_oid = first_order_id
        self.exec_ids = 0
        self.acks: deque[tuple[list, int]] = deque(maxlen=ACK_SAMPLES)  # (hop stamps, ack time)
        self.keep_stamps = True
        self.counts = {"orders": 0, "cancels": 0, "replaces": 0, "reports": 0, "rejects": 0,
                       "offline_reports": 0, "dropped": 0}
        self.journal: Callable[[list], None] | None = None  # state changes (see .gwstate)
        self.replaying = False  # restoring from the journal: nothing is sent

    # ------------------------------------------------------------------ sessions
    def connect(self) -> FixSession:
        """A new connection: its session, not yet logged on."""
        return FixSession(self._logon, comp_id=self.comp_id, clock=self.clock, wall=self.wall)

    def _logon(self, comp: str) -> SessionStore | str:
        if comp in self.live:
            return f"SenderCompID {comp} is already logged on"
        return self.stores.setdefault(comp, SessionStore())

    def receive(self, session: FixSession, data: bytes) -> None:
        """Bytes from a connection: session handling, then each application message."""
        dropped = session.dropped
        for msg in session.receive(data):
            self._application(session, msg)
        self.counts["dropped"] += session.dropped - dropped
        if session.state == "active":
            self.live.setdefault(session.peer or "", session)

    def disconnected(self, session: FixSession) -> None:
        session.close("disconnected")
        if session.peer is not None and self.live.get(session.peer) is session:
            del self.live[session.peer]

    def session_for(self, comp: str) -> FixSession | None:
        return self.live.get(comp)

    # ------------------------------------------------------------------ validation
    def _fields(self, s: FixSession, msg: Fields, mtype: str) -> dict | None:
        """The order fields of a D/F/G, or None after a session Reject."""
        for tag in _REQUIRED[mtype]:
            v = msg.get(tag)
            if v is None:
                s.reject(msg, 1, f"required tag {tag} missing", tag)
                return None
            if v == "":
                s.reject(msg, 4, f"tag {tag} specified without a value", tag)
                return None
        side = _SIDES.get(msg.get(54) or "")
        if side is None:
            s.reject(msg, 5, "Side(54) must be 1 or 2", 54)
            return None
        out = {"side": side, "symbol": msg.get(55), "clordid": msg.get(11)}
        if mtype == "F":
            return out
        qty_text = msg.get(38) or ""
        if not qty_text.isdigit():
            s.reject(msg, 6, "OrderQty(38) must be a whole number", 38)
            return None
        ord_type, tif = msg.get(40), msg.get(59, "0")
        if ord_type not in ("1", "2"):
            s.reject(msg, 5, "OrdType(40) must be 1 (market) or 2 (limit)", 40)
            return None
        if tif not in ("0", "3", "4"):
            s.reject(msg, 5, "TimeInForce(59) must be 0, 3 or 4", 59)
            return None
        price = 0
        if ord_type == "2":
            text = msg.get(44)
            if not text:
                s.reject(msg, 1, "a limit order needs Price(44)", 44)
                return None
            try:
                ticks = Decimal(text) * TICKS_PER_UNIT
            except InvalidOperation:
                s.reject(msg, 6, "Price(44) is not a number", 44)
                return None
            if not ticks.is_finite():
                s.reject(msg, 6, "Price(44) is not a number", 44)
                return None
            out["bad_tick"] = ticks != ticks.to_integral_value()
            price = int(ticks)
        otype = MARKET if ord_type == "1" else {"0": LIMIT, "3": IOC, "4": FOK}[tif]
        if ord_type == "1" and tif == "4":
            otype = -1  # market FOK: not offered
        out.update(qty=int(qty_text), price=price, otype=otype, ord_type=ord_type, tif=tif)
        return out

    # ------------------------------------------------------------------ application
    def _application(self, s: FixSession, msg: Fields) -> None:
        mtype = msg.get(35) or ""
        if mtype not in _REQUIRED:
            s.reject(msg, 11, f"MsgType {mtype} is not supported here", 35)
            return
        f = self._fields(s, msg, mtype)
        if f is None:
            return
        comp = s.peer or ""
        if mtype == "D":
            self._new(comp, msg, f)
        else:
            self._amend(comp, msg, f, mtype)

    def _stamp(self) -> list:
        return [["gateway_in", self.clock()]]

    def _new(self, comp: str, msg: Fields, f: dict) -> None:
        self.counts["orders"] += 1
        clordid, symbol = f["clordid"], f["symbol"]
        oid = self.next_oid
        self.next_oid += 1
        order = OrderState(oid, comp, clordid, msg.get(1) or comp, symbol, f["side"], f["qty"],
                           f["price"], f["otype"])
        self.orders[oid] = order
        reason = ""
        if (comp, clordid) in self.by_clordid:
            reason = "duplicate ClOrdID"
        elif symbol not in self.symbols:
            reason = "unknown symbol"
        elif f["qty"] <= 0:
            reason = "OrderQty must be positive"
        elif f["otype"] < 0:
            reason = "market orders cannot be fill-or-kill"
        elif f.get("bad_tick") or (f["ord_type"] == "2" and f["price"] <= 0):
            reason = "price is not a positive multiple of the tick (0.01)"
        if self.journal is not None:
            self.journal(["o", oid, comp, clordid, order.account, symbol, f["side"], f["qty"],
                          f["price"], f["otype"], reason])
        if reason:
            self._reject(order, reason)
            return
        self.by_clordid[(comp, clordid)] = order
        self.emit({"k": "new", "oid": oid, "sym": symbol, "side": f["side"], "ot": f["otype"],
                   "px": f["price"], "qty": f["qty"], "acct": order.account, "ts": self._stamp()})

    def _amend(self, comp: str, msg: Fields, f: dict, mtype: str) -> None:
        self.counts["cancels" if mtype == "F" else "replaces"] += 1
        order = self.by_clordid.get((comp, msg.get(41) or ""))
        if order is None or order.done or order.pending is not None:
            why = "unknown order" if order is None else (
                "order is not live" if order.done else "a cancel or replace is pending")
            self._cancel_reject(comp, f["clordid"], msg.get(41) or "", order, why, mtype)
            return
        if (comp, f["clordid"]) in self.by_clordid:
            self._cancel_reject(comp, f["clordid"], order.clordid, order, "duplicate ClOrdID", mtype)
            return
        if mtype == "F":
            order.pending = {"k": "cxl", "clordid": f["clordid"]}
            if self.journal is not None:
                self.journal(["p", order.oid, order.pending])
            self.emit({"k": "cxl", "oid": order.oid, "sym": order.symbol, "ts": self._stamp()})
            return
        left = f["qty"] - order.cum
        if f["ord_type"] != "2" or f.get("bad_tick") or f["price"] <= 0 or left <= 0:
            why = ("replace quantity is not above the filled quantity" if left <= 0
                   else "replace must be a limit order at a positive price on the tick")
            self._cancel_reject(comp, f["clordid"], order.clordid, order, why, mtype)
            return
        order.pending = {"k": "rpl", "clordid": f["clordid"], "qty": f["qty"], "px": f["price"]}
        if self.journal is not None:
            self.journal(["p", order.oid, order.pending])
        self.emit({"k": "rpl", "oid": order.oid, "sym": order.symbol, "px": f["price"],
                   "qty": left, "ts": self._stamp()})

    # ------------------------------------------------------------------ reports
    def _send(self, comp: str, mtype: str, body: bytes) -> None:
        """One encoded message body to ``comp``'s session, or to its store when it is offline
        (numbered and kept, for a ResendRequest later)."""
        if self.replaying:  # the journal has what was sent ("m" records)
            return
        session = self.live.get(comp)
        if session is not None:
            seq = session.send_body(mtype, body)
            if self.journal is not None:
                self.journal(["m", comp, seq, *session.store.sent[seq]])
            return
        store = self.stores.get(comp)
        if store is not None:
            self.counts["offline_reports"] += 1
            seq = store.next_out
            store.next_out += 1
            store.sent[seq] = (mtype, body, utc_timestamp(self.wall()))
            if self.journal is not None:
                self.journal(["m", comp, seq, *store.sent[seq]])

    def _report(self, order: OrderState, exec_type: str, *, last_qty: int = 0, last_px: int = 0,
                clordid: str | None = None, orig: str | None = None, text: str = "") -> None:
        """ExecutionReport: 37 11 [41] 17 150 39 1 55 54 38 [44] 32 31 151 14 6 60 [58]."""
        self.exec_ids += 1
        self.counts["reports"] += 1
        orig_f = "" if orig is None else f"41={orig}\x01"
        text_f = f"58={text}\x01" if text else ""
        body = (f"37={order.oid}\x0111={clordid or order.clordid}\x01{orig_f}"
                f"17=E{self.exec_ids}\x01150={exec_type}\x0139={order.status}\x01{order.fields()}"
                f"32={last_qty}\x0131={_tick_text(last_px)}\x01151={order.leaves}\x01"
                f"14={order.cum}\x016={order.avg_px}\x0160={utc_timestamp(self.wall())}\x01{text_f}")
        self._send(order.comp, "8", body.encode("latin-1"))

    def _reject(self, order: OrderState, reason: str) -> None:
        self.counts["rejects"] += 1
        order.status, order.leaves, order.done = "8", 0, True
        self._report(order, "8", text=reason)

    def _cancel_reject(self, comp: str, clordid: str, orig: str, order: OrderState | None,
                       why: str, mtype: str) -> None:
        self._send(comp, "9", encode_fields([
            (37, order.oid if order is not None else "NONE"), (11, clordid), (41, orig),
            (39, order.status if order is not None else "8"), (434, "1" if mtype == "F" else "2"),
            (102, 1 if order is None else 0 if order.done else 3), (58, why)]))

    def on_event(self, ev: dict) -> None:
        """One per-order event from risk or matching (see the module docstring)."""
        order = self.orders.get(ev["oid"])
        if order is None:
            return
        if self.journal is not None:
            self.journal(["e", ev])
        x = ev["x"]
        if x == "new":
            order.status = "0"
            self._report(order, "0")
            if self.keep_stamps and "ts" in ev and not self.replaying:
                self.acks.append((ev["ts"], self.clock()))
        elif x == "fill":
            q, p = ev["lq"], ev["lp"]
            order.cum += q
            order.notional += q * p
            order.leaves = ev["lv"]
            order.status = "2" if order.leaves == 0 else "1"
            order.done = order.leaves == 0
            self._report(order, "F", last_qty=q, last_px=p)
        elif x in ("cxl", "exp"):
            pend = order.pending if x == "cxl" else None
            order.status, order.leaves, order.done, order.pending = "4", 0, True, None
            if pend is not None:
                self._report(order, "4", clordid=pend["clordid"], orig=order.clordid)
                self.by_clordid[(order.comp, pend["clordid"])] = order
            else:
                self._report(order, "4")
        elif x == "rpl":
            pend = order.pending or {}
            orig = order.clordid
            order.clordid, order.qty, order.price = pend.get("clordid", orig), pend.get(
                "qty", order.qty), pend.get("px", order.price)
            order.leaves, order.pending, order.fixed = ev["lv"], None, ""
            self.by_clordid[(order.comp, order.clordid)] = order
            self._report(order, "5", orig=orig)
        elif x == "rej":
            pend = order.pending
            if pend is not None:  # the matcher refused a cancel/replace: the order stands
                order.pending = None
                self._cancel_reject(order.comp, pend["clordid"], order.clordid, order,
                                    ev.get("why", ""), "F" if pend["k"] == "cxl" else "G")
            else:
                self._reject(order, ev.get("why", "rejected"))

    def tick(self) -> None:
        for session in list(self.live.values()):
            session.tick()

    def status(self) -> dict:
        return {"sessions": sorted(self.live), "orders": len(self.orders), **self.counts}

