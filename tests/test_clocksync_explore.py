"""The explorer, plots and benchmark of notebook 15, headless and tiny."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

from labsupport.clocksync import Oscillator, Scenario, bench, explore, plots, run  # noqa: E402


def test_residual_reflects_asymmetry_and_the_sweep_tabulates_it() -> None:
    base = explore.residual(duration_s=20)
    skew = explore.residual(duration_s=20, asymmetry_ns=2000)
    assert abs(base["mean_ns"]) < 100 and -1100 < skew["mean_ns"] < -900
    table = explore.sweep("asymmetry_ns", [0, 2000], duration_s=20)
    assert list(table.index) == [0, 2000] and table.loc[2000, "mean_ns"] == skew["mean_ns"]


def test_show_sync_and_the_explorer_build_headless(capsys) -> None:
    numbers = explore.show_sync(duration_s=10, show=False)
    assert "steady state" in capsys.readouterr().out and numbers["p99_ns"] > 0
    box = explore.sync_explorer()
    assert len(box.children) == 3


def test_plots_draw_offsets_and_allan_curves() -> None:
    rows = run(Scenario(seed=1, duration_s=10, wander_ppb_per_sqrt_s=5.0))
    ax = plots.plot_offsets({"ptp": rows})
    assert len(ax.lines) >= 1 and ax.get_yscale() == "symlog"
    free, disciplined, tau0 = plots.free_and_disciplined_phase(rows, Oscillator(ppm=20.0))
    assert len(free) == len(disciplined) and 0.05 < tau0 < 0.08
    ax = plots.plot_allan({"free": (free, tau0), "disciplined": (disciplined, tau0)})
    assert len(ax.lines) == 2


def test_bench_smoke_writes_its_rows(tmp_path, capsys) -> None:
    out = tmp_path / "clocksync.json"
    assert bench.main(["--duration-s", "10", "--seeds", "1", "--real-s", "0", "--out",
                       str(out)]) == 0
    data = json.loads(out.read_text())
    names = [r["name"] for r in data["rows"]]
    assert "sim ptp hw seed 1" in names and "ntp/ptp p99 seed 1" in names
