"""The notebook's explorers: the cleaning rules on a dirty stream, and a run's live view.

:func:`show_rules` cleans a seeded dirty stream with the reference rules at the given
``late_ns`` and ``max_dev_pct`` and draws one symbol's prices, accepted in grey and each reject
marked by its reason, with the counts per reason as the returned table; :func:`rules_explorer`
puts sliders on it. :func:`plot_run` draws a finished run's live view after the fact: consumer
lag per partition over time (source lines published and not yet committed, as a Kafka
consumer group reports lag per partition) and the end-to-end latency histogram (log bins,
p50/p99/p99.9); :func:`stage_table` says which stage the latency went to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..measure import LatencyRecorder, plot_histogram
from .clean import REASONS, DeadLetter, Rules, clean_reference, parse
from .gen import make_ticks
from .pipeline import RunResult

__all__ = ["rule_counts", "show_rules", "rules_explorer", "plot_run", "stage_table"]

_COLORS = {"nonpositive": "tab:purple", "duplicate": "tab:blue", "late": "tab:orange",
           "outlier": "tab:red"}


def rule_counts(late_ms: float = 1000.0, max_dev_pct: float = 10.0, dirt: float = 0.05,
                n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, list, list]:
    """(counts per reason, accepted, rejected) of the reference rules on a seeded stream."""
    lines = make_ticks(n, symbols=3, dirt=dirt, seed=seed)
    acc, rej = clean_reference(enumerate(lines, 2), Rules(int(late_ms * 1e6), max_dev_pct))
    counts = {r: sum(d.reason == r for d in rej) for r in REASONS}
    table = pd.DataFrame([{"accepted": len(acc), **counts}], index=pd.Index([n], name="ticks"))
    return table, acc, rej


def show_rules(late_ms: float = 1000.0, max_dev_pct: float = 10.0, dirt: float = 0.05,
               n: int = 3000, seed: int = 0, symbol: str = "S00") -> pd.DataFrame:
    """Draw ``symbol``'s accepted prices and its rejects by reason; return the counts."""
    import matplotlib.pyplot as plt

    table, acc, rej = rule_counts(late_ms, max_dev_pct, dirt, n, seed)
    fig, ax = plt.subplots(figsize=(9, 3.4))
    mine = [(ln, t) for ln, t in acc if t.symbol == symbol]
    ax.plot([ln for ln, _ in mine], [t.price for _, t in mine], color="0.6", lw=1,
            label="accepted")
    for reason, color in _COLORS.items():
        pts = [(d.line, parse(d.raw.encode())) for d in rej
               if isinstance(d, DeadLetter) and d.reason == reason and d.symbol == symbol]
        pts = [(ln, t.price) for ln, t in pts if t is not None]
        if pts:
            ax.scatter(*zip(*pts), s=14, color=color, label=reason, zorder=3)
    ax.set_title(f"{symbol}: late > {late_ms:g} ms, outlier > {max_dev_pct:g}% from the median of 20")
    ax.set_xlabel("source line")
    ax.set_ylabel("price")
    ax.legend(loc="upper left", fontsize=8, ncol=5)
    fig.tight_layout()
    plt.show()
    return table


def rules_explorer(n: int = 3000):
    """Sliders for the two thresholds and the share of dirty lines; redraws :func:`show_rules`."""
    import ipywidgets as w
    from IPython.display import display

    late = w.FloatLogSlider(value=1000, base=10, min=0, max=4, description="late ms")
    dev = w.FloatSlider(value=10, min=0.5, max=50, step=0.5, description="max dev %")
    dirt = w.FloatSlider(value=0.05, min=0, max=0.3, step=0.01, description="dirt")
    out = w.interactive_output(lambda late, dev, dirt: display(show_rules(late, dev, dirt, n)),
                               {"late": late, "dev": dev, "dirt": dirt})
    return w.VBox([w.HBox([late, dev, dirt]), out])


def plot_run(r: RunResult, title: str = "") -> pd.DataFrame:
    """Lag per partition over time and the latency histogram of a finished run; returns its
    summary."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    lag = r.lag_frame()
    for col in lag.columns:
        a1.plot(lag.index, lag[col], label=f"partition {col[1:]}", lw=1)
    if len(lag.columns):
        a1.legend(fontsize=7, ncol=2)
    a1.set_title(f"consumer lag per partition {title}".strip())
    a1.set_xlabel("time since start (s)")
    a1.set_ylabel("source lines published, not committed")
    lat = r.latencies()
    if lat.size:
        plot_histogram(LatencyRecorder.from_array("end to end", lat), ax=a2,
                       title="source to durable in the store")
    fig.tight_layout()
    plt.show()
    q = np.percentile(lat, [50, 99, 99.9]) / 1e6 if lat.size else [np.nan] * 3
    return pd.DataFrame([{"transport": r.transport, "workers": r.workers, "ticks": r.ticks,
                          "ticks_per_s": round(r.rate), "p50_ms": q[0], "p99_ms": q[1],
                          "p99.9_ms": q[2]}]).set_index("transport").round(2)


def stage_table(r: RunResult) -> pd.DataFrame:
    """Per stage of a tick's way (batching and publish, transport, cleaning, results, commit),
    p50/p99/max in ms: where the end-to-end latency went."""
    return r.stage_table().round(2)
