"""The messages of the trading workflow: small frozen dataclasses, one per FIX-like message.

Application messages (what the components say to each other) are wrapped in the session
frames of :mod:`.session`. Their FIX counterparts, for orientation:

=================  =================================  ====================================
message            FIX                                from -> to
=================  =================================  ====================================
``MarketData``     a market-data snapshot (35=W)      exchange -> feed
``Tick``           incremental refresh (35=X)         feed -> strategy
``Quote``          (internal) the strategy's wish     strategy -> OMS
``NewOrder``       NewOrderSingle (35=D)              OMS -> exchange
``CancelOrder``    OrderCancelRequest (35=F)          OMS -> exchange
``ExecReport``     ExecutionReport (35=8)             exchange -> OMS
``CancelReject``   OrderCancelReject (35=9)           exchange -> OMS
``StatusQuery``    OrderStatusRequest (35=H)          OMS -> exchange (reconciliation)
``StatusReply``    ExecutionReport, ExecType=I        exchange -> OMS
``DropFill``       a drop-copy ExecutionReport        exchange -> drop copy
``FillsSince``     a drop copy's replay request       drop copy -> exchange
``PositionQuery``  RequestForPositions (35=AN)        OMS -> drop copy
``PositionReply``  PositionReport (35=AP)             drop copy -> OMS
``Kill``           OrderMassCancelRequest (35=q)      kill switch -> exchange
``KillAck``        OrderMassCancelReport (35=r)       exchange -> kill switch
``OrderNotice``    (drop copy of acks, for rates)     exchange -> kill switch
``RiskBreach``     (internal) a Lab 06 limit alert    OMS -> kill switch
=================  =================================  ====================================

Every field is an int, a str or a tuple of them, so a message's ``repr`` is stable and the
simulator's trace digest is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarketData", "Tick", "Quote", "NewOrder", "CancelOrder", "ExecReport",
           "CancelReject", "StatusQuery", "StatusReply", "DropFill", "FillsSince",
           "PositionQuery", "PositionReply", "Kill", "KillAck", "OrderNotice", "RiskBreach",
           "APP_TYPES"]


@dataclass(frozen=True, slots=True)
class MarketData:
    mid_ticks: int


@dataclass(frozen=True, slots=True)
class Tick:
    mid_ticks: int


@dataclass(frozen=True, slots=True)
class Quote:
    bid_ticks: int
    ask_ticks: int
    qty: int
    mid_ticks: int


@dataclass(frozen=True, slots=True)
class NewOrder:
    cl_ord_id: str
    side: int
    qty: int
    price_ticks: int
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class CancelOrder:
    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class ExecReport:
    cl_ord_id: str
    status: str  # an orders.py state: new, partially-filled, filled, cancelled, rejected
    cum_qty: int
    exec_id: int = 0  # > 0 on a fill
    last_qty: int = 0
    last_price_ticks: int = 0
    reason: str = ""
    side: int = 0  # set on fills: what an OMS needs to adopt an order it did not place


@dataclass(frozen=True, slots=True)
class CancelReject:
    cl_ord_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class StatusQuery:
    cl_ord_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StatusReply:
    cl_ord_id: str
    status: str  # "unknown" when the exchange never saw it
    fills: tuple[tuple[int, int, int], ...]  # (exec_id, qty, price_ticks)


@dataclass(frozen=True, slots=True)
class DropFill:
    exec_id: int
    cl_ord_id: str
    side: int
    qty: int
    price_ticks: int


@dataclass(frozen=True, slots=True)
class FillsSince:
    exec_id: int


@dataclass(frozen=True, slots=True)
class PositionQuery:
    ref: int


@dataclass(frozen=True, slots=True)
class PositionReply:
    ref: int
    position: int
    fills: int


@dataclass(frozen=True, slots=True)
class Kill:
    kill_id: int
    reason: str
    flatten: bool = False


@dataclass(frozen=True, slots=True)
class KillAck:
    kill_id: int
    cancelled: int


@dataclass(frozen=True, slots=True)
class OrderNotice:
    cl_ord_id: str


@dataclass(frozen=True, slots=True)
class RiskBreach:
    metric: str
    value: str


APP_TYPES = {cls.__name__: cls for cls in (
    MarketData, Tick, Quote, NewOrder, CancelOrder, ExecReport, CancelReject, StatusQuery,
    StatusReply, DropFill, FillsSince, PositionQuery, PositionReply, Kill, KillAck, OrderNotice,
    RiskBreach)}
