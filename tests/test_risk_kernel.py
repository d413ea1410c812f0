"""The compiled engine (:mod:`labsupport.risk.kernel`) against the Python engine: batches,
chunked batches and one event at a time give the same decisions, alerts (value text
included), metrics (the EWMA to the bit) and touched accounts; the alert buffer drains and the
order-rate rings grow without changing an answer; limits that int64 cannot hold are refused
by name; values that would leave the exact range stop the run at that event, with nothing of
it applied, exactly at the bound and one unit over; and the 128-bit cross-multiplication is
exact."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.risk import LimitsError, RiskEngine, RiskError, make_engine
from labsupport.risk import _nbrisk as nb
from labsupport.risk.alerts import zone
from labsupport.risk.events import BUY, FILL, MARK, ORDER, Event
from labsupport.risk.gen import FlowSpec, generate, limits_toml
from labsupport.risk.kernel import KernelRangeError, KernelRiskEngine

LIMITS = limits_toml(max_orders_per_s=40, max_position=3_000, credit_limit=2_000_000,
                     drawdown_limit=4_000, var_limit=150, var_window=20,
                     margin_utilization_limit=0.123456789, margin_scan_pct=15.5,
                     overrides={"acc01": {"price_collar_pct": 0.75, "drawdown_limit": 900}})
SPEC = FlowSpec(accounts=12, symbols=20, mean_gap_ns=3_000_000, burst_prob=0.02)


def _stream(n: int, seed: int) -> list[Event]:
    return generate(n, SPEC, seed=seed, engine=RiskEngine(LIMITS, clock=lambda: 0))


def _same(py: RiskEngine, k: KernelRiskEngine) -> None:
    assert [a.row() for a in k.alerts] == [a.row() for a in py.alerts]
    assert [(a.seq, a.ts_ns) for a in k.alerts] == [(a.seq, a.ts_ns) for a in py.alerts]
    assert [m.row() for m in k.all_metrics()] == [m.row() for m in py.all_metrics()]
    assert [m.var_ewma for m in k.all_metrics()] == [m.var_ewma for m in py.all_metrics()]
    assert (k.unknown_fills, k.unknown_cancels, k.events) == \
        (py.unknown_fills, py.unknown_cancels, py.events)


@pytest.mark.parametrize("seed", [11, 12])
def test_one_batch_equals_python_engine(seed: int) -> None:
    events = _stream(4_000, seed)
    py, k = RiskEngine(LIMITS, clock=lambda: 0), KernelRiskEngine(LIMITS, clock=lambda: 0)
    assert k.run(events) == py.run(events)
    _same(py, k)
    assert len(py.alerts) > 20 and {a.level for a in py.alerts} == {"warn", "breach", "clear"}


def test_chunked_batches_and_a_small_alert_buffer_equal_one_batch() -> None:
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    rng = random.Random(seed)
    events = _stream(3_000, 13)
    py, k = RiskEngine(LIMITS, clock=lambda: 0), KernelRiskEngine(LIMITS, clock=lambda: 0)
    want = py.run(events)
    got = k.run(events[:200])  # every account exists now: the buffer keeps this size
    k.alert_buf = np.zeros((4 * len(k.accounts) + 1, 6), dtype=np.int64)
    i = 200
    while i < len(events):
        n = rng.randint(1, 400)
        got += k.run(events[i:i + n])
        i += n
    assert got == want
    _same(py, k)


def test_one_event_at_a_time_equals_python_engine_with_touched() -> None:
    events = _stream(700, 14)
    py, k = RiskEngine(LIMITS, clock=lambda: 0), KernelRiskEngine(LIMITS, clock=lambda: 0)
    for ev in events:
        assert k.process(ev) == py.process(ev), ev
        assert k.touched == py.touched, ev
        for name in py.touched:
            assert k.metrics(name).row() == py.metrics(name).row(), ev
    _same(py, k)


def test_rate_rings_grow_to_the_limit_without_changing_a_decision() -> None:
    limits = "[defaults]\nmax_orders_per_s = 300\n"
    events = [Event(1, 0, MARK, symbol="X", price=1_000_000)]
    for i in range(1_000):  # 400 orders in one burst, a pause, 600 more within 1.5 seconds
        ts = i * 1_000 if i < 400 else 2_000_000_000 + (i - 400) * 2_500_000
        events.append(Event(2 + i, ts, ORDER, "a", "X", BUY, 1, 1_000_000, f"o{i}"))
    py, k = RiskEngine(limits, clock=lambda: 0), KernelRiskEngine(limits, clock=lambda: 0)
    want = py.run(events)
    assert k.run(events) == want
    assert sum(d.reason == "order_rate" for d in want) > 150
    assert k.acc[k.accounts["a"], nb.A_QCAP] == 300  # grown from 128, by doubling, to the limit


def test_limits_int64_cannot_hold_are_refused_by_key_and_table() -> None:
    big = "[defaults]\n[accounts.whale]\ncapital = 1_000_000_000\n"
    RiskEngine(big)  # unbounded integers: fine in Python
    with pytest.raises(LimitsError, match=r"\[accounts\.whale\] key capital: 1000000000 .*"
                                          r"numba engine.*engine='python'"):
        make_engine(big, engine="numba")
    with pytest.raises(LimitsError, match=r"\[defaults\] key credit_limit"):
        make_engine("[defaults]\ncredit_limit = 1e17\n", engine="numba")
    with pytest.raises(RiskError, match="engine 'rust'"):
        make_engine("", engine="rust")


def _fill(seq: int, qty: int, price: int, account: str = "a") -> Event:
    return Event(seq, seq, FILL, account, "X", BUY, qty, price, "")


def test_money_exactly_at_the_bound_applies_and_one_unit_over_stops() -> None:
    price = 1_000_000  # 100.00: one share is price x COST_SCALE money units
    q = nb.MONEY_MAX // (price * nb.COST_SCALE)  # the largest position worth <= MONEY_MAX
    lim = "[defaults]\nmax_order_qty = 10\n"
    ok = KernelRiskEngine(lim, clock=lambda: 0)
    ok.run([_fill(1, q, price)])
    assert ok.metrics("a").gross_exposure * 10**8 == q * price * nb.COST_SCALE
    over, py = KernelRiskEngine(lim, clock=lambda: 0), RiskEngine(lim, clock=lambda: 0)
    events = [_fill(1, 5, price, "b"), _fill(2, q + 1, price), _fill(3, 1, price, "b")]
    py.run(events)  # the Python engine has no bound
    over.run(events[:1])
    before = over.metrics("b").row()
    with pytest.raises(KernelRangeError, match=r"event 2 \(fill\).*engine='python'"):
        over.run(events[1:])
    assert over.events == 1 and over.position("a", "X") == 0 and over.position("b", "X") == 5
    assert over.metrics("b").row() == before  # and "a" is known, with nothing applied:
    assert over.metrics("a").row() == RiskEngine(lim).metrics("a").row()


def test_a_mark_that_would_overflow_a_holder_is_not_applied() -> None:
    k = KernelRiskEngine("", clock=lambda: 0)
    k.run([Event(1, 1, MARK, symbol="X", price=10_000), _fill(2, 10_000_000, 10_000)])
    before = [m.row() for m in k.all_metrics()]
    with pytest.raises(KernelRangeError, match=r"event 3 \(mark\)") as info:
        k.run([Event(2, 2, ORDER, "a", "X", BUY, 1, None, "o1"),
               Event(3, 3, MARK, symbol="X", price=nb.PRICE_MAX)])
    assert [(d.order_id, d.reason) for d in info.value.decisions] == [("o1", "max_position")]
    assert [m.row() for m in k.all_metrics()] == before
    assert k.sym[k.symbols["X"], nb.S_MARK] == 10_000  # the mark itself not applied either
    k.run([Event(4, 4, MARK, symbol="X", price=20_000)])  # and the engine goes on
    assert k.metrics("a").net_exposure == 10_000_000 * 2


def test_a_quantity_or_price_beyond_the_kernel_range_is_named() -> None:
    k = KernelRiskEngine("", clock=lambda: 0)
    with pytest.raises(KernelRangeError, match=r"event 7: qty 2147483648"):
        k.run([_fill(7, nb.POS_MAX + 1, 10_000)])
    with pytest.raises(KernelRangeError, match=rf"event 8: .*price {nb.PRICE_MAX + 1}"):
        k.run([Event(8, 8, MARK, symbol="X", price=nb.PRICE_MAX + 1)])
    with pytest.raises(KernelRangeError, match=r"event 9: .*ts_ns"):
        k.run([Event(9, 1 << 64, MARK, symbol="X", price=1)])
    assert k.events == 0


def _python_margin_zone(gross: int, ua10: int, eq: int, ub: int) -> int:
    if gross == 0 or ua10 == 0:
        return 0
    return 3 if eq <= 0 else zone(gross * ua10, 10 * ub * eq)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 1 << 40), st.integers(1, 10**6), st.integers(1, 10**4),
       st.sampled_from([7, 8, 10]), st.integers(-2, 2))
def test_margin_zone_at_its_lines_equals_the_python_zone(eq: int, ua: int, ub: int, k: int,
                                                         off: int) -> None:
    """gross x 10 a against k x b x eq, at a line (gross the nearest integer to it) and a
    unit or two either side: the float shortcut must hand every near case to the exact one."""
    gross = max(0, (k * ub * eq) // (10 * ua) + off)
    assert nb.margin_zone(gross, 10 * ua, eq, ub) == _python_margin_zone(gross, 10 * ua, eq, ub)
    assert nb.margin_zone(gross, 10 * ua, -eq, ub) == 3 * (gross > 0)


u63 = st.integers(0, (1 << 63) - 1)


@settings(max_examples=300, deadline=None)
@given(u63, u63, u63, u63)
def test_mul_ge_is_exact_on_128_bit_products(a: int, x: int, b: int, y: int) -> None:
    assert nb._mul_ge(a, x, b, y) == (a * x >= b * y)
    assert nb._mul_ge(a, x, a, x)
