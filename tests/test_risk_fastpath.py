"""The structures behind the engine's speed, each against its plain definition: the
historical VaR's tail (the k smallest values of the window) against numpy's percentile and a
sort on random and adversarial series; the integer warn lines of the alert fast path against
:func:`zone`; and the mark loop's bookkeeping (alerts of one event listed by account name,
``touched`` sorted, holders entering and leaving)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.risk import RiskEngine, parse_limits
from labsupport.risk.alerts import BREACH, NONE, TRANSITIONS, WARN, zone
from labsupport.risk.events import BUY, FILL, MARK, SELL, Event, parse_price
from labsupport.risk.positions import AccountRisk
from labsupport.risk.var import EwmaVaR, HistoricalVaR, SortedWindowVaR, historical_var_scratch

values = st.integers(-10**12, 10**12)


def _check_window(h: HistoricalVaR, pushed: list[int]) -> None:
    w = pushed[-h.window:]
    assert h.values() == w
    assert h.var100 == historical_var_scratch(w)
    if len(w) > 1:
        want = max(0.0, -float(np.percentile(np.array(w, dtype=float), 5)))
        assert h.var100 / 100 == pytest.approx(want, rel=1e-12, abs=1e-6)
    tail = h.tail()  # the invariant: the len(tail) smallest values of the window, sorted
    assert tail == sorted(w)[:len(tail)]


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 60), st.lists(values | st.sampled_from([-5, 0, 5]), max_size=200))
def test_historical_var_tail_equals_percentile_after_every_push(window: int,
                                                                pushed: list[int]) -> None:
    h, whole = HistoricalVaR(window), SortedWindowVaR(window)  # tail vs the whole, sorted
    for i, v in enumerate(pushed):
        assert h.push(v) == h.var100 == whole.push(v)
        _check_window(h, pushed[:i + 1])


@pytest.mark.parametrize("shape", ["increasing", "decreasing", "constant", "sawtooth",
                                   "one crash"])
@pytest.mark.parametrize("window", [2, 21, 250])
def test_historical_var_on_adversarial_series(shape: str, window: int) -> None:
    """Increasing values drain the tail (the smallest leave, the new are the largest): the
    refill path; decreasing ones flood it; ties and one crash leaving the window."""
    n = 4 * window + 30
    series = {"increasing": list(range(n)), "decreasing": list(range(0, -n, -1)),
              "constant": [-7] * n, "sawtooth": [(i % 13) - 6 for i in range(n)],
              "one crash": [-10**9 if i == window // 2 else i % 5 for i in range(n)]}[shape]
    h = HistoricalVaR(window)
    every = 1 if window < 100 else 7  # the big window: every 7th push is checked in full
    for i, v in enumerate(series):
        h.push(v)
        if i % every == 0:
            _check_window(h, series[:i + 1])
        assert h.var100 == historical_var_scratch(series[max(0, i + 1 - window):i + 1])


def test_historical_var_at_the_benchmark_window_on_fat_tails() -> None:
    seed = 11
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    pushed = (rng.standard_t(3, size=3000) * 1e8).astype(np.int64).tolist()
    h = HistoricalVaR(250)
    for i, v in enumerate(pushed):
        h.push(v)
        if i % 97 == 0 or i == len(pushed) - 1:
            _check_window(h, pushed[:i + 1])


def _emits(state: int, z: int) -> bool:
    return TRANSITIONS[state][z][1] is not None


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 10**12), st.integers(0, 2 * 10**12), st.integers(0, 3),
       st.tuples(*[st.sampled_from([NONE, WARN, BREACH])] * 4))
def test_quiet_bands_equal_the_hysteresis_of_the_integer_metrics(
        limit: int, value: int, k: int, states: tuple[int, ...]) -> None:
    """Each band, as integers, holds exactly the values whose zone makes no transition from
    the metric's state: drawdown, 100 x VaR and gross exposure against their limits."""
    money = f"{limit // 10**8}.{limit % 10**8:08d}"  # `limit` money units, as exact text
    lim = parse_limits(f"[defaults]\ndrawdown_limit = {money}\ncredit_limit = {money}\n"
                       f"var_limit = {money}\n").for_account("a")
    assert lim.drawdown_limit == lim.credit_limit == lim.var_limit == limit
    acct = AccountRisk("a", lim)
    for metric, state in enumerate(states):
        acct.set_band(metric, state)
    bands = {0: (acct.dd_lo, acct.dd_hi, limit), 1: (acct.var_lo, acct.var_hi, 100 * limit),
             3: (acct.gross_lo, acct.gross_hi, limit)}
    if k in bands:
        lo, hi, full = bands[k]
        assert (lo <= value < hi) == (not _emits(states[k], zone(value, full)))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([NONE, WARN, BREACH]), st.integers(0, 10**9), st.integers(-10**9, 10**9),
       st.integers(0, 100), st.integers(1, 10**4), st.integers(1, 10**4))
def test_quiet_margin_band_is_sound_and_exact_with_equity(
        state: int, gross: int, eq: int, scan_pct: int, util_n: int, util_d: int) -> None:
    """The margin band never hides a transition (sound), and with positive equity and some
    margin it is exact: quiet if and only if the slow path would emit nothing."""
    lim = parse_limits(f"[defaults]\nmargin_scan_pct = {scan_pct}\n"
                       f"margin_utilization_limit = {util_n / util_d!r}\n").for_account("a")
    acct = AccountRisk("a", lim)
    acct.set_band(2, state)
    acct.gross, acct.peak = gross, max(eq, 0)  # other metrics at 0: inside their none bands
    a, b = acct.util_a, acct.util_b
    z = 0 if not (gross and a) else 3 if eq <= 0 else zone(gross * a, b * eq)
    if acct.quiet(eq) and (acct.peak - eq) < acct.dd_hi:
        assert not _emits(state, z)
    if gross and a and eq > 0 and acct.peak - eq < acct.dd_hi:
        assert acct.quiet(eq) == (not _emits(state, z))


def _mark(seq: int, symbol: str, price: str) -> Event:
    return Event(seq, seq, MARK, symbol=symbol, price=parse_price(price))


def _fill(seq: int, account: str, side: int, qty: int, price: str) -> Event:
    return Event(seq, seq, FILL, account, "X", side, qty, parse_price(price), "")


def test_one_marks_alerts_are_listed_by_account_name_and_touched_is_sorted() -> None:
    engine = RiskEngine("[defaults]\ndrawdown_limit = 100\n", clock=lambda: 0)
    engine.process(_mark(1, "X", "100"))
    for seq, name in enumerate(["zed", "amy", "kim"], 2):  # holders in a non-sorted order
        engine.process(_fill(seq, name, BUY, 10, "100"))
    engine.process(_mark(5, "X", "88"))  # each loses 120: a drawdown breach for all three
    assert engine.touched == ["amy", "kim", "zed"]
    got = [(a.seq, a.account, a.metric, a.level) for a in engine.alerts]
    assert got == [(5, n, "drawdown", "breach") for n in ("amy", "kim", "zed")]
    assert all(engine.metrics(n).halted for n in ("amy", "kim", "zed"))


def test_a_closed_position_leaves_the_holders_and_a_mark_then_touches_nobody() -> None:
    engine = RiskEngine("", clock=lambda: 0)
    engine.process(_mark(1, "X", "100"))
    engine.process(_fill(2, "a", BUY, 10, "100"))
    engine.process(_fill(3, "b", SELL, 5, "100"))
    assert set(engine.holders["X"]) == {engine.accounts["a"], engine.accounts["b"]}
    engine.process(_fill(4, "a", SELL, 10, "101"))  # flat: realized 10, no longer a holder
    assert engine.touched == ["a"]
    assert set(engine.holders["X"]) == {engine.accounts["b"]}
    engine.process(_fill(5, "b", BUY, 5, "99"))
    engine.process(_mark(6, "X", "120"))
    assert engine.touched == []
    m = engine.metrics("a")
    assert (m.realized_pnl, m.unrealized_pnl, m.gross_exposure) == (10, 0, 0)
    assert engine.metrics("b").realized_pnl == 5


def test_historical_var_last_k_values_across_the_ring_wrap() -> None:
    h = HistoricalVaR(5)
    pushed = []
    for v in range(1, 13):
        h.push(v)
        pushed.append(v)
        for k in range(len(h) + 1):
            assert h.last(k) == pushed[-h.window:][len(h) - k:], (v, k)


def test_ewma_folded_when_read_equals_one_update_per_change_bit_for_bit() -> None:
    """The EWMA is folded in lazily (when read, or when the window would forget changes): an
    engine read after every event and one read only at the end agree exactly, and both equal
    :class:`EwmaVaR` fed every sampled change one at a time."""
    seed = 5
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    limits = "[defaults]\nvar_window = 7\n"
    events = [_mark(1, "X", "100")] + [_fill(2, "a", BUY, 30, "100")]
    for seq in range(3, 60):
        events.append(_mark(seq, "X", f"{100 + float(rng.standard_t(3)):.2f}"))
    eager, lazy = RiskEngine(limits, clock=lambda: 0), RiskEngine(limits, clock=lambda: 0)
    want, equities = EwmaVaR(), []
    for ev in events:
        eager.process(ev)
        lazy.process(ev)
        m = eager.metrics("a")
        if ev.kind == MARK and ev.seq > 2:  # a sample of "a" (it holds X from seq 2 on)
            equities.append(int(m.equity * 10**8))
    for prev, now in zip(equities, equities[1:]):
        want.add(now - prev)
    assert eager.metrics("a").var_ewma == lazy.metrics("a").var_ewma == want.value()
    assert want.n == len(events) - 3 > 2 * 7  # the window wrapped: folds before reads too
