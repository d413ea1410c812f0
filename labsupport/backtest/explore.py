"""The notebook's explorers: move the SMA windows or the split point and see the run change.

``sma_explorer`` draws one backtest (equity, drawdown) and its stats for the sliders' windows;
``overfit_view`` picks the best parameters on the first part of a series and shows what they
do on the rest. Both are plain functions returning a figure and a table, so the widget cell only
wires sliders to them, and a test calls them headless.
"""

from __future__ import annotations

import pandas as pd

from .bars import Bars
from .costs import Costs
from .report import plot_equity
from .stats import compute_stats, stats_table
from .strategies import make_strategy
from .sweep import param_sets
from .vector import VectorEngine


def sma_view(bars: Bars, fast: int = 10, slow: int = 30, fee_bps: float = 1.0):
    """(figure, stats table) of sma_cross(fast, slow) on ``bars``; slow <= fast is nudged up."""
    slow = max(slow, fast + 1)
    r = VectorEngine(costs=Costs(fee_bps=fee_bps)).run(make_strategy("sma_cross", {"fast": fast, "slow": slow}), bars)
    return plot_equity(r), stats_table(compute_stats(r))


def sma_explorer(bars: Bars):
    """Sliders for fast, slow and fees over :func:`sma_view`."""
    import ipywidgets as w
    from IPython.display import display

    out = w.Output()

    def show(fast: int, slow: int, fee_bps: float) -> None:
        fig, table = sma_view(bars, fast, slow, fee_bps)
        out.clear_output(wait=True)
        with out:
            display(fig, table)

    ui = w.interactive(show, fast=w.IntSlider(10, 2, 100), slow=w.IntSlider(30, 5, 300),
                       fee_bps=w.FloatSlider(value=1.0, min=0.0, max=20.0, step=0.5))
    return w.VBox([ui, out])


def overfit_view(bars: Bars, split: float = 0.5, grid: dict | None = None, metric: str = "sharpe",
                 fee_bps: float = 1.0) -> pd.DataFrame:
    """The top sets by ``metric`` on the in-sample part, with their out-of-sample ``metric``."""
    grid = grid or {"fast": list(range(5, 51, 5)), "slow": list(range(20, 201, 20))}
    cut = int(len(bars) * split)
    parts = {"in_sample": bars.slice(0, cut), "out_of_sample": bars.slice(cut, len(bars))}
    engine = VectorEngine(costs=Costs(fee_bps=fee_bps))
    rows = []
    for p in param_sets("sma_cross", grid):
        s = make_strategy("sma_cross", p)
        rows.append({**p, **{k: compute_stats(engine.run(s, b))[metric] for k, b in parts.items()}})
    df = pd.DataFrame(rows).sort_values("in_sample", ascending=False, na_position="last")
    df["rank_in_sample"] = range(1, len(df) + 1)
    df["rank_out_of_sample"] = df["out_of_sample"].rank(ascending=False, method="min").astype(int)
    return df.reset_index(drop=True)
