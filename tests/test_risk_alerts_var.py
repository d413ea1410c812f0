"""Alerts (zones, hysteresis, one alert per change), the kill switch, and both VaR methods:
historical VaR against numpy's quantile (and empyrical's, where the peers extra is installed)
on the same window, incremental against from-scratch, and the EWMA recursion."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from labsupport.risk import RiskEngine
from labsupport.risk.alerts import BREACH, NONE, TRANSITIONS, WARN, transition, zone
from labsupport.risk.events import BUY, FILL, MARK, ORDER, Event, parse_price
from labsupport.risk.var import Z95, EwmaVaR, HistoricalVaR, historical_var_scratch


@pytest.mark.parametrize("a, b, want", [
    (0, 100, 0), (69, 100, 0), (70, 100, 1), (79, 100, 1), (80, 100, 2), (99, 100, 2),
    (100, 100, 3), (10**9, 100, 3),
    (699_999, 1_000_000, 0), (700_000, 1_000_000, 1), (799_999, 1_000_000, 1),
    (800_000, 1_000_000, 2), (999_999, 1_000_000, 2), (1_000_000, 1_000_000, 3),
])
def test_zone_boundaries_are_exact(a: int, b: int, want: int) -> None:
    assert zone(a, b) == want


# (state, zone) -> (new state, emitted)
HYSTERESIS = [
    (NONE, 0, NONE, None), (NONE, 1, NONE, None), (NONE, 2, WARN, "warn"),
    (NONE, 3, BREACH, "breach"),  # a jump past 100 %: breach only
    (WARN, 0, NONE, "clear"), (WARN, 1, WARN, None), (WARN, 2, WARN, None),
    (WARN, 3, BREACH, "breach"),
    (BREACH, 0, NONE, "clear"), (BREACH, 1, BREACH, None), (BREACH, 2, BREACH, None),
    (BREACH, 3, BREACH, None),
]


@pytest.mark.parametrize("state, z, new, level", HYSTERESIS)
def test_hysteresis_table(state: int, z: int, new: int, level: str | None) -> None:
    assert TRANSITIONS[state][z] == (new, level)


def test_hysteresis_does_not_flap_on_a_value_hovering_at_the_warn_line() -> None:
    state, levels = NONE, []
    for v in [79, 80, 79, 81, 75, 99, 100, 101, 80, 71, 70, 69, 80, 69]:
        state, level = transition(state, zone(v, 100))
        levels.append(level)
    assert [x for x in levels if x] == ["warn", "breach", "clear", "warn", "clear"]
    assert state == NONE


def _drive(engine: RiskEngine, marks: list[str], qty: int = 100) -> None:
    seq = [0]

    def ev(*args: object, **kw: object) -> None:
        seq[0] += 1
        engine.process(Event(seq[0], seq[0], *args, **kw))

    ev(MARK, symbol="X", price=parse_price("100"))
    ev(ORDER, "a", "X", BUY, qty, parse_price("100"), "o1")
    ev(FILL, "a", "X", BUY, qty, parse_price("100"), "o1")
    for m in marks:
        ev(MARK, symbol="X", price=parse_price(m))


def test_drawdown_alerts_in_order_with_values_and_the_kill_switch() -> None:
    engine = RiskEngine("[defaults]\ndrawdown_limit = 1000\n", clock=lambda: 0)
    # 100 shares: each 1.00 down is 100 of drawdown.
    _drive(engine, ["92.1", "92", "91.5", "92.5", "90", "89", "92.9", "97.1", "95"])
    got = [(a.seq, a.metric, a.level, a.value, a.limit) for a in engine.alerts]
    assert got == [(5, "drawdown", "warn", "800", "1000"),  # 790 nothing, 800: warn
                   (8, "drawdown", "breach", "1000", "1000"),  # 850, 750: nothing
                   (11, "drawdown", "clear", "290", "1000")]  # 1100, 710 nothing, 290 clear
    assert engine.metrics("a").halted
    d = engine.process(Event(99, 99, ORDER, "a", "X", BUY, 1, parse_price("95"), "o2"))
    assert d is not None and (d.accepted, d.reason) == (False, "halted")  # the switch stays on


def test_a_jump_straight_past_the_limit_emits_breach_only() -> None:
    engine = RiskEngine("[defaults]\ndrawdown_limit = 1000\n", clock=lambda: 0)
    _drive(engine, ["50"])
    assert [(a.metric, a.level) for a in engine.alerts if a.metric == "drawdown"] == [
        ("drawdown", "breach")]


def test_var_breach_alerts_but_does_not_halt() -> None:
    engine = RiskEngine("[defaults]\nvar_limit = 50\nvar_window = 3\n", clock=lambda: 0)
    _drive(engine, ["100", "99", "101", "100"])  # equity changes 0, -100, +200, -100
    assert ("var_hist", "breach") in [(a.metric, a.level) for a in engine.alerts]
    assert not engine.metrics("a").halted


def test_gross_exposure_and_margin_utilization_alerts() -> None:
    engine = RiskEngine("[defaults]\ncredit_limit = 10000\nmax_order_notional = 20000\n"
                        "margin_scan_pct = 10\nmargin_utilization_limit = 0.001\n",
                        clock=lambda: 0)
    _drive(engine, ["80", "69"])  # gross 10000 (breach), 8000 (stays), 6900 (clear)
    gross = [(a.seq, a.level, a.value) for a in engine.alerts if a.metric == "gross_exposure"]
    assert gross == [(3, "breach", "10000"), (5, "clear", "6900")]
    # margin 1000 / equity 1e6 = 0.001: at the limit exactly.
    util = [(a.seq, a.level, a.value) for a in engine.alerts if a.metric == "margin_utilization"]
    assert util[0] == (3, "breach", "0.001")


def test_historical_var_equals_numpy_quantile_on_the_same_window() -> None:
    seed = 20261201
    print(f"seed={seed}")
    rng = random.Random(seed)
    for window in (2, 3, 20, 21, 250, 1500):  # 1500: a tail of about 160 values
        h = HistoricalVaR(window)
        values: list[int] = []
        for _ in range(3 * window + 5):
            v = rng.randint(-10**6, 10**6) * rng.choice([1, 1, 1, 50])
            values.append(v)
            h.push(v)
            w = values[-window:]
            assert h.values() == w
            want = max(0.0, -float(np.quantile(np.array(w, dtype=float), 0.05))) if len(w) > 1 \
                else 0.0
            assert h.var100 / 100 == pytest.approx(want, rel=1e-12, abs=1e-9), (window, w)
            assert h.var100 == historical_var_scratch(w)


def test_historical_var_with_ties_and_fewer_than_two_values() -> None:
    h = HistoricalVaR(5)
    assert h.push(-7) == 0  # one change: no VaR yet
    assert h.push(-7) == 700  # q = -7 exactly
    for _ in range(10):
        h.push(3)
    assert h.var100 == 0  # all gains: VaR is floored at 0
    with pytest.raises(ValueError):
        HistoricalVaR(1)


def test_historical_var_equals_empyrical_value_at_risk() -> None:
    empyrical = pytest.importorskip(
        "empyrical", reason="empyrical (the peers extra) is not installed: skipped")
    rng = np.random.default_rng(5)
    print("seed=5")
    window = rng.standard_t(3, size=250).round(6)
    h = HistoricalVaR(250)
    for v in (window * 10**6).round().astype(int).tolist():
        h.push(v)
    want = -float(empyrical.value_at_risk((window * 10**6).round(), cutoff=0.05))
    assert h.var100 / 100 == pytest.approx(max(0.0, want), rel=1e-12)


def test_ewma_recursion_riskmetrics() -> None:
    e = EwmaVaR()
    changes = [300_000_000, -500_000_000, 0, 100_000_000]  # 3, -5, 0, 1 in currency
    sigma2 = 9.0
    assert e.push(changes[0]) == pytest.approx(Z95 * 3.0, rel=1e-15)
    for c in changes[1:]:
        sigma2 = 0.94 * sigma2 + 0.06 * (c / 1e8) ** 2
        assert e.push(c) == pytest.approx(Z95 * math.sqrt(sigma2), rel=1e-15)
    assert Z95 == 1.6448536269514722
