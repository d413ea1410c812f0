"""The book's depth and order mix against throughput: a workload with three knobs and a slider
explorer over it.

The benchmark's flow is one realistic mix; this module makes the mix a parameter, so a learner
can see which knob moves the engine's cost:

- ``depth_levels``: the book starts with that many price levels per side (``per_level`` orders
  of 100 shares each), as in :func:`.bench.depth_rows`;
- ``cancel_pct``: the share of events that cancel a random earlier order (one that a market
  order has already filled is cancelled too: a business reject, as in real flow);
- ``marketable_pct``: the share of events that are market orders of 100 shares, half buys, half
  sells: they take the oldest order at the touch (and the level, when it was its last order);
- everything else is a passive limit order at a uniformly random price among ``2 * depth_levels``
  ticks on its own side, so levels are born and die at every depth and nothing else crosses.

:func:`measure_mix` replays the seeded stream through a fresh engine and reports events per CPU
second of the replaying thread (robust to neighbours on a shared machine), trades, rejects and
the book left at the end; :func:`show_mix` sweeps the depth for one mix and plots it;
:func:`mix_explorer` puts sliders on the knobs.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

from .bench import _rates, depth_rows
from .engine import MatchingEngine
from .levels import LADDERS
from .types import ADD, BUY, CANCEL, LIMIT, MARKET, SELL

MID = 100_000  # ticks; bids below, asks above, as in bench.depth_rows
SWEEP_DEPTHS = (10, 30, 100, 300, 1000)


def mix_rows(depth_levels: int, cancel_pct: float, marketable_pct: float, n_events: int,
             seed: int = 1, per_level: int = 4) -> tuple[list[tuple], list[tuple]]:
    """(prefill, stream) of :meth:`MatchingEngine.process_rows` rows for one mix (see the module
    docstring). Percentages are of the stream's events; the rest are passive limit orders."""
    if depth_levels < 1 or n_events < 0 or per_level < 1:
        raise ValueError("depth_levels and per_level must be >= 1, n_events >= 0")
    if cancel_pct < 0 or marketable_pct < 0 or cancel_pct + marketable_pct > 100:
        raise ValueError("cancel_pct and marketable_pct must be >= 0 and add up to at most 100")
    prefill, _ = depth_rows(depth_levels, 0, seed, per_level)
    rng = random.Random(seed)
    live = [row[3] for row in prefill]
    oid = len(prefill) + 1
    p_market, p_cancel = marketable_pct / 100, (marketable_pct + cancel_pct) / 100
    stream = []
    for seq in range(n_events):
        u = rng.random()
        side = BUY if rng.random() < 0.5 else SELL
        if u < p_market:
            stream.append((seq, 0, ADD, oid, side, MARKET, 0, 100, 2))
            oid += 1
        elif u < p_cancel and live:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]  # O(1) removal of a random element
            stream.append((seq, 0, CANCEL, live.pop(), 0, 0, 0, 0, 0))
        else:
            off = rng.randrange(2 * depth_levels)
            price = MID - 1 - off if side == BUY else MID + 1 + off
            stream.append((seq, 0, ADD, oid, side, LIMIT, price, 100, 1))
            live.append(oid)
            oid += 1
    return prefill, stream


@dataclass(frozen=True, slots=True)
class MixResult:
    """What one replay of a mix measured and left behind."""

    depth_levels: int
    cancel_pct: float
    marketable_pct: float
    ladder: str
    events: int
    ev_per_cpu_s: float
    trades: int
    rejects: int
    bid_levels_end: int
    ask_levels_end: int
    live_orders_end: int


def measure_mix(depth_levels: int = 100, cancel_pct: float = 40.0, marketable_pct: float = 5.0,
                *, ladder: str = "sorted-list", pnl: bool = True, n_events: int = 20_000,
                repeats: int = 3, seed: int = 1) -> MixResult:
    """Replay one mix ``repeats`` times (a fresh, prefilled engine each time); the rate is the
    median events per CPU second of the stream alone (the prefill is not timed)."""
    prefill, stream = mix_rows(depth_levels, cancel_pct, marketable_pct, n_events, seed)
    rates, engine = [], None
    for _ in range(max(1, repeats)):
        engine = MatchingEngine(ladder=ladder, pnl=pnl)
        engine.process_rows(prefill)
        trades0 = engine.trade_count
        rates.append(_rates(lambda engine=engine: engine, stream)[1])
    book = engine.book(0)
    return MixResult(depth_levels, cancel_pct, marketable_pct, ladder, len(stream),
                     statistics.median(rates), engine.trade_count - trades0, engine.reject_count,
                     len(book.bid_levels), len(book.ask_levels), engine.live_order_count)


def sweep_depth(cancel_pct: float = 40.0, marketable_pct: float = 5.0, *,
                depths: tuple[int, ...] = SWEEP_DEPTHS, **kw) -> list[MixResult]:
    """:func:`measure_mix` at each depth, one mix."""
    return [measure_mix(d, cancel_pct, marketable_pct, **kw) for d in depths]


def show_mix(depth_levels: int = 100, cancel_pct: float = 40.0, marketable_pct: float = 5.0,
             ladder: str = "sorted-list", pnl: bool = True, n_events: int = 20_000):
    """Plot events per CPU second against depth for the chosen mix (the chosen depth marked)
    and return the table of the sweep (what the explorer shows)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    depths = tuple(sorted(set(SWEEP_DEPTHS) | {depth_levels}))
    results = sweep_depth(cancel_pct, marketable_pct, depths=depths, ladder=ladder, pnl=pnl,
                          n_events=n_events, repeats=1)
    table = pd.DataFrame([{
        "depth (levels/side)": r.depth_levels, "events per CPU-s": round(r.ev_per_cpu_s),
        "trades": r.trades, "rejects": r.rejects,
        "levels at end (bid/ask)": f"{r.bid_levels_end}/{r.ask_levels_end}",
        "live orders at end": r.live_orders_end} for r in results]).set_index("depth (levels/side)")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(depths, [r.ev_per_cpu_s for r in results], marker="o", label=ladder)
    chosen = next(r for r in results if r.depth_levels == depth_levels)
    ax.scatter([depth_levels], [chosen.ev_per_cpu_s], s=120, facecolors="none",
               edgecolors="tab:red", label=f"depth {depth_levels}")
    ax.set_xscale("log")
    ax.set_xlabel("starting depth (price levels per side, log scale)")
    ax.set_ylabel("events per CPU second")
    ax.set_title(f"{cancel_pct:g} % cancels, {marketable_pct:g} % market orders, "
                 f"{'with' if pnl else 'no'} PnL")
    ax.set_ylim(bottom=0)
    ax.legend()
    plt.show()
    return table


def mix_explorer(n_events: int = 20_000):
    """Sliders for depth, cancels, market orders, the ladder and PnL; each move re-measures."""
    import ipywidgets as w
    from IPython.display import display

    controls = dict(
        depth_levels=w.IntSlider(value=100, min=10, max=2000, step=10, description="depth"),
        cancel_pct=w.FloatSlider(value=40, min=0, max=80, step=5, description="cancel %"),
        marketable_pct=w.FloatSlider(value=5, min=0, max=40, step=1, description="market %"),
        ladder=w.Dropdown(options=sorted(LADDERS), value="sorted-list", description="ladder"),
        pnl=w.Checkbox(value=True, description="PnL"),
    )
    out = w.interactive_output(lambda **kw: display(show_mix(n_events=n_events, **kw)),
                               controls)
    items = list(controls.values())
    return w.VBox([w.HBox(items[:3]), w.HBox(items[3:]), out])
