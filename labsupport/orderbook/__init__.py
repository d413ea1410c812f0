"""Lab 02: a limit order book and multi-symbol matching engine, with L2/L3 data and PnL.

Public surface (names kept stable for the labs that drive the engine):

- :class:`MatchingEngine`: ``add(symbol, order_id, side, otype, price_ticks, qty, account, seq)``,
  ``cancel(order_id, symbol=None, seq=0)``, ``modify(order_id, price_ticks, qty, symbol=None,
  seq=0)``, ``process(OrderEvent)``, ``process_rows(rows)``, ``process_array(events)``,
  ``l2_snapshot(symbol, depth)``, ``l3(symbol)``, ``best_bid_ask(symbol)``,
  ``position(account, symbol)``, ``pnl()``; ``reject(seq, order_id, reason)`` for the rules a
  subclass adds in front of ``add`` (post-only, self-trade prevention, risk limits).
- Ids: ``order_id`` and ``account`` are :data:`OrderId` / :data:`Account` = ``int | str`` on
  every entry point (a FIX ClOrdID ``"o1"``, an account code ``"acc3"``, or an int), used as
  given and echoed as given in every report and output file.
- :class:`OrderBook`: one symbol's book (``add``, ``cancel``, ``modify``, ``depth``, ``orders``).
- :class:`Listener` / :class:`Recorder`: receive trades, execution reports, rejects, L2 updates.
- Dataclasses: :class:`OrderEvent`, :class:`Trade`, :class:`ExecutionReport`, :class:`Reject`,
  :class:`L2Level`, :class:`L2Snapshot`, :class:`L2Update`, :class:`L3Order`,
  :class:`PositionView`.
- Constants shared with :mod:`labsupport.marketdata`: ``BUY=+1, SELL=-1``, ``LIMIT=0, MARKET=1,
  IOC=2, FOK=3``, ``ADD=0, CANCEL=1, MODIFY=2``, ``PRICE_SCALE=100``; enums :class:`Side`,
  :class:`OrderType`, :class:`Action`, :class:`Status`.
- :class:`ReferenceEngine`: the deliberately naive matcher the tests compare against.
"""

from .book import Level, Order, OrderBook
from .engine import MatchingEngine
from .levels import LADDERS, NO_ASK, NO_BID
from .listener import CountingListener, Listener, Recorder
from .pnl import PositionBook
from .reference import ReferenceEngine
from .types import (
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
    Account,
    Action,
    EventFormatError,
    ExecutionReport,
    L2Level,
    L2Snapshot,
    L2Update,
    L3Order,
    OrderBookError,
    OrderEvent,
    OrderId,
    OrderType,
    PositionView,
    Reject,
    Side,
    Status,
    Trade,
)

__all__ = [
    "ADD", "BUY", "CANCEL", "FOK", "IOC", "LIMIT", "MARKET", "MODIFY", "PRICE_SCALE", "SELL",
    "LADDERS", "NO_ASK", "NO_BID",
    "Account", "Action", "CountingListener", "EventFormatError", "ExecutionReport", "L2Level", "L2Snapshot", "L2Update",
    "L3Order", "Level", "Listener", "MatchingEngine", "Order", "OrderBook", "OrderBookError",
    "OrderEvent", "OrderId", "OrderType", "PositionBook", "PositionView", "Recorder", "ReferenceEngine",
    "Reject", "Side", "Status", "Trade",
]
