"""The generator's tape: trades and quotes read off the latent market, and a fast tick source.

What it imitates: a consolidated tape (trades) and a top-of-book quote feed (NBBO-like) for
the same symbols as the order flow. It is the *model's* view, honest about its limits:

* every marketable order trades once, in full, at the far touch of the latent quote (a buy
  lifts the ask, a sell hits the bid); real fills walk the book and can be partial, and the
  trades an event stream truly produces come from a matching engine (Lab 02);
* a quote is published whenever a symbol's best bid or ask price changes, and after each
  trade (the touch size changed); quoted sizes are drawn (log-normal, in round lots), not
  summed from resting orders.

``generate_ticks`` skips the order flow altogether and draws only trade ticks on the same
kind of latent path (bursty clock, per-symbol random walk, spread), for labs such as the
time-series store that need millions of ticks quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .latent import (
    SymbolGroups,
    bursty_gaps_ns,
    latent_mid,
    spread_ticks,
    touch_from_mid,
    zipf_weights,
)
from .schema import (
    BUY,
    NS_PER_S,
    PRICE_SCALE,
    QUOTE_DTYPE,
    SELL,
    TRADE_DTYPE,
    reference_prices_ticks,
    tickers,
)

if TYPE_CHECKING:
    import pandas as pd

    from .config import OrderFlowConfig


def model_trades(
    events: np.ndarray, marketable: np.ndarray, bid: np.ndarray, ask: np.ndarray
) -> np.ndarray:
    """One trade per marketable order, at the far touch, for the order's full size."""
    pos = np.flatnonzero(marketable)
    ev = events[pos]
    trades = np.empty(len(pos), dtype=TRADE_DTYPE)
    trades["ts_ns"] = ev["ts_ns"]
    trades["symbol"] = ev["symbol"]
    trades["price_ticks"] = np.where(ev["side"] == BUY, ask[pos], bid[pos])
    trades["qty"] = ev["qty"]
    trades["side"] = ev["side"]
    return trades


def model_quotes(
    rng: np.random.Generator,
    events: np.ndarray,
    groups: SymbolGroups,
    bid: np.ndarray,
    ask: np.ndarray,
    marketable: np.ndarray,
    cfg: OrderFlowConfig,
) -> np.ndarray:
    """Quotes at each event where a symbol's touch moved or a trade happened, in time order."""
    moved = groups.previous_differs(bid[groups.order]) | groups.previous_differs(ask[groups.order])
    pos = np.flatnonzero(groups.scatter(moved) | marketable)
    k = len(pos)
    quotes = np.empty(k, dtype=QUOTE_DTYPE)
    quotes["ts_ns"] = events["ts_ns"][pos]
    quotes["symbol"] = events["symbol"][pos]
    quotes["bid_ticks"] = bid[pos]
    quotes["ask_ticks"] = ask[pos]
    lots = cfg.touch_lots_median * np.exp(0.8 * rng.standard_normal((2, k)))
    sizes = (np.maximum(np.rint(lots), 1.0) * cfg.lot_size).astype(np.int32)
    quotes["bid_qty"] = sizes[0]
    quotes["ask_qty"] = sizes[1]
    return quotes


TICK_DTYPE = np.dtype([("ts_ns", "i8"), ("symbol", "u2"), ("price", "f8"), ("size", "i4")])


def generate_ticks(
    n: int,
    n_symbols: int = 4,
    seed: int = 0,
    *,
    start_ts_ns: int | None = None,
    rate_per_s: float = 2_000.0,
    daily_vol: float = 0.02,
    as_frame: bool = True,
) -> pd.DataFrame | np.ndarray:
    """``n`` trade ticks (ts_ns, symbol, price in dollars, size) over ``n_symbols`` symbols.

    The trade clock is bursty like the order flow's, each symbol's mid a random walk from
    its reference price, and each trade prints at the bid or the ask (a spread of about one
    basis point, at least a cent) with a round-lot size. Several million ticks a second
    of generation on one core; deterministic in ``seed``.

    Returns a DataFrame (``symbol`` categorical of tickers) or, with ``as_frame=False``, a
    structured array of :data:`TICK_DTYPE` whose ``symbol`` indexes ``tickers(n_symbols)``.
    """
    from .config import OrderFlowConfig
    from .orders import order_sizes

    # Validate through the config so a bad argument gets the same clear message.
    cfg = OrderFlowConfig(n_events=n, n_symbols=n_symbols, seed=seed, mean_rate_per_s=rate_per_s,
                          daily_vol=daily_vol)  # fmt: skip
    start = cfg.start_ts_ns if start_ts_ns is None else start_ts_ns
    r_clock, r_trade, r_tape = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(3)
    )
    gaps, _ = bursty_gaps_ns(r_clock, n, NS_PER_S / rate_per_s, cfg.burst_multiplier,
                             cfg.calm_mean_events, cfg.burst_mean_events)  # fmt: skip
    ts = np.cumsum(gaps) + start
    sym = r_trade.choice(n_symbols, n, p=zipf_weights(n_symbols, cfg.symbol_zipf)).astype(np.uint16)
    side = np.where(r_trade.random(n) < 0.5, BUY, SELL)
    size = order_sizes(r_trade, n, cfg.lot_size, cfg.odd_lot_frac, cfg.lots_alpha, 20)
    p0 = reference_prices_ticks(n_symbols)
    groups = SymbolGroups.of(sym)
    mid = latent_mid(
        r_tape, ts, groups, p0.astype(np.float64), daily_vol / np.sqrt(cfg.session_s) * p0
    )
    spread = spread_ticks(r_tape, groups, np.maximum(np.rint(p0 * cfg.spread_bps * 1e-4), 1.0),
                          cfg.spread_change_prob, cfg.spread_dispersion)  # fmt: skip
    bid, ask = touch_from_mid(mid, spread)
    out = np.empty(n, dtype=TICK_DTYPE)
    out["ts_ns"] = ts
    out["symbol"] = sym
    out["price"] = np.where(side == BUY, ask, bid) / PRICE_SCALE
    out["size"] = size
    if not as_frame:
        return out
    import pandas as pd

    names = tickers(n_symbols)
    return pd.DataFrame(
        {
            "ts_ns": out["ts_ns"],
            "symbol": pd.Categorical.from_codes(out["symbol"].astype(np.int32), categories=names),
            "price": out["price"],
            "size": out["size"],
        }
    )
