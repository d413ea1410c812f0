"""The lab's pictures: the fault matrix as a heatmap, one run as a timeline, kill-switch latencies.

- :func:`matrix_frame` / :func:`plot_matrix`: violating runs per (fault, component) cell, the
  table ``simulate`` writes as ``matrix.csv``; a sabotaged matrix lights up where the broken
  mechanism was needed.
- :func:`plot_run`: one run on a time axis, a row per component: faults as shaded spans or
  marks, crashes and restarts, every order the exchange accepted (dots), fills (triangles),
  reconciliations, the kill switch's trigger and the exchange's mass cancel.
- :func:`plot_kill_latency`: the kill switch's trigger-to-last-cancel histogram over seeds,
  with log-spaced bins and p50/p99 marked (:func:`labsupport.measure.plot_histogram`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .scenario import RunResult, summary_rows

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["matrix_frame", "plot_matrix", "plot_run", "plot_kill_latency"]

ROWS = ("nemesis", "strategy", "oms", "exchange", "dropcopy", "kill")
_MARKS = {  # (component, kind) -> matplotlib style
    ("exchange", "accept"): dict(marker=".", color="tab:blue", s=8, label="order accepted"),
    ("exchange", "fill"): dict(marker="^", color="tab:green", s=14, label="fill"),
    ("oms", "reconcile"): dict(marker="D", color="tab:purple", s=30, label="reconcile"),
    ("oms", "restart"): dict(marker="*", color="tab:olive", s=90, label="restart"),
    ("exchange", "restart"): dict(marker="*", color="tab:olive", s=90, label=None),
    ("dropcopy", "restart"): dict(marker="*", color="tab:olive", s=90, label=None),
    ("strategy", "restart"): dict(marker="*", color="tab:olive", s=90, label=None),
    ("kill", "trigger"): dict(marker="X", color="tab:red", s=90, label="kill trigger"),
    ("exchange", "kill"): dict(marker="X", color="darkred", s=90, label="mass cancel"),
    ("dropcopy", "fill"): dict(marker="^", color="tab:green", s=14, label=None),
    ("oms", "fill"): dict(marker="^", color="tab:green", s=14, label=None),
}


def matrix_frame(results: Iterable[RunResult], value: str = "violations") -> pd.DataFrame:
    """Faults x components: violating runs (``value="violations"``) or runs (``"runs"``)."""
    import pandas as pd
    rows = summary_rows(results)
    k = 0 if value == "runs" else 1
    data: dict[str, dict[str, int]] = {}
    for (fault, comp), counts in rows.items():
        data.setdefault(comp, {})[fault] = counts[k]
    return pd.DataFrame(data).fillna(0).astype(int)


def plot_matrix(frame: pd.DataFrame, *, title: str = "Runs with a violation",
                ax: Axes | None = None) -> Axes:
    """The matrix as a heatmap, each cell labelled with its count."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.32 * len(frame) + 1.5))
    vmax = max(1, int(frame.values.max()))
    im = ax.imshow(frame.values, cmap="Reds", vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(frame.columns)), frame.columns)
    ax.set_yticks(range(len(frame.index)), frame.index)
    for i in range(len(frame.index)):
        for j in range(len(frame.columns)):
            ax.text(j, i, str(frame.values[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xlabel("component attacked")
    ax.set_ylabel("fault")
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, label="runs")
    return ax


def plot_run(result: RunResult, *, ax: Axes | None = None, end_ms: float | None = None) -> Axes:
    """One run's faults and recoveries on a timeline (milliseconds of simulated time)."""
    import matplotlib.pyplot as plt
    h = result.history
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    y = {name: i for i, name in enumerate(ROWS)}
    ax.scatter([f[0] / 1e6 for f in h.faults], [y["nemesis"]] * len(h.faults), marker="|",
               s=200, color="black")
    target = h.meta.get("component")
    for e in h.events:  # outages: a crash to its restart, a partition to its heal
        if e.component == "nemesis" and e.kind in ("crash", "partition", "halves", "pause"):
            ends = [x.t_ns for x in h.events if x.component == "nemesis" and x.t_ns > e.t_ns
                    and x.kind in ("restart", "heal")] or [e.t_ns + 50e6]
            if e.kind == "pause":
                ends = [e.t_ns + int(e.fields[0].split()[1]) * 1e6]
            row = y.get(target, 0)
            ax.axvspan(e.t_ns / 1e6, ends[0] / 1e6, ymin=(row + 0.1) / len(ROWS),
                       ymax=(row + 0.9) / len(ROWS), color="orange", alpha=0.35, lw=0)
    seen = set()
    for (comp, kind), style in _MARKS.items():
        ts = [e.t_ns / 1e6 for e in h.of(comp, kind)]
        if not ts:
            continue
        label = style.get("label")
        kw = {k: v for k, v in style.items() if k != "label"}
        ax.scatter(ts, [y[comp]] * len(ts), label=label if label not in seen else None, **kw)
        seen.add(label)
    ax.set_yticks(range(len(ROWS)), ROWS)
    ax.set_ylim(-0.5, len(ROWS) - 0.5)
    ax.set_xlabel("simulated time (ms)")
    if end_ms is not None:
        ax.set_xlim(0, end_ms)
    spec = result.spec
    ax.set_title(f"seed {spec.seed}: {spec.fault} on {spec.component} "
                 f"(orange: {target} down, cut off or paused), "
                 f"{len(result.violations)} violations", fontsize="small")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return ax


def plot_kill_latency(latencies_ns: list[int], *, title: str, ax: Axes | None = None) -> Any:
    """Histogram of trigger-to-last-cancel times with p50/p99/p99.9 marked."""
    from labsupport.measure import LatencyRecorder, plot_histogram
    rec = LatencyRecorder()
    for ns in latencies_ns:
        rec.record(ns)
    return plot_histogram(rec, ax=ax, title=title, bins=30)
