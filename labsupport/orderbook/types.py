"""The vocabulary of the order book: constants, events, trades, reports, rejects, L2/L3 views.

The integer constants are the ones :mod:`labsupport.marketdata` writes into its event arrays
(``BUY=+1, SELL=-1``; ``LIMIT=0, MARKET=1, IOC=2, FOK=3``; ``ADD=0, CANCEL=1, MODIFY=2``),
imported from its schema so a generated flow feeds the engine without translation. The engine's hot path
works on plain ints; the :class:`Side`, :class:`OrderType` and :class:`Action` enums exist for
display and for the edges (CSV, notebook tables).

Everything a caller receives back is a small frozen slotted dataclass named as a noun, with
units in the field names (``price_ticks``, ``qty``). Prices are integer ticks everywhere
inside; the tick is 0.01, so ``PRICE_SCALE = 100`` ticks make one currency unit. Decimal
strings exist only in :mod:`.csvio`.

Order ids and accounts are text in real feeds (a FIX ClOrdID is a string, so is an account
code) and integers in generated flow: both are accepted, as :data:`OrderId` and :data:`Account`
(``int | str``), and the engine uses them as given as dictionary keys. Ids compare as given:
``7`` and ``"7"`` are two different orders (the CSV reader turns a canonical decimal token such
as ``7`` into the int, so inside one file ``7`` always means the same order).

These objects are built only when somebody listens (see :class:`labsupport.orderbook.engine.
Listener`): the matching loop itself allocates nothing but the resting order.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import IntEnum
from fractions import Fraction

# --- constants shared with labsupport.marketdata (one definition, in its schema) ----------
# (re-exported: the rest of the lab imports them from here)
from ..marketdata.schema import (  # noqa: F401
    ADD,
    BUY,
    CANCEL,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    MODIFY,
    PRICE_SCALE,
    SELL,
)


class Side(IntEnum):
    BUY = BUY
    SELL = SELL


class OrderType(IntEnum):
    LIMIT = LIMIT
    MARKET = MARKET
    IOC = IOC
    FOK = FOK


class Action(IntEnum):
    ADD = ADD
    CANCEL = CANCEL
    MODIFY = MODIFY


class Status(IntEnum):
    """Execution-report status of one order after one event (FIX OrdStatus in spirit)."""

    NEW = 0  # accepted and resting, nothing filled yet
    PARTIALLY_FILLED = 1
    FILLED = 2
    CANCELED = 3  # cancelled on request
    EXPIRED = 4  # market/IOC remainder that could not rest
    REPLACED = 5  # modify accepted (fills, if any, follow in their own reports)


# --- reject reasons (exact strings: they appear in rejects.csv and in the tests) -----------
R_DUPLICATE_ID = "duplicate order id"
R_UNKNOWN_ORDER = "unknown order id"
R_NOT_LIVE = "order not live"
R_FOK_UNFILLABLE = "fok not fillable"
R_INVALID_SIDE = "invalid side"
R_INVALID_TYPE = "invalid order type"
R_INVALID_PRICE = "invalid price"
R_INVALID_QTY = "invalid quantity"
R_INVALID_ACTION = "invalid action"
R_UNKNOWN_SYMBOL = "unknown symbol"
R_SYMBOL_MISMATCH = "symbol does not match order"

Symbol = Hashable
OrderId = int | str
"""An order id: an int (generated flow, the benchmark) or a text token (a FIX ClOrdID)."""
Account = int | str
"""An account: an int or a text code (``"acc3"``); 0 is "no account given"."""


def id_sort_key(value: OrderId | Account) -> tuple[bool, OrderId | Account]:
    """Sort key for ids and accounts that may mix ints and text: ints first, each kind in its
    own order (``sorted`` cannot compare an int with a str)."""
    return (isinstance(value, str), value)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One input event: add, cancel or modify. For cancel only seq, symbol, order_id matter;
    for modify, ``price_ticks`` and ``qty`` are the new price and the new remaining quantity."""

    seq: int
    symbol: Symbol
    action: int
    order_id: OrderId
    side: int = BUY
    type: int = LIMIT
    price_ticks: int = 0
    qty: int = 0
    account: Account = 0


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill between an incoming (aggressor) order and a resting one, at the resting price."""

    seq: int
    symbol: Symbol
    price_ticks: int
    qty: int
    aggressor_id: OrderId
    resting_id: OrderId
    aggressor_side: int
    aggressor_account: Account = 0
    resting_account: Account = 0


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What happened to one order because of event ``seq``.

    ``last_qty``/``last_price_ticks`` describe this fill (0 when the report is not a fill);
    ``leaves_qty`` is what still rests afterwards."""

    seq: int
    symbol: Symbol
    order_id: OrderId
    account: Account
    status: Status
    last_qty: int
    last_price_ticks: int
    leaves_qty: int


@dataclass(frozen=True, slots=True)
class Reject:
    """A business reject: the event was well formed but cannot be applied. Not an error."""

    seq: int
    order_id: OrderId
    reason: str


@dataclass(frozen=True, slots=True)
class L2Level:
    """One aggregated price level: price, total resting quantity, number of orders."""

    price_ticks: int
    qty: int
    orders: int


@dataclass(frozen=True, slots=True)
class L2Snapshot:
    """Top-N levels per side, best first."""

    symbol: Symbol
    bids: tuple[L2Level, ...]
    asks: tuple[L2Level, ...]


@dataclass(frozen=True, slots=True)
class L2Update:
    """Incremental depth: the new state of one level after event ``seq`` (qty 0 = level gone)."""

    seq: int
    symbol: Symbol
    side: int
    price_ticks: int
    qty: int
    orders: int


@dataclass(frozen=True, slots=True)
class L3Order:
    """One resting order in the order-by-order (L3) view, in queue order."""

    order_id: OrderId
    side: int
    price_ticks: int
    qty: int
    account: Account


@dataclass(frozen=True, slots=True)
class PositionView:
    """Position and PnL of one account in one symbol; money in ticks x shares (exact)."""

    account: Account
    symbol: Symbol
    position: int
    avg_price_ticks: Fraction
    realized_pnl_ticks: Fraction
    unrealized_pnl_ticks: Fraction
    mark_ticks: int | None
    fees_ticks: Fraction

    @property
    def total_pnl_ticks(self) -> Fraction:
        return self.realized_pnl_ticks + self.unrealized_pnl_ticks


class OrderBookError(Exception):
    """Base of every error this package raises (business rejects are not errors)."""


class EventFormatError(OrderBookError):
    """An input row cannot be parsed (wrong column count, bad number, unknown word).

    Raised by :mod:`.csvio` with the 1-based line number, the field that is wrong (None when
    the row as a whole is, e.g. its field count) and the file name when it is known; the
    message reads ``FILE, line N, field F: what is wrong``."""

    def __init__(self, line: int, message: str, *, field: str | None = None,
                 file: str | None = None) -> None:
        self.line = line
        self.message = message
        self.field = field
        self.file = file
        where = [] if file is None else [str(file)]
        where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}")

    def in_file(self, file: str) -> EventFormatError:
        """The same error, naming the file it was found in."""
        return EventFormatError(self.line, self.message, field=self.field, file=file)
