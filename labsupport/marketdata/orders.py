"""What each order looks like: new orders, their fates, their prices and sizes.

The pieces of :func:`.flow.generate_order_flow` that decide about individual orders, each a
handful of whole-array numpy operations:

* ``draw_new_orders``: arrival time, symbol, kind, side, size, account of every new order,
  plus the uniforms that will place its price once the touch at its arrival is known;
* ``draw_fates``: for every resting limit order, whether it is cancelled, after what
  lifetime, and whether (and when, and how) it is modified first;
* ``price_adds``: limit prices relative to the touch (inside / at / behind it), marketable
  prices at or through the far touch, 0 for market orders;
* ``price_modifies``: a modify either re-prices by as much as its side's touch moved since
  the add (a pegged order follows the market; one tick when the touch has not moved), or
  changes the size (decrease to 10..90 % keeping whole lots, or increase by 1..3 lots);
* ``order_sizes``: round lots with a Pareto tail, a share of odd lots.

Kinds of new order (internal): ``K_REST`` a limit order meant to rest, ``K_MARKET``,
``K_IOC``, ``K_FOK``, ``K_THROUGH`` a limit order priced at or through the far touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import OrderFlowConfig
from .latent import bursty_gaps_ns, zipf_weights
from .schema import BUY, FOK, IOC, LIMIT, MARKET, NS_PER_S, SELL

K_REST, K_MARKET, K_IOC, K_FOK, K_THROUGH = 0, 1, 2, 3, 4
TYPE_OF_KIND = np.array([LIMIT, MARKET, IOC, FOK, LIMIT], dtype=np.uint8)


@dataclass(frozen=True, slots=True, eq=False)
class NewOrders:
    """Every new order, in arrival order (index + 1 is its order id)."""

    ts: np.ndarray  # int64 ns after start_ts_ns, non-decreasing
    symbol: np.ndarray  # uint16
    kind: np.ndarray  # int8, K_*
    side: np.ndarray  # int8, BUY / SELL
    qty: np.ndarray  # int32 shares
    account: np.ndarray  # uint16, 1..n_accounts
    u_place: np.ndarray  # uniform: inside the spread / at the touch / behind it
    depth: np.ndarray  # int64 ticks behind the touch when behind it
    u_inside: np.ndarray  # uniform: how far inside the spread
    through: np.ndarray  # int64 ticks through the far touch for marketable prices


def draw_new_orders(
    r_clock: np.random.Generator, r_order: np.random.Generator, cfg: OrderFlowConfig, count: int
) -> NewOrders:
    """``count`` new orders on the bursty clock, with their attributes."""
    mean_gap_ns = NS_PER_S / (cfg.mean_rate_per_s * cfg.frac_add)
    gaps, _ = bursty_gaps_ns(r_clock, count, mean_gap_ns, cfg.burst_multiplier,
                             cfg.calm_mean_events, cfg.burst_mean_events)  # fmt: skip
    sym = r_order.choice(cfg.n_symbols, count, p=zipf_weights(cfg.n_symbols, cfg.symbol_zipf))
    kind_p = np.array([cfg.frac_resting, cfg.frac_market, cfg.frac_ioc, cfg.frac_fok,
                       cfg.frac_limit_through]) / cfg.frac_add  # fmt: skip
    kind = np.searchsorted(np.cumsum(kind_p)[:-1], r_order.random(count), side="right")
    side = np.where(r_order.random(count) < cfg.buy_frac, BUY, SELL).astype(np.int8)
    qty = order_sizes(r_order, count, cfg.lot_size, cfg.odd_lot_frac, cfg.lots_alpha, cfg.max_lots)
    acct = r_order.choice(cfg.n_accounts, count, p=zipf_weights(cfg.n_accounts, cfg.account_zipf))
    u_place = r_order.random(count)
    # Pareto tail of the distance behind the touch (Bouchaud et al.: a power law deep in the book)
    pareto = (1.0 - r_order.random(count)) ** (-1.0 / cfg.depth_tail_alpha) - 1.0
    depth = np.minimum(np.floor(1.0 + cfg.depth_scale_ticks * pareto), cfg.max_depth_ticks)
    u_inside = r_order.random(count)
    through = r_order.geometric(cfg.through_p, count).astype(np.int64) - 1
    return NewOrders(
        ts=np.cumsum(gaps),
        symbol=sym.astype(np.uint16),
        kind=kind.astype(np.int8),
        side=side,
        qty=qty,
        account=(acct + 1).astype(np.uint16),
        u_place=u_place,
        depth=depth.astype(np.int64),
        u_inside=u_inside,
        through=through,
    )


@dataclass(frozen=True, slots=True, eq=False)
class Fates:
    """Follow-ups of the resting orders: which are modified / cancelled, and when."""

    mod_orders: np.ndarray  # indices (into NewOrders) of the modified orders
    mod_ts: np.ndarray  # their modify times (ns after start)
    u_modkind: np.ndarray  # per modified order: re-price or resize, and which way
    u_modsize: np.ndarray  # per modified order: decrease or increase, and how much
    can_orders: np.ndarray  # indices of the cancelled orders
    can_ts: np.ndarray  # their cancel times


def draw_fates(r_fate: np.random.Generator, cfg: OrderFlowConfig, new: NewOrders) -> Fates:
    """Independently for each resting order: cancelled? modified? lifetime? (log-normal)."""
    rest = np.flatnonzero(new.kind == K_REST)
    m = len(rest)
    cancelled = r_fate.random(m) < cfg.frac_cancel / cfg.frac_resting
    modified = r_fate.random(m) < cfg.frac_modify / cfg.frac_resting
    life = cfg.lifetime_median_s * NS_PER_S * np.exp(cfg.lifetime_sigma * r_fate.standard_normal(m))
    life = np.maximum(np.floor(life), cfg.min_lifetime_ns).astype(np.int64)
    # the modify lands 5..95 % into the lifetime: strictly after the add, before the cancel
    mod_at = np.maximum(np.floor((0.05 + 0.9 * r_fate.random(m)) * life).astype(np.int64), 1)
    u_modkind = r_fate.random(m)
    u_modsize = r_fate.random(m)
    t_add = new.ts[rest]
    return Fates(
        mod_orders=rest[modified],
        mod_ts=t_add[modified] + mod_at[modified],
        u_modkind=u_modkind[modified],
        u_modsize=u_modsize[modified],
        can_orders=rest[cancelled],
        can_ts=t_add[cancelled] + life[cancelled],
    )


def price_adds(
    new: NewOrders, src: np.ndarray | slice, bid: np.ndarray, ask: np.ndarray, cfg: OrderFlowConfig
) -> np.ndarray:
    """Prices (int64 ticks) of the adds of orders ``src`` (indices or a slice of the new
    orders) arriving when the touch is ``bid`` / ``ask``."""
    kind, buy = new.kind[src], new.side[src] == BUY
    spread = ask - bid
    u = new.u_place[src]
    inside = (u < cfg.inside_spread_frac) & (spread >= 2)  # with a 1-tick spread: join instead
    behind = np.where(u < cfg.inside_spread_frac + cfg.at_touch_frac, 0, new.depth[src])
    improve = 1 + np.floor(new.u_inside[src] * (spread - 1)).astype(np.int64)
    resting = np.where(buy, np.where(inside, bid + improve, bid - behind),
                       np.where(inside, ask - improve, ask + behind))  # fmt: skip
    t = new.through[src]
    crossing = np.where(buy, ask + t, bid - t)
    price = np.maximum(np.where(kind == K_REST, resting, crossing), 1)
    price[kind == K_MARKET] = 0
    return price


def price_modifies(
    fates: Fates,
    j: np.ndarray,
    buy: np.ndarray,
    old_price: np.ndarray,
    old_qty: np.ndarray,
    touch_moved: np.ndarray,
    cfg: OrderFlowConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """New (price, qty) of modifies ``j`` (indices into the fates' modified orders).

    ``touch_moved`` is how many ticks the order's own side of the touch moved since its add.
    """
    uk, us = fates.u_modkind[j], fates.u_modsize[j]
    reprice = uk < cfg.modify_price_frac
    nudge = np.where(uk < cfg.modify_price_frac / 2, -1, 1)
    shift = np.where(touch_moved == 0, nudge, touch_moved)
    price = np.where(reprice, np.maximum(old_price + shift, 1), old_price)
    old_q = old_qty.astype(np.int64)
    lot = cfg.lot_size
    dec = (us < cfg.modify_decrease_frac) & (old_q >= 2)
    keep = 0.1 + 0.8 * np.where(dec, us / max(cfg.modify_decrease_frac, 1e-12), 0.0)
    smaller = np.where(old_q >= 2 * lot, lot * np.maximum(np.floor(old_q / lot * keep), 1),
                       np.maximum(np.floor(old_q * keep), 1)).astype(np.int64)  # fmt: skip
    larger = old_q + lot * (1 + np.floor(3 * us)).astype(np.int64)
    qty = np.where(reprice, old_q, np.where(dec, smaller, larger))
    return price, qty.astype(np.int32)


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
