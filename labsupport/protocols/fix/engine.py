"""FIX 4.4 order entry in front of Lab 02's matching engine: D/F/G in, 8/9 out.

What it mirrors: an exchange's FIX order gateway. A client sends NewOrderSingle (D),
OrderCancelRequest (F) and OrderCancelReplaceRequest (G); the gateway validates them, drives
the matching engine (:class:`labsupport.orderbook.MatchingEngine`, used as is) and answers
with ExecutionReports (8) and OrderCancelRejects (9), all encoded with :mod:`.message`.
Session-level messages (logon, heartbeats, resend) are out of scope: this is the application
layer of one session replayed from bytes.

Mapping (FIX 4.4 field values):

* Side(54): ``1`` buy, ``2`` sell. OrdType(40): ``1`` market, ``2`` limit. TimeInForce(59):
  ``3`` IOC, ``4`` FOK, anything else day: a limit with 59=3 is Lab 02's IOC, 59=4 its FOK.
* Price(44) is a decimal with at most two places (Lab 02's cent ticks); more is a reject.
* G's OrderQty(38) is the order's new *total* quantity, as in FIX; Lab 02's modify takes the
  new *remaining* quantity, so the gateway passes ``OrderQty - CumQty``.
* The engine's order ids are ints; the gateway numbers orders itself and keeps the ClOrdID
  chain (a cancel or replace names the previous ClOrdID in OrigClOrdID(41)).
* Execution reports: ExecType(150)/OrdStatus(39) = ``0`` new, ``F`` trade with ``1`` partial
  or ``2`` filled, ``4`` canceled, ``5`` replaced, ``C`` expired (an IOC/market remainder),
  ``8`` rejected (a D the engine refused, reason in Text(58)). A refused F or G is a 9 with
  CxlRejResponseTo(434) ``1``/``2`` and the reason in Text(58).

Every answer carries CumQty(14), LeavesQty(151) and AvgPx(6) computed from the fills seen so
far. :class:`FlowClient` is the other side: it turns ``labsupport.marketdata`` events into D/F/G
messages and reads the 8s back, so a whole generated session can be replayed as FIX.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ...orderbook import BUY, FOK, IOC, LIMIT, MARKET, SELL, MatchingEngine, Recorder, Status
from .message import FixMessage, encode, parse

__all__ = ["FixGateway", "FlowClient", "OrderState"]

_STATUS = {  # engine Status -> (ExecType 150, OrdStatus 39)
    Status.NEW: ("0", "0"),
    Status.PARTIALLY_FILLED: ("F", "1"),
    Status.FILLED: ("F", "2"),
    Status.CANCELED: ("4", "4"),
    Status.EXPIRED: ("C", "C"),
    Status.REPLACED: ("5", None),
}


@dataclass
class OrderState:
    """What the gateway knows about one order (engine id -> this)."""

    cl_ord_id: str
    orig_cl_ord_id: str
    sender: str
    symbol: str
    side: int
    order_qty: int
    price_ticks: int
    cum_qty: int = 0
    notional_ticks: int = 0
    first_cl_ord_id: str = ""  # the ClOrdID of the D that created it (the chain's root)

    @property
    def avg_px(self) -> Decimal:
        if not self.cum_qty:
            return Decimal(0)
        return (Decimal(self.notional_ticks) / self.cum_qty / 100).quantize(Decimal("0.0001"))


def _ticks(price: Decimal | None) -> int | None:
    if price is None:
        return None
    t = price * 100
    return int(t) if t == t.to_integral_value() and t > 0 else None


class FixGateway:
    """Applies D/F/G to a :class:`MatchingEngine` and returns the encoded answers."""

    def __init__(self, engine: MatchingEngine | None = None, *, comp_id: str = "EXCH") -> None:
        self.recorder = Recorder()
        if engine is not None and engine.listener is not None:
            raise ValueError("give the gateway an engine without a listener: it installs its own")
        self.engine = engine or MatchingEngine(pnl=False)
        self.engine.listener = self.recorder  # Lab 02 re-wires every book's fill hook
        self.comp_id = comp_id
        self.orders: dict[int, OrderState] = {}
        self.by_cl_ord_id: dict[str, int] = {}
        self._next_id = 1
        self._exec_id = 0
        self._out_seq = 0

    # --- encoding ------------------------------------------------------------------------------
    def _header(self, msg: FixMessage) -> list[tuple[int, object]]:
        self._out_seq += 1
        fields: list[tuple[int, object]] = [(49, self.comp_id), (56, msg.sender_comp_id or "CLIENT"), (34, self._out_seq)]
        if 52 in msg:
            fields.append((52, msg.get(52)))
        return fields

    def _exec_report(self, msg: FixMessage, o: OrderState, oid: int, exec_type: str, ord_status: str,
                     last_qty: int = 0, last_px: int = 0, leaves: int = 0, text: str | None = None) -> bytes:
        self._exec_id += 1
        f = self._header(msg) + [(37, oid), (11, o.cl_ord_id)]
        if o.orig_cl_ord_id != o.cl_ord_id:
            f.append((41, o.orig_cl_ord_id))
        f += [(17, f"E{self._exec_id}"), (150, exec_type), (39, ord_status), (55, o.symbol),
              (54, "1" if o.side == BUY else "2"), (38, o.order_qty)]
        if o.price_ticks:
            f.append((44, Decimal(o.price_ticks).scaleb(-2)))
        if exec_type == "F":
            f += [(32, last_qty), (31, Decimal(last_px).scaleb(-2))]
        f += [(151, leaves), (14, o.cum_qty), (6, o.avg_px)]
        if text:
            f.append((58, text))
        return encode("8", f)

    def _cancel_reject(self, msg: FixMessage, response_to: str, reason: str) -> bytes:
        oid = self.by_cl_ord_id.get(msg.orig_cl_ord_id or "")
        f = self._header(msg) + [(37, oid if oid is not None else "NONE"), (11, msg.cl_ord_id or ""),
                                 (41, msg.orig_cl_ord_id or ""), (39, "8"), (434, response_to), (102, "1"), (58, reason)]
        return encode("9", f)

    def _drain(self, msg: FixMessage, out: list[bytes]) -> None:
        """Turn the engine's execution reports and rejects for this event into 8s."""
        rec = self.recorder
        for r in rec.executions:
            o = self.orders[r.order_id]
            exec_type, ord_status = _STATUS[r.status]
            if exec_type == "F":
                o.cum_qty += r.last_qty
                o.notional_ticks += r.last_qty * r.last_price_ticks
            if ord_status is None:  # replaced: status is that of the order after the replace
                ord_status = "1" if o.cum_qty else "0"
            out.append(self._exec_report(msg, o, r.order_id, exec_type, ord_status,
                                         r.last_qty, r.last_price_ticks, r.leaves_qty))
        rec.executions.clear()
        rec.rejects.clear()

    # --- the three application messages -------------------------------------------------------
    def on_message(self, msg: FixMessage | bytes) -> list[bytes]:
        """Apply one message; returns the encoded answers (possibly several 8s)."""
        if isinstance(msg, bytes | bytearray):
            msg = parse(bytes(msg))
        kind = msg.msg_type
        seq = msg.msg_seq_num or 0
        out: list[bytes] = []
        if kind == "D":
            self._new_order(msg, seq, out)
        elif kind == "F":
            self._cancel(msg, seq, out)
        elif kind == "G":
            self._replace(msg, seq, out)
        return out

    def _new_order(self, msg: FixMessage, seq: int, out: list[bytes]) -> None:
        side = {"1": BUY, "2": SELL}.get(msg.side or "", 0)
        ord_type = msg.ord_type
        tif = msg.get(59, "0")
        otype = MARKET if ord_type == "1" else {"3": IOC, "4": FOK}.get(tif, LIMIT)
        ticks = 0 if otype == MARKET else _ticks(msg.price)
        qty = msg.order_qty or 0
        oid = self._next_id
        self._next_id += 1
        cl = msg.cl_ord_id or ""
        o = OrderState(cl, cl, msg.sender_comp_id or "", msg.symbol or "", side, qty, ticks or 0, first_cl_ord_id=cl)
        self.orders[oid] = o
        if ticks is None or ord_type not in ("1", "2"):
            out.append(self._exec_report(msg, o, oid, "8", "8", text="invalid price or order type"))
            return
        self.by_cl_ord_id[cl] = oid
        acct = msg.get_int(1, 0) if (msg.account or "").isdigit() else 0
        left = self.engine.add(o.symbol, oid, side, otype, ticks, qty, acct, seq)
        reason = self.recorder.rejects[-1].reason if left < 0 and self.recorder.rejects else "rejected"
        self._drain(msg, out)
        if left < 0:
            out.append(self._exec_report(msg, o, oid, "8", "8", text=reason))

    def _lookup(self, msg: FixMessage, response_to: str, out: list[bytes]) -> int | None:
        oid = self.by_cl_ord_id.get(msg.orig_cl_ord_id or "")
        if oid is None:
            out.append(self._cancel_reject(msg, response_to, "unknown OrigClOrdID"))
        return oid

    def _cancel(self, msg: FixMessage, seq: int, out: list[bytes]) -> None:
        oid = self._lookup(msg, "1", out)
        if oid is None:
            return
        ok = self.engine.cancel(oid, msg.symbol, seq)
        if not ok:
            reason = self.recorder.rejects[-1].reason if self.recorder.rejects else "rejected"
            self.recorder.rejects.clear()
            out.append(self._cancel_reject(msg, "1", reason))
            return
        self._rechain(oid, msg)
        self._drain(msg, out)

    def _replace(self, msg: FixMessage, seq: int, out: list[bytes]) -> None:
        oid = self._lookup(msg, "2", out)
        if oid is None:
            return
        o = self.orders[oid]
        ticks = _ticks(msg.price)
        leaves = (msg.order_qty or 0) - o.cum_qty
        if ticks is None:
            out.append(self._cancel_reject(msg, "2", "invalid price"))
            return
        left = self.engine.modify(oid, ticks, leaves, msg.symbol, seq)
        if left < 0:
            reason = self.recorder.rejects[-1].reason if self.recorder.rejects else "rejected"
            self.recorder.rejects.clear()
            out.append(self._cancel_reject(msg, "2", reason))
            return
        self._rechain(oid, msg)
        o.order_qty, o.price_ticks = msg.order_qty or 0, ticks
        self._drain(msg, out)

    def _rechain(self, oid: int, msg: FixMessage) -> None:
        o = self.orders[oid]
        del self.by_cl_ord_id[o.cl_ord_id]
        o.orig_cl_ord_id, o.cl_ord_id = o.cl_ord_id, msg.cl_ord_id or ""
        self.by_cl_ord_id[o.cl_ord_id] = oid


class FlowClient:
    """Turns ``labsupport.marketdata`` events into FIX D/F/G and follows the answers.

    ClOrdIDs: ``N<order_id>`` for a new order, ``C<seq>`` / ``R<seq>`` for a cancel / replace.
    ``cum`` tracks CumQty per flow order from the 8s it reads (needed for G's total OrderQty).
    """

    def __init__(self, symbols: tuple[str, ...], *, comp_id: str = "CLIENT") -> None:
        self.symbols = symbols
        self.comp_id = comp_id
        self.current: dict[int, str] = {}  # flow order id -> current ClOrdID
        self.side: dict[int, int] = {}
        self.cum: dict[str, int] = {}  # ClOrdID -> CumQty
        self.owner: dict[str, int] = {}  # ClOrdID -> flow order id

    def to_fix(self, row: tuple) -> bytes:
        seq, sym, action, oid, side, otype, price, qty, account = row
        hdr = [(49, self.comp_id), (56, "EXCH"), (34, seq), (52, f"20250115-14:30:{seq % 60:02d}.000")]
        symbol = self.symbols[sym]
        if action == 0:
            cl = f"N{oid}"
            self.current[oid], self.side[oid], self.owner[cl] = cl, side, oid
            f = hdr + [(11, cl), (1, account), (55, symbol), (54, "1" if side == BUY else "2"), (38, qty)]
            if otype == MARKET:
                f.append((40, "1"))
            else:
                f += [(40, "2"), (44, Decimal(price).scaleb(-2))]
                if otype in (IOC, FOK):
                    f.append((59, "3" if otype == IOC else "4"))
            return encode("D", f)
        orig = self.current.get(oid, f"N{oid}")
        s = "1" if self.side.get(oid, BUY) == BUY else "2"
        if action == 1:
            cl = f"C{seq}"
            self.current[oid], self.owner[cl] = cl, oid
            return encode("F", hdr + [(41, orig), (11, cl), (55, symbol), (54, s)])
        cl = f"R{seq}"
        self.current[oid], self.owner[cl] = cl, oid
        total = qty + self.cum.get(orig, 0)
        self.cum[cl] = self.cum.get(orig, 0)
        return encode("G", hdr + [(41, orig), (11, cl), (55, symbol), (54, s), (38, total), (40, "2"),
                                  (44, Decimal(price).scaleb(-2))])

    def on_answer(self, raw: bytes) -> FixMessage:
        m = parse(raw)
        if m.msg_type == "8":
            cl = m.cl_ord_id or ""
            self.cum[cl] = m.get_int(14, 0)
        elif m.msg_type == "9":  # refused: the order keeps its previous ClOrdID
            oid = self.owner.get(m.cl_ord_id or "")
            if oid is not None and self.current.get(oid) == m.cl_ord_id:
                self.current[oid] = m.orig_cl_ord_id or ""
        return m
