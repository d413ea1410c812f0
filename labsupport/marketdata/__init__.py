"""Seeded synthetic market data: order flow, trades, quotes and ticks for every lab.

    from labsupport.marketdata import OrderFlowConfig, generate_order_flow
    flow = generate_order_flow(OrderFlowConfig(n_events=100_000, n_symbols=4, seed=7))
    flow.events          # structured array, time-ordered (see schema.EVENT_DTYPE)
    flow.trades, flow.quotes, flow.mid
    flow.events_frame(); write_events_csv(flow, "events.csv")
    flow_statistics(flow); plot_flow(flow, symbol=0)
    generate_ticks(5_000_000, n_symbols=8, seed=1)   # trade ticks only, for a tick store

The stream imitates the statistics of a full-depth equity feed (NASDAQ TotalView-ITCH):
message mix, order lifetimes, distance of limit prices from the touch, lot sizes, bursts.
Same seed, same bytes, on every machine with the same numpy version. Modules: ``schema``
(codes, dtypes, tickers), ``config``, ``latent`` (clock, mid, spread), ``flow`` (the
generator), ``tape`` (trades, quotes, ticks), ``io`` (frames, CSV, Parquet), ``stats``
(summary table and plots), ``bench`` (generation rate).
"""

from .config import ConfigError, MarketDataError, OrderFlowConfig
from .flow import OrderFlow, generate_order_flow
from .io import (
    CSV_HEADER,
    events_frame,
    quotes_frame,
    read_parquet,
    ticks_frame,
    trades_frame,
    write_events_csv,
    write_parquet,
)
from .schema import (
    ADD,
    BUY,
    CANCEL,
    EVENT_DTYPE,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    MODIFY,
    PRICE_SCALE,
    QUOTE_DTYPE,
    SELL,
    SESSION_OPEN_NS,
    TRADE_DTYPE,
    tickers,
)
from .stats import flow_statistics, plot_flow
from .tape import TICK_DTYPE, generate_ticks

__all__ = [
    "ADD", "BUY", "CANCEL", "CSV_HEADER", "EVENT_DTYPE", "FOK", "IOC", "LIMIT", "MARKET",
    "MODIFY", "PRICE_SCALE", "QUOTE_DTYPE", "SELL", "SESSION_OPEN_NS", "TICK_DTYPE",
    "TRADE_DTYPE", "ConfigError", "MarketDataError", "OrderFlow", "OrderFlowConfig",
    "events_frame", "flow_statistics", "generate_order_flow", "generate_ticks", "quotes_frame",
    "plot_flow", "read_parquet", "ticks_frame", "tickers", "trades_frame", "write_events_csv", "write_parquet",
]  # fmt: skip
