"""The notebook's explorer: the three engines on one generated flow, side by side.

:func:`compare_engines` replays one seeded flow through Lab 02's Python engine and the two
compiled ones (batch path) and returns a table: events per second, trades, rejects, live
orders, and whether the outcome (trades, rejects, depth, PnL) equals the Python engine's.
:func:`explorer` puts it behind sliders (flow size, share of marketable orders, symbols); it is
called once with its defaults so the stored notebook shows a result.
"""

from __future__ import annotations

import time

import pandas as pd

from .bench import fast_backends, generated_flow
from .compare import make_engine, outcome


def compare_engines(n_events: int = 20_000, marketable_x: float = 1.0, n_symbols: int = 4,
                    seed: int = 7) -> pd.DataFrame:
    """One flow, each engine's batch path; a row per engine."""
    base = dict(frac_market=0.012, frac_ioc=0.016, frac_fok=0.002, frac_limit_through=0.010)
    flow = generated_flow(n_events, seed=seed, n_symbols=n_symbols,
                          **{k: v * marketable_x for k, v in base.items()})
    rows, first = [], None
    for kind in ["python", *fast_backends()]:
        eng = make_engine(kind)
        t = time.perf_counter()
        eng.process_array(flow.events, symbols=flow.symbols)
        dt = time.perf_counter() - t
        out = outcome(eng)
        first = out if first is None else first
        rows.append({"engine": kind, "events_per_s": round(n_events / dt),
                     "trades": len(out.trades), "rejects": len(out.rejects),
                     "live_orders": eng.live_order_count, "same_as_python": out == first})
    return pd.DataFrame(rows).set_index("engine")


def explorer():
    """Sliders over :func:`compare_engines` (needs ipywidgets)."""
    import ipywidgets as w

    return w.interactive(
        compare_engines,
        n_events=w.IntSlider(value=20_000, min=2_000, max=200_000, step=2_000,
                             description="events"),
        marketable_x=w.FloatSlider(value=1.0, min=0.5, max=3.0, step=0.5,
                                   description="marketable x"),
        n_symbols=w.IntSlider(value=4, min=1, max=8, description="symbols"),
        seed=w.fixed(7))
