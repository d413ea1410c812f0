"""The coordinated-omission model behind notebook 00's explorer, and the explorer built headless."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from labsupport.measure.explore import (
    StallModel,
    open_loop_latencies,
    record_both,
    show_stall,
    stall_explorer,
)

matplotlib.use("Agg")


def test_open_loop_latency_carries_the_queue_behind_a_stall() -> None:
    lat = open_loop_latencies(np.array([500, 10, 10, 10, 10, 10, 10]), 100)
    assert lat.tolist() == [500, 410, 320, 230, 140, 50, 10]


def test_closed_loop_sees_one_stall_per_period_and_open_loop_many() -> None:
    model = StallModel(service_ns=50_000, stall_every=500, stall_ns=100_000_000,
                       rate_per_s=5_000, requests=20_000)
    closed, opened = record_both(model)
    stalls = model.requests // model.stall_every
    assert int((closed.values() >= 100_000_000).sum()) == stalls
    # after each stall, the requests meant to be sent during it (stall / interval) all wait
    slow = int((opened.values() > 50_000_000).sum())
    assert slow > 200 * stalls
    assert opened.percentile(99.0) > 50_000_000 > closed.percentile(99.0)


def test_model_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        StallModel(stall_every=0).costs()


def test_show_stall_and_the_explorer_build_without_a_browser() -> None:
    table = show_stall(service_us=20, stall_ms=10, stall_every=100, rate_per_s=1_000, requests=2_000)
    assert list(table.index) == ["closed loop", "open loop at 1,000/s"]
    box = stall_explorer()
    sliders = [w for row in box.children[:2] for w in row.children]
    assert [s.description for s in sliders] == ["service µs", "stall ms", "stall every", "rate /s"]
