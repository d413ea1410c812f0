"""Tear sheets: the figures of a run or a sweep, and one standalone HTML file holding them.

The same functions draw in the notebook and into ``report.html``: equity with its drawdown
underneath, a monthly-returns heatmap, the trade list, and for a sweep a parameter heatmap and
the best runs. Figures are plain matplotlib ``Figure`` objects (no pyplot state, so the
command line needs no display). The HTML file embeds every figure as a base64 PNG and needs no network and no
other file: it opens from a mail attachment.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .result import RunResult, trades_csv_frame
from .stats import drawdown, stats_table
from .sweep import best_runs, heatmap_frame


def plot_equity(result: RunResult, fig=None):
    """Equity (top) and drawdown (bottom) per bar."""
    fig = fig or Figure(figsize=(8, 4.5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    t = pd.to_datetime(result.ts_ns, utc=True)
    ax1.plot(t, result.equity, lw=1)
    ax1.set_title(f"{result.strategy} on {result.symbol}: equity")
    ax1.set_ylabel("equity ($)")
    ax2.fill_between(t, drawdown(result.equity) * 100, 0, color="tab:red", alpha=0.5)
    ax2.set_ylabel("drawdown (%)")
    ax2.set_xlabel("time (UTC)")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def monthly_returns(result: RunResult) -> pd.DataFrame:
    """Return of each calendar month (rows: year, columns: month 1-12)."""
    eq = pd.Series(result.equity, index=pd.to_datetime(result.ts_ns, utc=True).tz_localize(None))
    month_end = eq.groupby(eq.index.to_period("M")).last()
    prev = month_end.shift(1)
    prev.iloc[0] = result.cash
    r = month_end / prev - 1.0
    return pd.DataFrame({"year": r.index.year, "month": r.index.month, "ret": r.to_numpy()}).pivot(
        index="year", columns="month", values="ret")


def plot_monthly(result: RunResult, fig=None):
    m = monthly_returns(result)
    fig = fig or Figure(figsize=(8, 1.2 + 0.4 * len(m)))
    ax = fig.subplots()
    lim = float(np.nanmax(np.abs(m.to_numpy()))) or 1e-9
    im = ax.imshow(m.to_numpy() * 100, cmap="RdYlGn", vmin=-lim * 100, vmax=lim * 100, aspect="auto")
    ax.set_xticks(range(len(m.columns)), [str(c) for c in m.columns])
    ax.set_yticks(range(len(m.index)), [str(i) for i in m.index])
    ax.set_xlabel("month")
    ax.set_title("monthly returns (%)")
    for (i, j), v in np.ndenumerate(m.to_numpy()):
        if v == v:
            ax.text(j, i, f"{v:.2%}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="%")
    fig.tight_layout()
    return fig


def plot_param_heatmap(results: pd.DataFrame, x: str, y: str, metric: str = "sharpe", fig=None):
    h = heatmap_frame(results, x, y, metric)
    fig = fig or Figure(figsize=(8, 5))
    ax = fig.subplots()
    im = ax.imshow(h.to_numpy(), cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(h.columns)), [str(c) for c in h.columns], rotation=90)
    ax.set_yticks(range(len(h.index)), [str(i) for i in h.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} by parameters (mean over symbols)")
    fig.colorbar(im, ax=ax, label=metric)
    fig.tight_layout()
    return fig


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _page(title: str, body: list[str]) -> str:
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>")


def run_report_html(results: list[RunResult], stats: list[dict], max_trades: int = 500) -> str:
    body = []
    for r, s in zip(results, stats):
        body += [f"<h2>{html.escape(r.symbol)}: {html.escape(r.strategy)}</h2>",
                 stats_table(s).to_html(), _png(plot_equity(r)), _png(plot_monthly(r)),
                 f"<h3>trades (first {max_trades})</h3>",
                 trades_csv_frame(r.trades).head(max_trades).to_html(index=False, na_rep="")]
    return _page("Backtest report", body)


def sweep_report_html(results: pd.DataFrame, strategy: str, names: list[str], metric: str = "sharpe") -> str:
    body = [f"<p>{len(results)} runs of {html.escape(strategy)} over {results['symbol'].nunique()} symbols.</p>",
            "<h2>best runs</h2>", best_runs(results, metric).to_html(index=False, float_format="%.4g")]
    if len(names) >= 2:
        body.append(_png(plot_param_heatmap(results, names[0], names[1], metric)))
    return _page(f"Sweep report: {strategy}", body)
