"""Describe a generated flow: a statistics table per symbol and a three-panel picture.

``flow_statistics`` is what one would compute first on a day of real TotalView data to see
whether a model is plausible: the message mix, how far from the touch limit orders are placed,
how big they are, how fast and how bursty the traffic is. Notebook 00 shows it next to
``plot_flow``; the tests use the same table to check the generator against its config.

Computed over the events grouped by symbol (one stable sort), so it stays linear in the number
of events however many symbols there are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .schema import ADD, BUY, CANCEL, FOK, IOC, LIMIT, MARKET, MODIFY, NS_PER_S, PRICE_SCALE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .flow import OrderFlow

RATE_BIN_S = 0.1  # event-rate window for peak rates and the rate plot


def distance_from_touch(ev: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """For each resting limit add in ``ev``: ticks behind its own side's touch (``bid``/``ask``
    at the event), negative when it improves the quote inside the spread. Adds priced at or
    through the far touch are marketable and left out."""
    buy = ev["side"] == BUY
    px = ev["price_ticks"]
    resting = (ev["action"] == ADD) & (ev["type"] == LIMIT) & np.where(buy, px < ask, px > bid)
    return np.where(buy, bid - px, px - ask)[resting]


def _row(ev: np.ndarray, bid: np.ndarray, ask: np.ndarray, span_s: float, lot: int) -> dict:
    n = len(ev)
    action, kind = ev["action"], ev["type"]
    add = action == ADD
    n_add = int(add.sum())
    qty = ev["qty"][add]
    dist = distance_from_touch(ev, bid, ask)
    marketable = add & ((kind != LIMIT) | np.where(ev["side"] == BUY, ev["price_ticks"] >= ask,
                                                   ev["price_ticks"] <= bid))  # fmt: skip
    gaps = np.diff(ev["ts_ns"]).astype(np.float64)
    t_rel = (ev["ts_ns"] - ev["ts_ns"][0]) / NS_PER_S if n else np.empty(0)
    per_bin = np.bincount((t_rel / RATE_BIN_S).astype(np.int64)) if n else np.zeros(1)

    def q(p: float) -> float:
        return float(np.percentile(dist, p)) if len(dist) else float("nan")

    def frac(mask: np.ndarray) -> float:
        return float(mask.sum() / n) if n else float("nan")

    return {
        "events": n,
        "frac_add": frac(add),
        "frac_cancel": frac(action == CANCEL),
        "frac_modify": frac(action == MODIFY),
        "frac_limit": frac(add & (kind == LIMIT)),
        "frac_market": frac(add & (kind == MARKET)),
        "frac_ioc": frac(add & (kind == IOC)),
        "frac_fok": frac(add & (kind == FOK)),
        "frac_marketable": frac(marketable),
        "buy_frac": float((ev["side"][add] == BUY).mean()) if n_add else float("nan"),
        "mean_add_qty": float(qty.mean()) if n_add else float("nan"),
        "round_lot_frac": float((qty % lot == 0).mean()) if n_add else float("nan"),
        "touch_p50_ticks": q(50),
        "touch_p90_ticks": q(90),
        "touch_p99_ticks": q(99),
        "inside_frac": float((dist < 0).mean()) if len(dist) else float("nan"),
        "mean_spread_ticks": float((ask - bid).mean()) if n else float("nan"),
        "rate_per_s": n / span_s if span_s > 0 else float("nan"),
        "peak_rate_per_s": float(per_bin.max()) / RATE_BIN_S,
        "gap_cv": float(gaps.std() / gaps.mean())
        if len(gaps) > 1 and gaps.mean() > 0
        else float("nan"),
    }


def flow_statistics(flow: OrderFlow) -> pd.DataFrame:
    """One row per symbol and an ``ALL`` row: message mix, sizes, distance from touch, rates.

    Fractions are of the row's events; ``touch_p*_ticks`` are percentiles of how many ticks
    behind the same-side touch resting limit adds were placed (negative: inside the spread);
    ``gap_cv`` is the coefficient of variation of inter-arrival times (1 for a Poisson
    process, above 1 when traffic is bursty); ``peak_rate_per_s`` is the busiest 100 ms.
    """
    ev, bid, ask = flow.events, flow.bid_ticks, flow.ask_ticks
    span_s = float(ev["ts_ns"][-1] - ev["ts_ns"][0]) / NS_PER_S if len(ev) > 1 else 0.0
    lot = flow.config.lot_size
    order = np.argsort(ev["symbol"], kind="stable")
    bounds = np.searchsorted(ev["symbol"][order], np.arange(len(flow.symbols) + 1))
    rows, index = [], []
    for s, name in enumerate(flow.symbols):
        sel = order[bounds[s] : bounds[s + 1]]
        rows.append(_row(ev[sel], bid[sel], ask[sel], span_s, lot))
        index.append(name)
    rows.append(_row(ev, bid, ask, span_s, lot))
    index.append("ALL")
    table = pd.DataFrame(rows, index=pd.Index(index, name="symbol"))
    table["trades"] = np.append(
        np.bincount(flow.trades["symbol"], minlength=len(flow.symbols)), len(flow.trades)
    )
    table["quotes"] = np.append(
        np.bincount(flow.quotes["symbol"], minlength=len(flow.symbols)), len(flow.quotes)
    )
    return table


def plot_flow(flow: OrderFlow, symbol: int = 0, max_depth_ticks: int = 40) -> Figure:
    """Three panels for one symbol: price path with quotes and trades; where limit orders go;
    event rate over time (all symbols) showing the bursts. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    if not 0 <= symbol < len(flow.symbols):
        raise ValueError(f"symbol={symbol}: this flow has symbols 0..{len(flow.symbols) - 1}")
    ev = flow.events
    t0 = flow.config.start_ts_ns
    name = flow.symbols[symbol]
    mine = ev["symbol"] == symbol
    fig, (ax_p, ax_d, ax_r) = plt.subplots(3, 1, figsize=(10, 10), constrained_layout=True)

    t_ev = (ev["ts_ns"][mine] - t0) / NS_PER_S
    q = flow.quotes[flow.quotes["symbol"] == symbol]
    tq = (q["ts_ns"] - t0) / NS_PER_S
    ax_p.step(
        tq, q["ask_ticks"] / PRICE_SCALE, where="post", lw=0.7, color="tab:red", label="ask (model)"
    )
    ax_p.step(
        tq,
        q["bid_ticks"] / PRICE_SCALE,
        where="post",
        lw=0.7,
        color="tab:green",
        label="bid (model)",
    )
    ax_p.plot(t_ev, flow.mid[mine] / PRICE_SCALE, lw=0.8, color="black", label="latent mid")
    tr = flow.trades[flow.trades["symbol"] == symbol]
    tt = (tr["ts_ns"] - t0) / NS_PER_S
    buy = tr["side"] == BUY
    ax_p.scatter(
        tt[buy],
        tr["price_ticks"][buy] / PRICE_SCALE,
        s=8,
        marker="^",
        color="tab:blue",
        label="buy trade",
        zorder=3,
    )
    ax_p.scatter(
        tt[~buy],
        tr["price_ticks"][~buy] / PRICE_SCALE,
        s=8,
        marker="v",
        color="tab:orange",
        label="sell trade",
        zorder=3,
    )
    ax_p.set(
        title=f"{name}: latent mid, model quotes and trades",
        xlabel="time since 09:30 (s)",
        ylabel="price ($)",
    )
    ax_p.legend(loc="best", fontsize=8, ncols=3)

    sel = np.flatnonzero(mine)
    dist = distance_from_touch(ev[sel], flow.bid_ticks[sel], flow.ask_ticks[sel])
    bins = np.arange(-5, max_depth_ticks + 2) - 0.5
    ax_d.hist(np.clip(dist, -5, max_depth_ticks), bins=bins, color="tab:blue")
    if len(dist):
        ax_d.set_yscale("log")
    ax_d.set(title=f"{name}: where resting limit orders are placed",
             xlabel=f"ticks behind the same-side touch (negative: inside the spread; last bin {max_depth_ticks}+)",
             ylabel="limit adds (log scale)")  # fmt: skip

    t_all = (ev["ts_ns"] - t0) / NS_PER_S
    per_bin = np.bincount((t_all / RATE_BIN_S).astype(np.int64))
    ax_r.plot(
        np.arange(len(per_bin)) * RATE_BIN_S, per_bin / RATE_BIN_S, lw=0.8, color="tab:purple"
    )
    ax_r.axhline(
        flow.config.mean_rate_per_s, ls="--", color="gray", lw=0.8, label="configured mean rate"
    )
    ax_r.set(title=f"Event rate, all symbols ({RATE_BIN_S * 1000:.0f} ms windows): calm stretches and bursts",
             xlabel="time since 09:30 (s)", ylabel="events per second")  # fmt: skip
    ax_r.legend(loc="upper right", fontsize=8)
    return fig
