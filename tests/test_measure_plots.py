"""Latency plots: titles, axis labels with the unit the data calls for, percentile markers where
the recorder puts them, the spectrum's percentile ticks, and the overlay's ratio table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from labsupport.measure import (  # noqa: E402
    LatencyRecorder,
    plot_histogram,
    plot_overlay,
    plot_percentile_spectrum,
)

SEED = 11


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lognormal_rec(name: str, median_ns: float, n: int = 5000, seed: int = SEED) -> LatencyRecorder:
    rng = np.random.default_rng(seed)
    values = median_ns * rng.lognormal(0.0, 0.5, n)
    return LatencyRecorder.from_array(name, values.astype(np.int64))


def marker_x(ax, label: str) -> float:
    """The x position of the vertical marker whose legend label starts with ``label =``."""
    lines = [ln for ln in ax.get_lines() if ln.get_label().startswith(f"{label} =")]
    assert len(lines) == 1, [ln.get_label() for ln in ax.get_lines()]
    xs = lines[0].get_xdata()
    assert xs[0] == xs[1]  # vertical
    return float(xs[0])


@pytest.mark.parametrize(
    ("median_ns", "unit", "div"),
    [(300.0, "ns", 1.0), (40_000.0, "µs", 1e3), (25_000_000.0, "ms", 1e6)],
)
def test_histogram_unit_labels_and_markers(median_ns, unit, div):
    rec = lognormal_rec("get", median_ns)
    ax = plot_histogram(rec)
    assert ax.get_xlabel() == f"latency ({unit})"
    assert ax.get_ylabel() == "count"
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "get: 5,000 samples"
    for label, p in (("p50", 50), ("p99", 99), ("p99.9", 99.9)):
        assert marker_x(ax, label) == pytest.approx(float(rec.percentile(p)) / div)
    # The markers' labels carry the value with its unit, for the legend.
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3 and all(t.endswith(f" {unit}") for t in labels)


def test_histogram_bins_are_log_spaced_and_keep_every_sample():
    values = np.concatenate([[0, 0], np.arange(1, 2001) * 1000])  # two zero-length samples
    rec = LatencyRecorder.from_array("mixed", values)
    ax = plot_histogram(rec, bins=40, title="custom")
    assert ax.get_title() == "custom"
    bars = ax.patches
    assert len(bars) == 40
    assert sum(b.get_height() for b in bars) == rec.count  # zeros land in the first bin
    lefts = np.array([b.get_x() for b in bars])
    ratios = lefts[1:] / lefts[:-1]
    assert np.allclose(ratios, ratios[0])  # equal ratios: log spacing
    assert ratios[0] > 1.1


def test_histogram_draws_on_given_axes_and_rejects_empty():
    fig, (ax1, ax2) = plt.subplots(1, 2)
    rec = lognormal_rec("a", 5000)
    assert plot_histogram(rec, ax=ax2) is ax2
    assert ax1.get_title() == "" and not ax1.patches
    with pytest.raises(ValueError, match="no samples"):
        plot_histogram(LatencyRecorder("empty"))


def test_spectrum_ticks_lines_and_values():
    # 1..10000 µs uniformly: the latency at percentile p is p% of 10 ms.
    rec = LatencyRecorder.from_array("uniform", np.arange(1, 10001) * 1000)
    other = lognormal_rec("lognormal", 3_000_000, n=500)
    ax = plot_percentile_spectrum([rec, other], title="spectrum")
    assert ax.get_title() == "spectrum"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "percentile"
    assert ax.get_ylabel() == "latency (ms)"
    ticks = dict(zip((t.get_text() for t in ax.get_xticklabels()), ax.get_xticks()))
    assert list(ticks) == ["50%", "90%", "99%", "99.9%", "99.99%"]
    for label, x in (("50%", 2), ("90%", 10), ("99%", 100), ("99.9%", 1000), ("99.99%", 10000)):
        assert ticks[label] == pytest.approx(x)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["uniform", "lognormal"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["uniform", "lognormal"]
    x, y = (np.asarray(a, dtype=float) for a in lines[0].get_data())
    assert np.all(np.diff(y) >= 0)
    # A curve stops at the finest percentile its sample count resolves.
    assert x[-1] == pytest.approx(rec.count)
    assert lines[1].get_xdata()[-1] == pytest.approx(other.count)
    for x_at, expected_ms in ((10, 9.0), (100, 9.9)):
        i = int(np.argmin(np.abs(x - x_at)))
        assert y[i] == pytest.approx(expected_ms, rel=0.01)


def test_spectrum_accepts_one_recorder_and_limits_ticks_to_its_range():
    rec = lognormal_rec("small", 800, n=300)
    ax = plot_percentile_spectrum(rec)
    assert ax.get_ylabel() == "latency (ns)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["50%", "90%", "99%"]
    assert ax.get_title() == "latency by percentile"


def test_overlay_table_and_figure():
    base = lognormal_rec("ours", 50_000)
    slow = LatencyRecorder.from_array("peer", base.values() * 3)
    fig, table = plot_overlay([base, slow], baseline="ours", title="ours vs peer")
    assert isinstance(fig, Figure) and isinstance(table, pd.DataFrame)
    (ax,) = fig.axes
    assert ax.get_title() == "ours vs peer"
    assert ax.get_xlabel() == "latency (µs)" and ax.get_ylabel() == "count"
    assert ax.get_xscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "ours" and legend[2] == "peer"
    assert legend[1].startswith("ours p99 =") and legend[3].startswith("peer p99 =")
    # Both histograms are drawn over the same bin edges.
    polys = ax.patches
    assert len(polys) == 2
    edges = [np.unique(np.round(poly.get_xy()[:, 0], 9)) for poly in polys]
    assert len(edges[0]) == 61 and np.array_equal(edges[0], edges[1])
    assert list(table.index) == ["ours", "peer"]
    assert table.loc["ours", "×p50"] == 1.0 and table.loc["ours", "×p99"] == 1.0
    assert table.loc["peer", "×p50"] == pytest.approx(3.0, rel=1e-3)
    assert table.loc["peer", "count"] == 5000


def test_overlay_without_baseline_has_no_ratio_columns():
    fig, table = plot_overlay([lognormal_rec("a", 1000), lognormal_rec("b", 2000, seed=3)])
    assert not [c for c in table.columns if str(c).startswith("×")]
    assert fig.axes[0].get_title() == "latency: a, b"
    with pytest.raises(ValueError, match="at least one"):
        plot_overlay([])


@pytest.mark.parametrize("values", [[1234], [500, 500, 500], [0, 0, 7]])
def test_degenerate_recorders_still_plot(values):
    rec = LatencyRecorder.from_array("tiny", values)
    ax = plot_histogram(rec)
    assert sum(b.get_height() for b in ax.patches) == len(values)
    assert marker_x(ax, "p50") > 0
    ax = plot_percentile_spectrum(rec)
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "50%"
    fig, table = plot_overlay([rec], baseline="tiny")
    assert table.loc["tiny", "count"] == len(values)


def test_histogram_log_count_axis() -> None:
    import matplotlib.pyplot as plt

    from labsupport.measure import LatencyRecorder, plot_histogram

    rec = LatencyRecorder.from_array("tail", [100] * 10_000 + [5_000_000])
    ax = plot_histogram(rec, log_count=True)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "count (log scale)"
    assert plot_histogram(rec).get_yscale() == "linear"
    plt.close("all")
