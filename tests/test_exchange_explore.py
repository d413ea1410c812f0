"""The notebook helpers: the session walk-through, the order-mix explorer (headless), the
exercise rules, a benchmark smoke run."""

from __future__ import annotations

from labsupport.exchange import explore
from labsupport.exchange.latency import breakdown_table, hop_breakdown


def test_session_walkthrough_asks_for_the_lost_message_and_delivers_in_order() -> None:
    rows = explore.session_walkthrough()
    assert ("out", "35=2|49=LABX|56=FIRM1|34=2|7=2|16=0") in rows
    assert [m for d, m in rows if d == "to app"] == ["35=D ClOrdID o0", "35=D ClOrdID o1"]


def test_mix_run_is_seeded_and_reacts_to_the_mix() -> None:
    a, b = explore.mix_run(300, seed=1), explore.mix_run(300, seed=1)
    assert a == b and a["orders"] + a["cancels"] == 300 and a["trades"] > 0
    no_cancels = explore.mix_run(300, cancel=0.0, seed=1)
    assert no_cancels["cancels"] == 0 and no_cancels["resting"] > a["resting"]


def test_explorer_builds_headless() -> None:
    ui = explore.explorer()
    assert len(ui.children) >= 3


def test_hop_breakdown_table() -> None:
    stamps = [["gateway_in", 0], ["risk_in", 1000], ["risk_out", 3000], ["match_in", 4000],
              ["match_out", 9000]]
    assert hop_breakdown(stamps)["risk_in->risk_out"] == 2000
    table = breakdown_table([(stamps, 10_000)] * 3)
    assert table["matching"]["p50_us"] == 5.0 and table["total"]["p99_us"] == 10.0
    assert table["matching -> gateway, report"]["n"] == 3
