"""Latency plots: log-binned histograms, HDR percentile spectra, overlays with a ratio table.

What HdrHistogram's plotter and wrk2's ``--latency`` output show, drawn with matplotlib from
the exact samples of a :class:`LatencyRecorder`.

Theory of operation
- Latencies span orders of magnitude (a 40 µs median with a 300 ms stall), so histograms use
  log-spaced bins on a log x axis: equal widths on screen are equal *ratios*, and the tail is
  visible instead of being one bar at the right edge.
- One unit per figure, chosen by :func:`units.choose_unit` from the data (ns, µs or ms), so the
  axis reads ``latency (µs)`` with numbers of 1-999 where the bulk of the samples is.
- The percentile spectrum puts the percentile p on an x axis of 1/(1-p), log scale, as
  HdrHistogram does: 50% sits at 2, 90% at 10, 99% at 100, 99.9% at 1000, so each "nine" gets
  the same width and the tail, where the surprises are, gets most of the plot. A curve stops at
  the last percentile its sample count can resolve (1/(1-p) <= count).
- Every function draws on a given Axes or makes its own figure and returns it; nothing calls
  ``plt.show()``, so the same code works inline in a notebook and under the Agg backend in tests.
  pyplot is imported on first use: the load generator's child process imports this package and
  should not pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .recorder import LatencyRecorder, summary_table
from .units import choose_unit, fmt_ns

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_histogram", "plot_overlay", "plot_percentile_spectrum"]

#: Percentile markers on histograms: (label, percent, line style).
MARKERS: tuple[tuple[str, float, str], ...] = (
    ("p50", 50.0, "-"),
    ("p99", 99.0, "--"),
    ("p99.9", 99.9, ":"),
)
#: Percentile ticks of the spectrum's 1/(1-p) axis.
SPECTRUM_TICKS: tuple[tuple[float, str], ...] = (
    (50.0, "50%"),
    (90.0, "90%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
    (99.999, "99.999%"),
)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _values(rec: LatencyRecorder) -> np.ndarray:
    if rec.count == 0:
        raise ValueError(f"recorder {rec.name!r} has no samples to plot")
    return rec.values()


def _log_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """``bins + 1`` log-spaced edges covering ``values`` (positive, any unit)."""
    positive = values[values > 0]
    lo = float(positive.min()) if positive.size else 1.0
    hi = float(values.max())
    if hi <= lo:  # all samples equal: a narrow band around them
        lo, hi = lo / 1.1, lo * 1.1
    # Nudge the top edge up so the maximum falls inside the last bin, not on its edge.
    return np.geomspace(lo, hi * (1 + 1e-9), bins + 1)


def plot_histogram(
    rec: LatencyRecorder,
    ax: Axes | None = None,
    title: str | None = None,
    bins: int = 60,
    log_count: bool = False,
) -> Axes:
    """Histogram of ``rec`` with log-spaced bins and p50 / p99 / p99.9 marked; returns the Axes.

    ``log_count`` puts the count axis on a log scale too, so a tail of a few samples among
    millions (a resize, a GC pause) stays visible next to the mode.
    """
    values = _values(rec)
    unit, div = choose_unit(values)
    scaled = values / div
    edges = _log_edges(scaled, bins)
    ax = _new_axes(ax)
    # Zero-duration samples (clock resolution) go into the first bin rather than vanishing
    # from a log axis.
    ax.hist(np.clip(scaled, edges[0], None), bins=edges, color="tab:blue", alpha=0.75)
    ax.set_xscale("log")
    pcts = np.atleast_1d(rec.percentile([p for _, p, _ in MARKERS]))
    for (label, _, style), value_ns in zip(MARKERS, pcts):
        ax.axvline(
            max(value_ns / div, edges[0]),  # a 0 ns percentile sits at the axis' left end
            color="tab:red",
            linestyle=style,
            linewidth=1.2,
            label=f"{label} = {fmt_ns(value_ns, (unit, div))}",
        )
    ax.set_xlabel(f"latency ({unit})")
    if log_count:
        ax.set_yscale("log")
    ax.set_ylabel("count (log scale)" if log_count else "count")
    ax.set_title(title if title is not None else f"{rec.name}: {rec.count:,} samples")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _spectrum_points(values: np.ndarray, points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(x = 1/(1-p), latency at p) for p from 0 up to the finest percentile n samples resolve."""
    n = values.size
    x = np.geomspace(1.0, max(float(n), 1.0 + 1e-9), points)
    p = 100.0 * (1.0 - 1.0 / x)
    # Nearest-rank, the recorder's definition, so the curve passes through its p99 exactly.
    return x, np.percentile(values, p, method="inverted_cdf")


def plot_percentile_spectrum(
    recs: LatencyRecorder | Sequence[LatencyRecorder],
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """HDR-style percentile spectrum: latency against percentile on a 1/(1-p) log axis."""
    if isinstance(recs, LatencyRecorder):
        recs = [recs]
    if not recs:
        raise ValueError("plot_percentile_spectrum needs at least one recorder")
    all_values = [_values(r) for r in recs]
    unit, div = choose_unit(np.concatenate(all_values))
    ax = _new_axes(ax)
    x_max = 1.0
    for rec, values in zip(recs, all_values):
        x, lat = _spectrum_points(values)
        ax.plot(x, np.maximum(lat / div, 1e-3), drawstyle="steps-post", label=rec.name)
        x_max = max(x_max, float(x[-1]))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [(1.0 / (1.0 - p / 100.0), lab) for p, lab in SPECTRUM_TICKS]
    ticks = [(x, lab) for x, lab in ticks if x <= x_max * 1.0001] or ticks[:1]
    ax.set_xticks([x for x, _ in ticks], [lab for _, lab in ticks])
    ax.minorticks_off()  # log-axis minor ticks would carry meaningless 1/(1-p) labels
    ax.set_xlim(1.0, max(x_max, ticks[-1][0]))
    ax.set_xlabel("percentile")
    ax.set_ylabel(f"latency ({unit})")
    ax.set_title(title if title is not None else "latency by percentile")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_overlay(
    recs: Sequence[LatencyRecorder],
    baseline: str | None = None,
    title: str | None = None,
    bins: int = 60,
) -> tuple[Figure, pd.DataFrame]:
    """Overlaid histograms (shared log bins) and ``summary_table(recs, baseline=...)``.

    Each recorder's p99 is marked in its colour. Returns ``(figure, table)``; with a
    ``baseline`` name the table has ratio columns (the baseline's row reads 1.0).
    """
    if not recs:
        raise ValueError("plot_overlay needs at least one recorder")
    all_values = [_values(r) for r in recs]
    unit, div = choose_unit(np.concatenate(all_values))
    edges = _log_edges(np.concatenate(all_values) / div, bins)
    ax = _new_axes(None, figsize=(8.0, 4.5))
    for rec, values in zip(recs, all_values):
        _, _, patches = ax.hist(
            np.clip(values / div, edges[0], None),
            bins=edges,
            histtype="stepfilled",
            alpha=0.35,
            label=rec.name,
        )
        color = patches[0].get_facecolor()[:3]
        p99 = float(rec.percentile(99.0))
        ax.axvline(
            max(p99 / div, edges[0]),
            color=color,
            linestyle="--",
            linewidth=1.2,
            label=f"{rec.name} p99 = {fmt_ns(p99, (unit, div))}",
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"latency ({unit})")
    ax.set_ylabel("count")
    names = ", ".join(r.name for r in recs)
    ax.set_title(title if title is not None else f"latency: {names}")
    ax.legend(loc="upper right", fontsize="small")
    return ax.figure, summary_table(list(recs), baseline=baseline)
