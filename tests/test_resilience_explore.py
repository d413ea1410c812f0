"""Lab 14's explorer, pictures and benchmark, headless and tiny."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from labsupport.resilience import (  # noqa: E402
    RunSpec,
    bench,  # noqa: E402
    run,
    run_matrix,
)
from labsupport.resilience import plot as rplot  # noqa: E402
from labsupport.resilience.explore import explore_run, fault_explorer, show_run  # noqa: E402


def test_explorer_default_run_is_clean_and_sabotage_is_caught(capsys):
    assert show_run(seed=1, show=False).ok
    assert "0 violations" in capsys.readouterr().out
    assert not explore_run(seed=1, sabotage="no-journal").ok


def test_explorer_widget_builds_headless():
    box = fault_explorer()
    assert len(box.children) == 3


def test_matrix_frame_and_plots():
    results = list(run_matrix(4, 0, ["crash", "loss"], ["oms", "exchange"]))
    frame = rplot.matrix_frame(results, "runs")
    assert frame.loc["crash", "oms"] == 1 and frame.values.sum() == 4
    ax = rplot.plot_matrix(rplot.matrix_frame(results))
    assert "violation" in ax.get_title()
    ax = rplot.plot_run(run(RunSpec(seed=2, fault="crash", component="oms")))
    assert "crash on oms" in ax.get_title()
    ax = rplot.plot_kill_latency([40_000, 60_000, 90_000], title="kill")
    assert ax.get_title() == "kill"


def test_bench_pieces_at_tiny_size():
    speed = bench.matrix_speed(2)
    assert speed["runs"] == 2 and speed["violating_runs"] == 0 and speed["sim_x_real"] > 0
    assert bench._pcts([1_000_000, 2_000_000])["max_ms"] == 2.0
