"""Lab 03's explorers, headless: the rules view counts what the reference rejects; the run view draws."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from labsupport.stream import explore, run_pipeline
from labsupport.stream.gen import write_ticks


def test_rule_counts_follow_the_thresholds() -> None:
    loose, _, _ = explore.rule_counts(late_ms=10_000, max_dev_pct=50, n=1500, seed=2)
    tight, _, _ = explore.rule_counts(late_ms=1, max_dev_pct=0.5, n=1500, seed=2)
    assert int(tight["outlier"].iloc[0]) > int(loose["outlier"].iloc[0])
    assert int(tight["late"].iloc[0]) > int(loose["late"].iloc[0])
    assert int(loose["malformed"].iloc[0]) == int(tight["malformed"].iloc[0]) > 0


def test_show_rules_draws_and_returns_the_counts() -> None:
    table = explore.show_rules(n=800, seed=1)
    assert plt.gcf().axes[0].get_title().startswith("S00: late > 1000 ms")
    assert int(table.sum(axis=1).iloc[0]) == 800
    plt.close("all")
    box = explore.rules_explorer(n=300)
    assert len(box.children) == 2


def test_plot_run_summarises_a_real_run(tmp_path: Path) -> None:
    src = write_ticks(tmp_path / "t.csv", 1500, seed=4)
    r = run_pipeline(src, tmp_path / "db", workers=1, batch=100)
    table = explore.plot_run(r, "zmq")
    assert int(table["ticks"].iloc[0]) == 1500 and table["p99_ms"].iloc[0] > 0
    plt.close("all")
