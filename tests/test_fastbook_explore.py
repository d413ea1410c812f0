"""The notebook's engine explorer, headless."""

from __future__ import annotations

import pytest

from labsupport.fastbook.explore import compare_engines, explorer


def test_compare_engines_table():
    t = compare_engines(n_events=3000, marketable_x=2.0, n_symbols=2)
    assert list(t.index) == ["python", "numba", "cython"]
    assert t["same_as_python"].all() and (t["trades"] > 0).all()
    assert t["trades"].nunique() == 1 and (t["events_per_s"] > 0).all()


def test_explorer_builds_its_widgets():
    pytest.importorskip("ipywidgets")
    ui = explorer()
    assert [c.description for c in ui.children[:3]] == ["events", "marketable x", "symbols"]
