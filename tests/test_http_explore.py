"""The load explorer of notebook 01, headless: one real open-loop run against a server on
127.0.0.1, its plot and numbers, and the widget built around it."""

from __future__ import annotations

import matplotlib
import pytest
from test_http_server import serve

from labsupport.http.app import demo_app
from labsupport.http.explore import load_explorer, measure_load, show_load

matplotlib.use("Agg")
pytestmark = pytest.mark.timeout(120)


def test_measure_load_sends_at_the_offered_rate_and_shows_the_histogram():
    with serve(demo_app(None)) as r:
        result = measure_load(r.port, connections=2, rate_per_s=200, duration_s=0.5, cpu=None)
        numbers = show_load(r.port, connections=2, rate_per_s=200, duration_s=0.3, cpu=None)
    assert result.mode == "open" and result.connections == 2
    assert sum(result.errors.values()) == 0 and 50 <= result.completed <= 200
    assert numbers["errors"] == 0 and numbers["p50_us"] <= numbers["p99_us"]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="must be positive"):
        measure_load(1, connections=0)


def test_the_explorer_has_its_two_sliders():
    pytest.importorskip("ipywidgets")
    box = load_explorer(1)
    sliders = box.children[0].children
    assert [s.description for s in sliders] == ["connections", "rate /s"]
    assert all(not s.continuous_update for s in sliders)
