"""Notebook 04's explorers, headless: expiry effort against memory held, the glob blow-up."""

from __future__ import annotations

import math

import matplotlib
import pytest

from labsupport.kv import demo, explore

matplotlib.use("Agg")


def test_more_expiry_effort_holds_fewer_stale_keys():
    lazy = explore.show_expiry(ttl_window_ms=1_000, stale_pct=100, sample=1, n_keys=2_000,
                               seconds=1.5)
    eager = explore.show_expiry(ttl_window_ms=1_000, stale_pct=1, sample=50, n_keys=2_000,
                                seconds=1.5)
    assert list(lazy.columns) == ["stale keys held (mean)", "stale keys held (max)",
                                  "MiB held at the end", "expired by the cycle",
                                  "cycle CPU ms (total)"]
    assert eager.iloc[0, 0] < lazy.iloc[0, 0]
    assert eager.iloc[0, 3] == 2_000               # every TTL passed within the run


def test_expiry_summary_reads_the_curve():
    curve = demo.expiry_reclaim(n_keys=500, ttl_window_ms=200, steps=5, persistent=10)
    s = explore.expiry_summary(curve)
    assert s["stale keys held (max)"] == int((curve.keys_held - curve.keys_alive).max())
    assert s["expired by the cycle"] == curve.expired_total.iloc[-1] <= 500


def test_glob_blowup_stops_timing_the_backtracking_matcher_past_its_budget():
    table = explore.glob_blowup(stars=range(1, 20), budget_s=0.01)
    naive = table["backtracking"]
    assert math.isnan(naive.iloc[-1])          # 19 stars would take hours: not attempted
    assert not math.isnan(naive.iloc[0])
    assert table["server (re)"].notna().all() and table["linear (Python)"].notna().all()


def test_the_expiry_explorer_builds_headless():
    pytest.importorskip("ipywidgets")
    box = explore.expiry_explorer(n_keys=500)
    (ttl, stale), (sample, hz) = (row.children for row in box.children[:2])
    assert (ttl.value, stale.value, sample.value, hz.value) == (2_000, 10, 20, 10)


def test_moving_a_slider_redraws_with_the_new_effort(monkeypatch):
    pytest.importorskip("ipywidgets")
    calls = []
    monkeypatch.setattr(explore, "show_expiry", lambda *a: calls.append(a) or "table")
    box = explore.expiry_explorer(n_keys=500)
    stale = box.children[0].children[1]
    assert calls == []                         # the notebook shows the default run above
    stale.value = 40
    assert calls == [(2_000, 40, 20, 10, 500)]
