"""``generate_order_flow``: a seeded, vectorised stream of order events for N symbols.

What it imitates: the add / cancel / modify messages of a full-depth equity feed such as
NASDAQ TotalView-ITCH, with the statistical shape described in :mod:`.config` (message mix,
heavy-tailed order lifetimes, distance of limit prices from the touch, round-lot sizes,
bursts). It is a model, not a replay: there is no order book inside the generator.

Theory of operation (no Python loop over events anywhere):

1. **New orders.** Draw ``P`` arrivals of *new* orders (resting limit orders and marketable
   orders) on the bursty clock of :func:`.latent.bursty_gaps_ns`, and give each a symbol
   (Zipf activity), a kind (resting limit, market, IOC, FOK, limit through the touch), a side,
   a size and an account (:func:`.orders.draw_new_orders`). Order ids are ``1..P`` in arrival
   order, so they increase with add time and are unique.
2. **Fates.** Each resting limit order independently is cancelled (probability
   ``frac_cancel / frac_resting``) after a log-normal lifetime, and/or modified once
   (probability ``frac_modify / frac_resting``) at a uniform point of that lifetime, or left
   resting (:func:`.orders.draw_fates`). That gives the follow-up events and their times,
   each strictly after its add.
3. **Merge.** Concatenate new orders, modifies and cancels (in that order) and sort by time
   with a stable sort: at equal timestamps an add precedes its modify, which precedes its
   cancel. Keep the first ``n_events``; ``P`` is sized with a margin so that all of them lie
   before the last new order (otherwise the tail would be all follow-ups), and is enlarged and
   redrawn in the rare case it was not enough.
4. **Prices.** On the merged timeline, draw the latent mid and spread
   (:mod:`.latent`); the touch at each event prices the adds (at / behind / inside the touch,
   or through the far touch for marketable orders) and the re-pricing modifies (which follow
   the touch the way a pegged order does): :func:`.orders.price_adds`, ``price_modifies``.
5. **Tape.** :mod:`.tape` turns the same touch into trades (each marketable order trades at
   the far touch) and quotes.

Cost: O(n) draws and gathers plus one O(n log n) stable sort of the timestamps; a million
events take about half a second on one core (``python -m labsupport.marketdata.bench``).

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns independent generators for the
clock, the orders, the fates and the tape; each draws fixed-size arrays in a fixed order. The
same seed gives byte-identical arrays on any machine with the same numpy version. (The mid
path uses only correctly rounded arithmetic; ``exp`` and ``**``, whose last bit may differ
between CPU-specific implementations, only feed values that are then floored or rounded to
whole ticks, lots or nanoseconds, where a last-bit difference practically never shows.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import tape
from .config import OrderFlowConfig
from .latent import SymbolGroups, latent_mid, spread_ticks, touch_from_mid
from .orders import K_REST, TYPE_OF_KIND, draw_fates, draw_new_orders, price_adds, price_modifies
from .schema import (
    ADD,
    BUY,
    CANCEL,
    EVENT_DTYPE,
    LIMIT,
    MODIFY,
    reference_prices_ticks,
    tickers,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True, eq=False)
class OrderFlow:
    """A generated stream: the events plus the generator's own tape and latent state.

    ``events``, ``trades`` and ``quotes`` are structured arrays (see :mod:`.schema`).
    ``mid`` is the latent mid (float ticks) of each event's symbol at the event's time and
    ``bid_ticks`` / ``ask_ticks`` the model's touch there, one value per event.

    The trades and quotes are the *generator's model* of the tape: a marketable order is
    assumed to fill in full at the far touch of the latent quote. The trades that this event
    stream really produces come from running it through a matching engine (Lab 02), which
    also rejects cancels of orders that a marketable order already filled.
    """

    config: OrderFlowConfig
    symbols: tuple[str, ...]
    events: np.ndarray
    trades: np.ndarray
    quotes: np.ndarray
    mid: np.ndarray
    bid_ticks: np.ndarray
    ask_ticks: np.ndarray

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"OrderFlow(n_events={len(self.events)}, symbols={self.symbols}, seed={c.seed}, "
            f"trades={len(self.trades)}, quotes={len(self.quotes)})"
        )

    def distance_from_touch(self) -> np.ndarray:
        """Ticks behind the same-side touch of each resting limit add (negative: inside the spread).

        Marketable adds (priced at or through the far touch) are left out.
        """
        from .stats import distance_from_touch

        return distance_from_touch(self.events, self.bid_ticks, self.ask_ticks)

    def events_frame(self) -> pd.DataFrame:
        """Events as a DataFrame: names as categoricals, ``price`` in dollars (NaN if none)."""
        from .io import events_frame

        return events_frame(self)

    def trades_frame(self) -> pd.DataFrame:
        """The model's trades as a DataFrame (``price`` in dollars, ``side`` buy/sell)."""
        from .io import trades_frame

        return trades_frame(self)

    def quotes_frame(self) -> pd.DataFrame:
        """The model's quotes as a DataFrame (``bid`` / ``ask`` in dollars)."""
        from .io import quotes_frame

        return quotes_frame(self)

    def ticks_frame(self) -> pd.DataFrame:
        """Trades as ticks for a time-series store: ts_ns, symbol, price (float $), size."""
        from .io import ticks_frame

        return ticks_frame(self)


def generate_order_flow(cfg: OrderFlowConfig | None = None, /, **overrides: object) -> OrderFlow:
    """Generate the order flow described by ``cfg`` (fields may be overridden by keyword).

    >>> flow = generate_order_flow(OrderFlowConfig(n_events=1_000, n_symbols=2, seed=7))
    >>> len(flow.events), flow.symbols
    (1000, ('ACME', 'BOLT'))
    """
    if cfg is None:
        cfg = OrderFlowConfig(**overrides)  # type: ignore[arg-type]
    elif overrides:
        cfg = dataclasses.replace(cfg, **overrides)  # type: ignore[arg-type]
    # Enough new orders that, with their follow-ups, n events fit before the last of them.
    n_new = int(cfg.n_events * cfg.frac_add * 1.1) + 64
    while True:
        flow = _attempt(cfg, n_new)
        if flow is not None:
            return flow
        n_new = int(n_new * 1.5)


def _attempt(cfg: OrderFlowConfig, n_new: int) -> OrderFlow | None:
    """One try with ``n_new`` new orders; None if they did not yield ``n_events`` events."""
    r_clock, r_order, r_fate, r_tape = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(4)
    )
    n = cfg.n_events
    new = draw_new_orders(r_clock, r_order, cfg, n_new)
    fates = draw_fates(r_fate, cfg, new)

    # -- merge: adds, then modifies, then cancels, stably sorted by time ------------------------
    ts_all = np.concatenate([new.ts, fates.mod_ts, fates.can_ts])
    order = np.argsort(ts_all, kind="stable")
    if len(order) < n or ts_all[order[n - 1]] > new.ts[-1]:
        return None  # the last events would all be follow-ups: draw more new orders
    keep = order[:n]
    n_mod, n_can = len(fates.mod_orders), len(fates.can_orders)
    src = np.concatenate([np.arange(n_new), fates.mod_orders, fates.can_orders])[keep]
    action = np.concatenate([np.full(n_new, ADD, np.uint8), np.full(n_mod, MODIFY, np.uint8),
                             np.full(n_can, CANCEL, np.uint8)])[keep]  # fmt: skip
    ts = ts_all[keep] + cfg.start_ts_ns
    symbol = new.symbol[src]
    side = new.side[src]

    # -- the latent market at each event ---------------------------------------------------------
    p0 = reference_prices_ticks(cfg.n_symbols)
    sigma = cfg.daily_vol / np.sqrt(cfg.session_s) * p0  # ticks per sqrt(second)
    typical_spread = np.maximum(np.rint(p0 * cfg.spread_bps * 1e-4), 1.0)
    groups = SymbolGroups.of(symbol)
    mid = latent_mid(r_tape, ts, groups, p0.astype(np.float64), sigma)
    spread = spread_ticks(r_tape, groups, typical_spread, cfg.spread_change_prob,
                          cfg.spread_dispersion)  # fmt: skip
    bid, ask = touch_from_mid(mid, spread)

    # -- prices and sizes ------------------------------------------------------------------------
    price = np.zeros(n, dtype=np.int64)
    qty = np.zeros(n, dtype=np.int32)
    otype = np.full(n, LIMIT, dtype=np.uint8)
    add_pos = np.flatnonzero(action == ADD)
    # The kept adds are exactly new orders 0..k-1, in order (new orders are time-sorted and
    # the cut is by time), so their attributes are a slice: no gather needed.
    a_src = slice(0, len(add_pos))
    price[add_pos] = price_adds(new, a_src, bid[add_pos], ask[add_pos], cfg)
    qty[add_pos] = new.qty[a_src]
    otype[add_pos] = TYPE_OF_KIND[new.kind[a_src]]
    mpos = np.flatnonzero(action == MODIFY)
    if len(mpos):
        pos_of_add = np.full(n_new, -1, dtype=np.int64)
        pos_of_add[a_src] = add_pos
        ap = pos_of_add[src[mpos]]  # always kept: an add sorts before its modify
        buy = side[mpos] == BUY
        moved = np.where(buy, bid[mpos] - bid[ap], ask[mpos] - ask[ap])
        price[mpos], qty[mpos] = price_modifies(
            fates, keep[mpos] - n_new, buy, price[ap], qty[ap], moved, cfg
        )

    events = np.empty(n, dtype=EVENT_DTYPE)
    events["seq"] = np.arange(1, n + 1, dtype=np.uint64)
    events["ts_ns"] = ts
    events["symbol"] = symbol
    events["action"] = action
    events["order_id"] = src.astype(np.uint64) + 1
    events["side"] = side
    events["type"] = otype
    events["price_ticks"] = price
    events["qty"] = qty
    events["account"] = new.account[src]

    # -- the generator's tape --------------------------------------------------------------------
    marketable = np.zeros(n, dtype=bool)
    marketable[add_pos[new.kind[a_src] != K_REST]] = True
    trades = tape.model_trades(events, marketable, bid, ask)
    quotes = tape.model_quotes(r_tape, events, groups, bid, ask, marketable, cfg)
    return OrderFlow(cfg, tickers(cfg.n_symbols), events, trades, quotes, mid, bid, ask)
