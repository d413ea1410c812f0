"""``OrderFlowConfig``: every knob of the synthetic order flow, with realistic defaults.

The defaults are round numbers chosen to give the qualitative shape that studies of US equity
full-depth feeds such as NASDAQ TotalView-ITCH describe (Hasbrouck & Saar on fleeting limit
orders, Bouchaud, Mezard & Potters on where limit orders are placed, the SEC's MIDAS market
structure statistics on cancel-to-trade ratios and odd lots); they are not fitted to any
particular day or stock, and every one of them can be changed:

* about half the messages add a resting limit order, about 40 % cancel one and a few percent
  modify one; only a few percent of messages are marketable (they trade at once);
* most resting orders are cancelled, many within a fraction of a second (a log-normal lifetime
  with a heavy right tail: median 0.1 s, mean about 0.7 s);
* limit prices sit mostly at or one or two ticks behind the touch, with a power-law tail deeper
  into the book and a few percent improving the quote inside the spread;
* sizes are mostly round lots of 100 shares (one lot most often, a heavy tail of larger ones),
  with about a tenth odd lots;
* activity comes in bursts: calm stretches alternate with short stretches at many times the
  rate, so inter-arrival times are over-dispersed (coefficient of variation above 1);
* the mid price diffuses at about 2 % a day, the spread is about one basis point (never below
  one tick, so a $10 stock trades one cent wide and a $450 stock a few cents wide).

Time: ``start_ts_ns`` is in nanoseconds since the Unix epoch (UTC); the default is 09:30
New York time on 2025-01-15 (``SESSION_OPEN_NS``). Rates are per second of that clock.

All fractions are fractions of all events in the stream. The stream starts with an empty book
at ``start_ts_ns`` (like the open), so during the first lifetime or so there are fewer cancels
than the steady state; over more than a few seconds of stream the fractions match the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import MAX_SYMBOLS, SESSION_OPEN_NS


class MarketDataError(Exception):
    """Base error of :mod:`labsupport.marketdata`."""


class ConfigError(MarketDataError, ValueError):
    """Raised when an :class:`OrderFlowConfig` field is out of range; the message names it."""


@dataclass(frozen=True, slots=True)
class OrderFlowConfig:
    """Parameters of :func:`generate_order_flow` (frozen, hashable, validated on creation)."""

    n_events: int = 100_000
    n_symbols: int = 4
    seed: int = 0
    start_ts_ns: int = SESSION_OPEN_NS  # ns since the Unix epoch (UTC); default 09:30 New York

    # -- arrivals: a two-state (calm / burst) regime-switching Poisson process -------------------
    mean_rate_per_s: float = 5_000.0  # all symbols together, averaged over calm and burst
    burst_multiplier: float = 20.0  # rate in a burst / rate when calm
    calm_mean_events: float = 4_000.0  # mean length of a calm stretch, in new orders
    burst_mean_events: float = 1_000.0  # mean length of a burst, in new orders
    symbol_zipf: float = 0.8  # activity of symbol k is proportional to (k + 1) ** -symbol_zipf

    # -- the mix of events (fractions of all events) ----------------------------------------------
    frac_cancel: float = 0.40
    frac_modify: float = 0.06
    frac_market: float = 0.012  # market orders (no price)
    frac_ioc: float = 0.016  # immediate-or-cancel, limit price at or through the far touch
    frac_fok: float = 0.002  # fill-or-kill, likewise
    frac_limit_through: float = 0.010  # limit orders priced at or through the far touch
    buy_frac: float = 0.5

    # -- where resting limit orders go (ticks from the same-side touch) ---------------------------
    inside_spread_frac: float = 0.05  # improve the quote (only possible when the spread > 1 tick)
    at_touch_frac: float = 0.40  # join the best bid / ask
    depth_tail_alpha: float = 1.2  # the rest: 1 + Pareto(alpha) * scale ticks behind the touch
    depth_scale_ticks: float = 1.5
    max_depth_ticks: int = 200
    through_p: float = 0.6  # marketable prices go Geometric(p) - 1 ticks through the far touch

    # -- sizes ------------------------------------------------------------------------------------
    lot_size: int = 100
    odd_lot_frac: float = 0.10
    lots_alpha: float = 1.6  # lots = floor(Pareto(alpha)): one lot about 2/3 of the time
    max_lots: int = 100

    # -- lifetimes and modifications --------------------------------------------------------------
    lifetime_median_s: float = 0.1  # log-normal lifetime of a cancelled order
    lifetime_sigma: float = 2.0
    min_lifetime_ns: int = 1_000  # nobody cancels faster than a microsecond after adding
    modify_price_frac: float = 0.5  # a modify re-prices (follows the touch); else changes size
    modify_decrease_frac: float = 0.7  # of size modifies, the share that reduce the size

    # -- the latent price and the quote -----------------------------------------------------------
    daily_vol: float = 0.02  # relative standard deviation of the mid over one session
    session_s: float = 23_400.0  # 6.5 hours
    spread_bps: float = 1.0  # typical quoted spread relative to price (at least one tick)
    spread_change_prob: float = 0.05  # per event of a symbol, the spread is redrawn
    spread_dispersion: float = 0.4  # log-normal sigma of a redrawn spread around the typical one
    touch_lots_median: float = 4.0  # quoted size at the touch, in lots (log-normal)

    # -- who sends orders -------------------------------------------------------------------------
    n_accounts: int = 100
    account_zipf: float = 1.1  # a few market makers send most of the messages

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, rule: str) -> None:
            if not ok:
                raise ConfigError(f"OrderFlowConfig.{field}={getattr(self, field)!r}: {rule}")

        need(self.n_events >= 1, "n_events", "must be at least 1")
        need(1 <= self.n_symbols <= MAX_SYMBOLS, "n_symbols", f"must be in 1..{MAX_SYMBOLS}")
        need(self.seed >= 0, "seed", "must be a non-negative integer")
        need(self.mean_rate_per_s > 0, "mean_rate_per_s", "must be positive")
        need(self.burst_multiplier >= 1, "burst_multiplier", "must be at least 1")
        need(self.calm_mean_events >= 1, "calm_mean_events", "must be at least 1")
        need(self.burst_mean_events >= 1, "burst_mean_events", "must be at least 1")
        for name in ("frac_cancel", "frac_modify", "frac_market", "frac_ioc", "frac_fok",
                     "frac_limit_through", "buy_frac", "inside_spread_frac", "at_touch_frac",
                     "odd_lot_frac", "modify_price_frac", "modify_decrease_frac",
                     "spread_change_prob"):  # fmt: skip
            need(0.0 <= getattr(self, name) <= 1.0, name, "must be a fraction in [0, 1]")
        need(self.frac_resting > 0, "frac_cancel",
             "cancels + modifies + marketable orders leave no room for limit adds")  # fmt: skip
        need(self.frac_cancel <= self.frac_resting, "frac_cancel",
             f"more cancels than resting adds ({self.frac_resting:.3f})")  # fmt: skip
        need(self.frac_modify <= self.frac_resting, "frac_modify",
             f"more modifies than resting adds ({self.frac_resting:.3f})")  # fmt: skip
        need(self.inside_spread_frac + self.at_touch_frac <= 1.0, "at_touch_frac",
             "inside_spread_frac + at_touch_frac must not exceed 1")  # fmt: skip
        need(self.depth_tail_alpha > 0, "depth_tail_alpha", "must be positive")
        need(self.max_depth_ticks >= 1, "max_depth_ticks", "must be at least 1")
        need(0 < self.through_p <= 1, "through_p", "must be in (0, 1]")
        need(1 <= self.lot_size <= 1_000_000, "lot_size", "must be in 1..1e6")
        need(self.lots_alpha > 0, "lots_alpha", "must be positive")
        need(self.max_lots >= 1, "max_lots", "must be at least 1")
        need(self.lifetime_median_s > 0, "lifetime_median_s", "must be positive")
        need(self.lifetime_sigma >= 0, "lifetime_sigma", "must be non-negative")
        need(self.min_lifetime_ns >= 2, "min_lifetime_ns", "must be at least 2 ns")
        need(self.daily_vol >= 0, "daily_vol", "must be non-negative")
        need(self.session_s > 0, "session_s", "must be positive")
        need(self.spread_bps >= 0, "spread_bps", "must be non-negative")
        need(self.touch_lots_median > 0, "touch_lots_median", "must be positive")
        need(1 <= self.n_accounts <= 65_535, "n_accounts", "must be in 1..65535")

    # -- derived quantities -----------------------------------------------------------------------
    @property
    def frac_marketable(self) -> float:
        """Fraction of events that are marketable orders (they trade on arrival)."""
        return self.frac_market + self.frac_ioc + self.frac_fok + self.frac_limit_through

    @property
    def frac_resting(self) -> float:
        """Fraction of events that add a limit order meant to rest in the book."""
        return 1.0 - self.frac_cancel - self.frac_modify - self.frac_marketable

    @property
    def frac_add(self) -> float:
        """Fraction of events with action ADD (resting and marketable orders)."""
        return 1.0 - self.frac_cancel - self.frac_modify
