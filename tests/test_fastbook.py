"""Lab 11: the compiled engines (Numba, Cython) against Lab 02's engine and the naive reference.

One parametrized suite over the three engines: seeded streams and hypothesis streams against
the reference with the arrays' invariants checked after every event, the batch path against
single events, a generated day through all three (identical trades, rejects, depth and PnL),
prices leaving the window, pool growth, slot reuse, text ids, and adversarial streams.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport.fastbook import ENGINES, R_WINDOW, FastEngine
from labsupport.fastbook.checks import check_invariants
from labsupport.fastbook.compare import make_engine, outcome, reports
from labsupport.fastbook.layout import M_WIDTH, P_NEXT
from labsupport.measure import scaled
from labsupport.orderbook import (
    ADD,
    BUY,
    CANCEL,
    LIMIT,
    MARKET,
    MODIFY,
    SELL,
    OrderEvent,
    ReferenceEngine,
)
from labsupport.orderbook.checks import check_invariants as check_python_invariants
from labsupport.orderbook.scenarios import SCRIPT, SYMBOLS, random_stream

FAST = [k for k in ENGINES if k != "python"]


def rows_of(events):
    return [(e.seq, e.symbol, e.action, e.order_id, e.side, e.type, e.price_ticks, e.qty,
             e.account) for e in events]


def check(engine):
    if isinstance(engine, FastEngine):
        check_invariants(engine)
    else:
        check_python_invariants(engine)


def run_with_reference(kind, events, *, every_event=True, fee=0, **options):
    """Both engines event by event; return values compared at every event, invariants too."""
    eng = make_engine(kind, fee_per_share_ticks=fee, **options)
    ref = ReferenceEngine(fee_per_share_ticks=fee)
    for ev in events:
        got, want = eng.process(ev), ref.process(ev)
        if ev.action == CANCEL:
            want = int(want) - 1
        assert got == want, ev
        if every_event:
            check(eng)
    return eng, ref


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("seed", range(6))
def test_random_streams_match_reference(kind, seed):
    eng, ref = run_with_reference(kind, random_stream(seed, 500), fee=seed % 3)
    assert outcome(eng) == outcome(ref)
    assert ref.trades and ref.rejects, "stream too quiet to test anything"


@pytest.mark.parametrize("kind", ENGINES)
def test_scripted_scenario_matches_reference(kind):
    eng, ref = run_with_reference(kind, [e for e, _ in SCRIPT])
    assert outcome(eng) == outcome(ref)
    snap = eng.l2_snapshot("ACME", 3)  # dan's reprice took carol and alice, 70 rest
    assert (snap.bids[0].price_ticks, snap.asks[0].price_ticks, snap.asks[0].qty) == (9997, 9999, 70)
    assert [o.order_id for o in eng.l3("ACME")] == [10, 4]


events_strategy = st.lists(
    st.one_of(
        st.tuples(st.just(ADD), st.sampled_from(SYMBOLS), st.integers(1, 30),
                  st.sampled_from([BUY, SELL]), st.sampled_from([LIMIT, LIMIT, LIMIT, MARKET, 2, 3]),
                  st.integers(98, 102), st.integers(1, 12), st.integers(1, 3)),
        st.tuples(st.just(ADD), st.sampled_from(SYMBOLS), st.integers(1, 30),
                  st.integers(-2, 2), st.integers(-1, 5), st.integers(-3, 102),
                  st.integers(-3, 12), st.integers(0, 3)),
        st.tuples(st.just(CANCEL), st.sampled_from([None, None, "X", "Z"]), st.integers(1, 30)),
        st.tuples(st.just(MODIFY), st.none(), st.integers(1, 30), st.integers(-1, 102),
                  st.integers(-1, 12)),
    ),
    max_size=60,
)


def to_events(raw):
    out = []
    for seq, r in enumerate(raw, 1):
        if r[0] == ADD:
            _, sym, oid, side, otype, price, qty, acct = r
            out.append(OrderEvent(seq, sym, ADD, oid, side, otype, price, qty, acct))
        elif r[0] == CANCEL:
            out.append(OrderEvent(seq, r[1], CANCEL, r[2]))
        else:
            out.append(OrderEvent(seq, r[1], MODIFY, r[2], price_ticks=r[3], qty=r[4]))
    return out


@pytest.mark.parametrize("kind", FAST)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(raw=events_strategy, width=st.sampled_from([4, 16, 4096]))
def test_hypothesis_streams_keep_invariants_and_match(kind, raw, width):
    """Any stream (bad fields, unknown ids, tiny windows that re-centre and grow): the arrays
    stay consistent after every event and the outcome is the reference's."""
    eng, ref = run_with_reference(kind, to_events(raw), width=width)
    assert outcome(eng) == outcome(ref)


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("seed", range(3))
def test_batch_path_equals_single_events(kind, seed):
    events = random_stream(seed, 1500)
    single = make_engine(kind, fee_per_share_ticks=1)
    for e in events:
        single.process(e)
    batch = make_engine(kind, fee_per_share_ticks=1)
    assert batch.process_rows(rows_of(events)) == len(events)
    assert outcome(batch) == outcome(single)
    assert [batch.l3(s) for s in batch.symbols] == [single.l3(s) for s in single.symbols]
    check(batch)


def generated_day(n_events):
    from labsupport import marketdata as md

    return md.generate_order_flow(md.OrderFlowConfig(n_events=n_events, n_symbols=4, seed=21))


def test_generated_day_identical_in_all_three_engines():
    """The generator's flow (1 M events at default scale) through the three engines' batch
    paths: the same trades, rejects, final depth, L3 and PnL."""
    flow = generated_day(scaled(ci=40_000, default=1_000_000))
    results = {}
    for kind in ENGINES:
        if kind == "python":  # no listener: the fast path, then trades from a recorder run
            from labsupport.orderbook import MatchingEngine, Recorder

            rec = Recorder()
            eng = MatchingEngine(listener=rec)
            eng.process_array(flow.events, symbols=flow.symbols)
            trades, rejects = rec.trades, rec.rejects
        else:
            eng = make_engine(kind)
            eng.process_array(flow.events, symbols=flow.symbols)
            trades, rejects = eng.trades(), eng.rejects()
        results[kind] = (trades, rejects, [(s, eng.l3(s)) for s in eng.symbols],
                         list(eng.pnl()), eng.trade_count, eng.reject_count)
    assert len(results["python"][0]) > 1000
    assert results["numba"] == results["python"]
    assert results["cython"] == results["python"]


@pytest.mark.parametrize("kind", FAST)
def test_prices_leaving_the_window_recentre_and_grow(kind):
    """A 16-tick window: prices wander over thousands of ticks, the book re-centres, then
    grows; the outcome is still the reference's."""
    events, seq = [], 0
    for k in range(400):
        seq += 1
        price = 1000 + 37 * (k % 60) + (k // 60) * 5
        side = BUY if k % 2 else SELL
        events.append(OrderEvent(seq, "W", ADD, k, side, LIMIT, price + (0 if side == SELL else -2000),
                                 1 + k % 5, 1 + k % 3))
        if k % 7 == 0:
            seq += 1
            events.append(OrderEvent(seq, "W", CANCEL, k - 3))
    eng, ref = run_with_reference(kind, events, width=16)
    assert outcome(eng) == outcome(ref)
    assert eng.meta[M_WIDTH] > 16


@pytest.mark.parametrize("kind", FAST)
def test_price_beyond_the_window_limit_is_rejected_and_changes_nothing(kind):
    eng = FastEngine(kind, width=64, max_width=256)
    assert eng.add("X", 1, BUY, LIMIT, 1000, 5, 1) == 5
    assert eng.add("X", 2, SELL, LIMIT, 1000 + 255, 5, 1) == 5  # the span just fits
    before = outcome(eng)
    assert eng.add("X", 3, SELL, LIMIT, 1000 + 256, 5, 1) == -1
    assert eng.modify(1, 999, 5) == -1
    assert eng.rejects()[-2:][0].reason == R_WINDOW and eng.rejects()[-1].reason == R_WINDOW
    after = outcome(eng)
    assert after.depth == before.depth and after.trades == before.trades
    assert eng.add("X", 3, SELL, LIMIT, 1001, 5, 1) == 5  # not rejected as a duplicate
    assert eng.add("X", 4, BUY, MARKET, 10**12, 3, 2) == 0  # no window needed to take
    check_invariants(eng)


@pytest.mark.parametrize("kind", FAST)
def test_pool_and_table_grow_from_one_slot(kind):
    events = random_stream(9, 3000)
    eng, ref = run_with_reference(kind, events, every_event=False, pool_capacity=1)
    check_invariants(eng)
    assert outcome(eng) == outcome(ref)
    assert eng.pool.shape[1] >= eng.live_order_count > 50


@pytest.mark.parametrize("kind", FAST)
def test_slot_reuse_after_cancel_and_ids_never_reused(kind):
    eng = FastEngine(kind, pool_capacity=5)  # an event needs one free slot before it starts
    for oid in range(4):
        eng.add("X", oid, BUY, LIMIT, 100 - oid, 10)
    slot = int(eng.table[1, _bucket(eng, 2)])
    assert eng.cancel(2) is True
    eng.add("X", 9, BUY, LIMIT, 90, 10)  # takes the slot just freed (free list, LIFO)
    assert int(eng.table[1, _bucket(eng, 9)]) == slot and eng.pool.shape[1] == 5
    assert eng.add("X", 2, BUY, LIMIT, 95, 10) == -1  # an id is never reused
    assert eng.cancel(2) is False
    assert [r.reason for r in eng.rejects()] == ["duplicate order id", "order not live"]
    assert int(eng.pool[P_NEXT].max()) < 5
    check_invariants(eng)


def _bucket(eng, oid):
    from labsupport.fastbook.views import probe

    return probe(eng.table, eng.ids.key(oid))


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("seed", range(2))
def test_text_ids_and_accounts(kind, seed):
    """FIX-style text ids and account codes, some ints among them (``7`` and ``"7"`` are two
    orders): the compiled engines intern them at the boundary and echo them as given."""
    events = [replace(e, order_id=f"o{e.order_id}" if e.order_id % 7 else e.order_id,
                      account=f"acc{e.account}" if e.account % 3 else e.account)
              for e in random_stream(seed, 600)]
    events.append(OrderEvent(10_000, "X", ADD, "7", BUY, LIMIT, 1, 1, 1))
    events.append(OrderEvent(10_001, "X", ADD, 2**70, BUY, LIMIT, 1, 1, -5))
    eng, ref = run_with_reference(kind, events, fee=1)
    got = outcome(eng)
    assert got == outcome(ref)
    assert any(isinstance(t.resting_id, str) for t in got.trades)
    batch = make_engine(kind, fee_per_share_ticks=1)
    batch.process_rows(rows_of(events))
    assert outcome(batch) == got


@pytest.mark.parametrize("kind", ENGINES)
def test_fixed_symbols_reject_others(kind):
    eng = make_engine(kind, ["AAA", "BBB"])
    assert eng.symbols == ["AAA", "BBB"]
    assert eng.add("CCC", 1, BUY, LIMIT, 100, 5) == -1
    assert eng.add("BBB", 2, BUY, LIMIT, 100, 5) == 5
    assert eng.cancel(2, "AAA") is False
    assert [r.reason for r in eng.rejects()] == ["unknown symbol", "symbol does not match order"]
    assert eng.best_bid_ask("BBB") == (100, None) and eng.best_bid_ask("CCC") == (None, None)


@pytest.mark.parametrize("kind", FAST)
def test_adversarial_stream_never_breaks_the_book(kind):
    """Cancels of ids never seen, a price far outside the window, huge and negative fields:
    clear rejects, a consistent book, no crash."""
    n = scaled(ci=20_000, default=1_000_000)
    eng = FastEngine(kind)
    eng.add("X", 1, BUY, LIMIT, 10_000, 5, 1)
    eng.add("X", 2, SELL, LIMIT, 10_010, 5, 2)
    ev = np.zeros((n, 9), np.int64)
    ev[:, 0] = np.arange(n)
    ev[:, 2] = CANCEL
    ev[:, 3] = np.arange(10**6, 10**6 + n)
    ev[:, 1] = -1
    eng.process_events(ev)
    assert eng.reject_count == n and eng.live_order_count == 2
    assert eng.add("X", 3, SELL, LIMIT, 10**9, 1, 1) == -1  # far outside the window
    assert eng.add("X", 4, BUY, LIMIT, 2**63 + 5, 1, 1) == -1  # beyond int64: clamped, rejected
    assert eng.add("X", 5, BUY, LIMIT, 10_001, -2**70, 1) == -1
    assert {r.reason for r in eng.rejects()[-3:]} == {R_WINDOW, "invalid quantity"}
    check_invariants(eng)
    assert eng.l2_snapshot("X").bids[0].price_ticks == 10_000


def _queue_of(l3, oid):
    """(orders ahead, shares ahead) of ``oid`` read off Lab 02's L3 view (queue order)."""
    mine = next((o for o in l3 if o.order_id == oid), None)
    if mine is None:
        return None
    ahead = []
    for o in l3:
        if o.order_id == oid:
            return len(ahead), sum(ahead)
        if o.side == mine.side and o.price_ticks == mine.price_ticks:
            ahead.append(o.qty)


@pytest.mark.parametrize("kind", FAST)
@pytest.mark.parametrize("seed", range(2))
def test_queue_position_and_leaves_equal_lab02s_queues(kind, seed):
    """``queue_position`` and ``leaves`` of every order ever sent, every 50 events of a random
    stream (fills, cancels, modifies that keep or lose priority), against Lab 02's L3 queues."""
    print(f"seed {seed}")
    events = random_stream(seed, 1500)
    eng, py = make_engine(kind), make_engine("python")
    seen, checked = set(), 0
    for i, e in enumerate(events):
        eng.process(e)
        py.process(e)
        if e.action == ADD:
            seen.add(e.order_id)
        if i % 50 == 49:
            l3 = {s: py.l3(s) for s in py.symbols}
            book_of = {o.order_id: s for s, orders in l3.items() for o in orders}
            for oid in seen:
                orders = l3.get(book_of.get(oid), [])
                want = _queue_of(orders, oid)
                assert eng.queue_position(oid) == want, (i, oid)
                assert eng.leaves(oid) == next((o.qty for o in orders if o.order_id == oid), 0)
                checked += want is not None and want[0] > 0
    assert checked > 50  # orders really queued behind others
    assert eng.queue_position("never sent") is None and eng.leaves("never sent") == 0


# ---------------------------------------------------------------------- PnL in the kernels
@pytest.mark.parametrize("kind", FAST)
def test_pnl_is_kept_in_the_kernel(kind):
    """The compiled engines' positions are the kernel's int64 rows (no Python PositionBook),
    and they equal Lab 02's PnL: positions, average cost, realized, unrealized, fees, cash."""
    from labsupport.fastbook.positions import KernelPositions

    events = random_stream(4, 1500)
    eng, ref = run_with_reference(kind, events, every_event=False, fee=2)
    assert isinstance(eng.positions, KernelPositions)
    py = make_engine("python", fee_per_share_ticks=2)
    for e in events:
        py.process(e)
    assert list(eng.pnl()) == list(py.pnl()) == list(ref.pnl())
    assert eng.positions.keys() == py.positions.keys()
    for v in py.pnl():
        assert eng.positions.cash(v.account, v.symbol) == py.positions.cash(v.account, v.symbol)
    assert eng.positions.marks == py.positions.marks
    assert eng.position(99, "X") == py.position(99, "X")  # never traded: zeros


def _big_position_events():
    """Positions beyond 2**31 shares at prices that leave an odd cost basis: the rounding of
    a partial close needs the overflow-free multiply-divide."""
    rows = [(1, ADD, 1, SELL, LIMIT, 3, 2_000_000_011, 2), (2, ADD, 2, BUY, MARKET, 0, 2_000_000_011, 1),
            (3, ADD, 3, SELL, LIMIT, 7, 1_000_000_003, 2), (4, ADD, 4, BUY, MARKET, 0, 1_000_000_003, 1),
            (5, ADD, 5, BUY, LIMIT, 5, 1_234_567_891, 3), (6, ADD, 6, SELL, MARKET, 0, 1_234_567_891, 1),
            (7, ADD, 7, BUY, LIMIT, 4, 2_999_999_999, 3), (8, ADD, 8, SELL, MARKET, 0, 2_999_999_999, 1)]
    return [OrderEvent(seq, "BIG", a, oid, side, t, price, qty, acct)
            for seq, a, oid, side, t, price, qty, acct in rows]


@pytest.mark.parametrize("kind", FAST)
def test_pnl_of_huge_positions_is_exact(kind):
    from labsupport.fastbook.positions import KernelPositions

    eng, ref = run_with_reference(kind, _big_position_events(), fee=1)
    assert isinstance(eng.positions, KernelPositions)  # still within int64: the kernel's
    assert outcome(eng) == outcome(ref)
    assert any(abs(v.position) > 2**31 for v in eng.pnl())


@pytest.mark.parametrize("kind", FAST)
def test_pnl_beyond_int64_falls_back_to_lab02_positions(kind):
    """Notional beyond what int64 cost units hold: the kernel stops its PnL before a fill
    could overflow and the engine replays the trade log into Lab 02's PositionBook."""
    from labsupport.orderbook.pnl import PositionBook

    events = random_stream(5, 300)
    seq = len(events)
    events += [OrderEvent(seq + 1, "H", ADD, 10_001, SELL, LIMIT, 10**12, 10**9, 7),
               OrderEvent(seq + 2, "H", ADD, 10_002, BUY, MARKET, 0, 10**9, 8)]
    events += [replace(e, seq=e.seq + seq + 2, order_id=e.order_id + 20_000)
               for e in random_stream(6, 300)]
    eng, ref = run_with_reference(kind, events, every_event=False, fee=1)
    assert isinstance(eng.positions, PositionBook)
    assert outcome(eng) == outcome(ref)


# ---------------------------------------------------------------------- listeners
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
@pytest.mark.parametrize("seed", range(3))
def test_listener_hears_what_lab02_publishes(seed, batch):
    """Trades, execution reports (new, partial, filled, cancelled, expired, replaced) and
    rejects, in Lab 02's order, from all three engines, single events and batches."""
    events = [replace(e, order_id=f"o{e.order_id}" if e.order_id % 4 == 0 else e.order_id)
              for e in random_stream(seed, 1200)]
    want = reports("python", events, fee_per_share_ticks=1)
    statuses = {r.status.name for r in want.executions}
    assert statuses >= {"NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "REPLACED"}
    for kind in FAST:
        got = reports(kind, events, batch=batch, fee_per_share_ticks=1, pool_capacity=4)
        assert got.trades == want.trades, kind
        assert got.rejects == want.rejects, kind
        assert got.executions == want.executions, kind


@pytest.mark.parametrize("kind", FAST)
def test_listener_attached_later_and_detached(kind):
    from labsupport.orderbook import Recorder

    events = random_stream(2, 400)
    eng = FastEngine(kind)
    eng.process_rows(rows_of(events[:200]))
    eng.listener = rec = Recorder()
    eng.process_rows(rows_of(events[200:300]))
    eng.listener = None
    eng.process_rows(rows_of(events[300:]))
    ref = make_engine("python")
    for e in events[:200]:
        ref.process(e)
    ref.listener = want = Recorder()
    for e in events[200:300]:
        ref.process(e)
    assert rec.executions == want.executions and rec.trades == want.trades
    assert len(eng.trades()) > len(rec.trades)


@pytest.mark.parametrize("kind", FAST)
def test_l2_listener_is_refused_not_ignored(kind):
    from labsupport.fastbook import FastBookError
    from labsupport.orderbook import Recorder

    with pytest.raises(FastBookError, match="L2"):
        FastEngine(kind, listener=Recorder(l2=True))


# ---------------------------------------------------------------------- the lean entry point
@pytest.mark.parametrize("kind", FAST)
def test_lean_kernel_calls_equal_the_engine_api(kind):
    """``engine.kernel.add/cancel/modify`` on ints: the same returns, book and PnL as the
    object API, growth included (a one-slot pool)."""
    events = random_stream(8, 1500)
    api = FastEngine(kind)
    lean = FastEngine(kind, pool_capacity=1)
    k = lean.kernel
    for e in events:
        want = api.process(e)
        b = lean.book_index(e.symbol) if e.symbol is not None else -1
        if e.action == ADD:
            got = k.add(b, e.order_id, e.side, e.type, e.price_ticks, e.qty, e.account, e.seq)
        elif e.action == CANCEL:
            got = k.cancel(b, e.order_id, e.seq)
        else:
            got = k.modify(b, e.order_id, e.price_ticks, e.qty, e.seq)
        assert got == want, e
    assert outcome(lean) == outcome(api)
    check_invariants(lean)
