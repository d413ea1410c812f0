"""The notebook's helpers: the limiter explorer headless, the scenario tables, a tiny benchmark."""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import pytest

from labsupport.gateway import bench, explore, lab
from labsupport.measure import BenchReport


def test_limiter_explorer_builds_headless_and_plots():
    box = explore.limiter_explorer()
    rate, burst, cap = box.children[0].children
    assert (rate.value, burst.value, cap.value) == (5.0, 3, 4.0)
    fig = explore.plot_limiter(rate_per_s=5, burst=3)
    assert "GCRA" in fig.axes[0].get_title() and len(fig.axes[0].lines) == 3
    plt.close("all")


def test_limiter_trace_gcra_equals_bucket_of_burst_plus_one_in_count():
    df = lab.limiter_trace(rate_per_s=5, burst=3, seed=1)
    assert len(df) == 200 and 0 < df.gcra.sum() < 200
    assert abs(int(df.gcra.sum()) - int(df.token_bucket.sum())) <= 2  # float edges only
    smaller = lab.limiter_trace(rate_per_s=5, burst=3, seed=1, bucket_capacity=3)
    assert smaller.token_bucket.sum() < df.gcra.sum()  # the off-by-one shows


def test_hash_remap_table():
    df = lab.hash_remap(n_servers=5, n_keys=5000).set_index("policy")
    assert df.loc["hash(key) % N", "fraction"] > 0.6
    assert abs(df.loc["consistent hash ring", "fraction"] - 0.2) < 0.06


def test_demo_and_break_it_tables():
    demo = lab.demo_requests()
    assert list(demo.backend[:2]) == ["backend-a", "backend-b"]
    assert list(demo["x-cache"][2:4]) == ["MISS", "HIT"]
    assert list(demo.status[5:]) == [201, 201, 201, 429]
    broken = lab.break_it().set_index("backend")
    assert broken.loc["garbage instead of HTTP", "statuses"] == [502, 502, 503]
    assert broken.loc["accepts, never answers", "statuses"] == [504, 504, 503]
    assert set(broken["circuit after"]) == {"open"}


def test_cache_hits_helper_answers_from_cache():
    assert lab.cache_hits(50) == 50


@pytest.mark.slow
@pytest.mark.peer
@pytest.mark.skipif(shutil.which("nginx") is None and shutil.which("nginx", path="/usr/sbin") is None,
                    reason="nginx not installed (apt-get install nginx-light)")
def test_bench_smoke_rows():
    report = BenchReport("gateway")
    bench.run(report, connections=2, duration_s=0.2, open_fraction=0.5, open_loop=False,
              cache=False, log=lambda line: None)
    rows = {r["name"]: r for r in report.rows}
    assert {"direct (one backend)", "gateway", "nginx"} <= set(rows)
    assert all(r["errors"] == 0 and r["completed"] > 0 for r in rows.values())
