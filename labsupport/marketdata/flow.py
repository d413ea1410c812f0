"""``generate_order_flow``: a seeded, vectorised stream of order events for N symbols.

What it imitates: the add / cancel / modify messages of a full-depth equity feed such as
NASDAQ TotalView-ITCH, with the statistical shape described in :mod:`.config` (message mix,
heavy-tailed order lifetimes, distance of limit prices from the touch, round-lot sizes,
bursts). It is a model, not a replay: there is no order book inside the generator.

Theory of operation (no Python loop over events anywhere):

1. **New orders.** Draw ``P`` arrivals of *new* orders (resting limit orders and marketable
   orders) on the bursty clock of :func:`.latent.bursty_gaps_ns`, and give each a symbol
   (Zipf activity), a kind (resting limit, market, IOC, FOK, limit through the touch), a side,
   a size and an account. Order ids are ``1..P`` in arrival order, so they increase with add
   time and are unique.
2. **Fates.** Each resting limit order independently is cancelled (probability
   ``frac_cancel / frac_resting``) after a log-normal lifetime, and/or modified once
   (probability ``frac_modify / frac_resting``) at a uniform point of that lifetime, or left
   resting. That gives the follow-up events and their times, each strictly after its add.
3. **Merge.** Concatenate new orders, modifies and cancels (in that order) and sort by time
   with a stable sort: at equal timestamps an add precedes its modify, which precedes its
   cancel. Keep the first ``n_events``; ``P`` is sized with a margin so that all of them lie
   before the last new order (otherwise the tail would be all follow-ups), and is enlarged and
   redrawn in the rare case it was not enough.
4. **Prices.** On the merged timeline, draw the latent mid and spread
   (:mod:`.latent`); the touch at each event prices the adds (at / behind / inside the touch,
   or through the far touch for marketable orders) and the re-pricing modifies (which follow
   the touch the way a pegged order does).
5. **Tape.** :mod:`.tape` turns the same touch into trades (each marketable order trades at
   the far touch) and quotes.

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns independent generators for the
clock, the orders, the fates and the tape; each draws fixed-size arrays in a fixed order. The
same seed gives byte-identical arrays on any machine with the same numpy version.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import tape
from .config import OrderFlowConfig
from .latent import (
    SymbolGroups,
    bursty_gaps_ns,
    latent_mid,
    spread_ticks,
    touch_from_mid,
    zipf_weights,
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
    NS_PER_S,
    SELL,
    reference_prices_ticks,
    tickers,
)

if TYPE_CHECKING:
    import pandas as pd

# Kinds of new order (internal): the order type plus "resting" vs "through the touch".
K_REST, K_MARKET, K_IOC, K_FOK, K_THROUGH = 0, 1, 2, 3, 4
_TYPE_OF_KIND = np.array([LIMIT, MARKET, IOC, FOK, LIMIT], dtype=np.uint8)


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
        ev = self.events
        buy = ev["side"] == BUY
        bid, ask, px = self.bid_ticks, self.ask_ticks, ev["price_ticks"]
        resting = (ev["action"] == ADD) & (ev["type"] == LIMIT) & np.where(buy, px < ask, px > bid)
        dist = np.where(buy, bid - px, px - ask)
        return dist[resting]

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
    r_clock, r_order, r_fate, r_tape = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(4)
    )
    n, P = cfg.n_events, n_new

    # -- 1. new orders --------------------------------------------------------------------------
    mean_gap_ns = NS_PER_S / (cfg.mean_rate_per_s * cfg.frac_add)
    gaps, _ = bursty_gaps_ns(
        r_clock, P, mean_gap_ns, cfg.burst_multiplier, cfg.calm_mean_events, cfg.burst_mean_events
    )
    new_ts = np.cumsum(gaps)  # ns after start_ts_ns
    sym = r_order.choice(cfg.n_symbols, P, p=zipf_weights(cfg.n_symbols, cfg.symbol_zipf))
    sym = sym.astype(np.uint16)
    kind_p = np.array([cfg.frac_resting, cfg.frac_market, cfg.frac_ioc, cfg.frac_fok,
                       cfg.frac_limit_through]) / cfg.frac_add  # fmt: skip
    kind = np.searchsorted(np.cumsum(kind_p)[:-1], r_order.random(P), side="right").astype(np.int8)
    side = np.where(r_order.random(P) < cfg.buy_frac, BUY, SELL).astype(np.int8)
    qty = order_sizes(r_order, P, cfg.lot_size, cfg.odd_lot_frac, cfg.lots_alpha, cfg.max_lots)
    acct = r_order.choice(cfg.n_accounts, P, p=zipf_weights(cfg.n_accounts, cfg.account_zipf))
    acct = (acct + 1).astype(np.uint16)
    u_place = r_order.random(P)  # inside / at touch / behind
    depth = 1.0 + cfg.depth_scale_ticks * (
        (1.0 - r_order.random(P)) ** (-1.0 / cfg.depth_tail_alpha) - 1.0
    )
    depth = np.minimum(np.floor(depth), cfg.max_depth_ticks).astype(np.int64)
    u_inside = r_order.random(P)
    through = r_order.geometric(cfg.through_p, P).astype(np.int64) - 1

    # -- 2. fates of the resting orders ---------------------------------------------------------
    rest = np.flatnonzero(kind == K_REST)
    m = len(rest)
    cancelled = r_fate.random(m) < cfg.frac_cancel / cfg.frac_resting
    modified = r_fate.random(m) < cfg.frac_modify / cfg.frac_resting
    life = cfg.lifetime_median_s * NS_PER_S * np.exp(cfg.lifetime_sigma * r_fate.standard_normal(m))
    life = np.maximum(np.floor(life), cfg.min_lifetime_ns).astype(np.int64)
    mod_at = np.floor((0.05 + 0.9 * r_fate.random(m)) * life).astype(np.int64)
    np.maximum(mod_at, 1, out=mod_at)  # strictly after the add, strictly before the cancel
    u_modkind = r_fate.random(m)
    u_modsize = r_fate.random(m)
    mod_orders, can_orders = rest[modified], rest[cancelled]

    # -- 3. merge -------------------------------------------------------------------------------
    ts_all = np.concatenate([new_ts, new_ts[mod_orders] + mod_at[modified],
                             new_ts[can_orders] + life[cancelled]])  # fmt: skip
    order = np.argsort(ts_all, kind="stable")
    if len(order) < n or ts_all[order[n - 1]] > new_ts[-1]:
        return None
    keep = order[:n]
    n_mod = len(mod_orders)
    src = np.concatenate([np.arange(P), mod_orders, can_orders])[keep]
    action = np.concatenate([np.full(P, ADD, np.uint8), np.full(n_mod, MODIFY, np.uint8),
                             np.full(len(can_orders), CANCEL, np.uint8)])[keep]  # fmt: skip
    ts = ts_all[keep] + cfg.start_ts_ns
    esym = sym[src]
    eside = side[src]

    # -- 4. the latent market at each event, and prices -----------------------------------------
    p0 = reference_prices_ticks(cfg.n_symbols)
    sigma = cfg.daily_vol / np.sqrt(cfg.session_s) * p0  # ticks per sqrt(second)
    typical_spread = np.maximum(np.rint(p0 * cfg.spread_bps * 1e-4), 1.0)
    groups = SymbolGroups.of(esym)
    mid = latent_mid(r_tape, ts, groups, p0.astype(np.float64), sigma)
    spread = spread_ticks(r_tape, groups, typical_spread, cfg.spread_change_prob,
                          cfg.spread_dispersion)  # fmt: skip
    bid, ask = touch_from_mid(mid, spread)

    price = np.zeros(n, dtype=np.int64)
    eqty = np.zeros(n, dtype=np.int32)
    etype = np.full(n, LIMIT, dtype=np.uint8)

    add_pos = np.flatnonzero(action == ADD)
    a_src = src[add_pos]
    a_kind, a_buy = kind[a_src], side[a_src] == BUY
    b, a = bid[add_pos], ask[add_pos]
    spr = a - b
    u = u_place[a_src]
    inside = (u < cfg.inside_spread_frac) & (spr >= 2)
    behind = np.where(u < cfg.inside_spread_frac + cfg.at_touch_frac, 0, depth[a_src])
    improve = 1 + np.floor(u_inside[a_src] * (spr - 1)).astype(np.int64)
    rest_px = np.where(a_buy, np.where(inside, b + improve, b - behind),
                       np.where(inside, a - improve, a + behind))  # fmt: skip
    t = through[a_src]
    cross_px = np.where(a_buy, a + t, b - t)
    add_px = np.maximum(np.where(a_kind == K_REST, rest_px, cross_px), 1)
    add_px[a_kind == K_MARKET] = 0
    price[add_pos] = add_px
    eqty[add_pos] = qty[a_src]
    etype[add_pos] = _TYPE_OF_KIND[a_kind]

    # Modifies: re-price to follow the touch (a peg), or change size.
    mpos = np.flatnonzero(action == MODIFY)
    if len(mpos):
        j = keep[mpos] - P  # index into the modified subset
        pos_of_add = np.full(P, -1, dtype=np.int64)
        pos_of_add[a_src] = add_pos
        ap = pos_of_add[src[mpos]]  # the add is always kept: it sorts before its modify
        m_buy = eside[mpos] == BUY
        old_px, old_q = price[ap], eqty[ap].astype(np.int64)
        shift = np.where(m_buy, bid[mpos] - bid[ap], ask[mpos] - ask[ap])
        uk = u_modkind[modified][j]
        reprice = uk < cfg.modify_price_frac
        shift = np.where(shift == 0, np.where(uk < cfg.modify_price_frac / 2, -1, 1), shift)
        price[mpos] = np.where(reprice, np.maximum(old_px + shift, 1), old_px)
        us = u_modsize[modified][j]
        dec = (us < cfg.modify_decrease_frac) & (old_q >= 2)
        frac = np.where(dec, us / max(cfg.modify_decrease_frac, 1e-12), 0.0)
        lot = cfg.lot_size
        smaller = np.where(old_q >= 2 * lot, lot * np.maximum(np.floor(old_q / lot * (0.1 + 0.8 * frac)), 1),
                           np.maximum(np.floor(old_q * (0.1 + 0.8 * frac)), 1)).astype(np.int64)  # fmt: skip
        larger = old_q + lot * (1 + np.floor(3 * us)).astype(np.int64)
        eqty[mpos] = np.where(reprice, old_q, np.where(dec, smaller, larger))

    events = np.empty(n, dtype=EVENT_DTYPE)
    events["seq"] = np.arange(1, n + 1, dtype=np.uint64)
    events["ts_ns"] = ts
    events["symbol"] = esym
    events["action"] = action
    events["order_id"] = src.astype(np.uint64) + 1
    events["side"] = eside
    events["type"] = etype
    events["price_ticks"] = price
    events["qty"] = eqty
    events["account"] = acct[src]

    # -- 5. the generator's tape ----------------------------------------------------------------
    marketable = np.zeros(n, dtype=bool)
    marketable[add_pos[a_kind != K_REST]] = True
    trades = tape.model_trades(events, marketable, bid, ask)
    quotes = tape.model_quotes(r_tape, events, groups, bid, ask, marketable, cfg)
    return OrderFlow(cfg, tickers(cfg.n_symbols), events, trades, quotes, mid, bid, ask)


def order_sizes(
    rng: np.random.Generator, n: int, lot: int, odd_frac: float, alpha: float, max_lots: int
) -> np.ndarray:
    """Order sizes (int32 shares): mostly round lots, Pareto(alpha) many of them, some odd lots.

    ``floor(U ** (-1 / alpha))`` lots has P(1 lot) = 1 - 2**-alpha (about 2/3 for alpha 1.6)
    and a power-law tail, capped at ``max_lots``. One uniform both decides "odd lot" (with
    probability ``odd_frac``) and, rescaled, picks the odd size uniformly in 1..lot-1.
    """
    lots = np.minimum(np.floor((1.0 - rng.random(n)) ** (-1.0 / alpha)), max_lots)
    v = rng.random(n)
    odd = (v < odd_frac) & (lot > 1)
    odd_q = 1 + np.floor(v / max(odd_frac, 1e-12) * (lot - 1))
    return np.where(odd, odd_q, lots * lot).astype(np.int32)
