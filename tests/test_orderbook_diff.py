"""Differential and property tests: the engine against the naive reference matcher.

Seeded random streams and hypothesis-generated streams go through both; trades, rejects,
final depth and PnL must be identical. After every event the engine's invariants are checked
(never crossed, level totals, live orders, positions sum to zero, PnL identity) and quantity
is conserved: accepted - cancelled - expired - 2 * traded == resting. L2 incremental updates
replayed into a mirror must reproduce the full depth.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport.orderbook import (
    ADD,
    BUY,
    CANCEL,
    LADDERS,
    LIMIT,
    MARKET,
    MODIFY,
    SELL,
    MatchingEngine,
    OrderEvent,
    Recorder,
    ReferenceEngine,
)
from labsupport.orderbook.checks import check_invariants
from labsupport.orderbook.scenarios import SYMBOLS, random_stream


def run_both(events, ladder, check_every_event=True, fee=0):
    rec = Recorder(l2=True)
    eng = MatchingEngine(ladder=ladder, listener=rec, fee_per_share_ticks=fee)
    ref = ReferenceEngine(fee_per_share_ticks=fee)
    accepted = cancelled = expired = 0
    for ev in events:
        before = eng._live.get(ev.order_id)
        before_qty = before.qty if before is not None else 0
        n_rej = len(rec.rejects)
        out = eng.process(ev)
        ref.process(ev)
        ok = len(rec.rejects) == n_rej
        if ev.action == ADD and ok:
            accepted += ev.qty
            if ev.type != LIMIT:
                expired += out
        elif ev.action == CANCEL and ok:
            cancelled += before_qty
        elif ev.action == MODIFY and ok:
            accepted += ev.qty - before_qty
        if check_every_event:
            check_invariants(eng)
            traded = sum(t.qty for t in rec.trades)
            resting = sum(o.qty for s in eng.symbols for o in eng.l3(s))
            assert accepted - cancelled - expired - 2 * traded == resting, ev
    return eng, rec, ref


def assert_same(eng, rec, ref):
    assert rec.trades == ref.trades
    assert rec.rejects == ref.rejects
    for s in set(eng.symbols) | set(ref.books):
        for side in (BUY, SELL):
            assert eng.book(s).depth(side) == ref.depth(s, side), (s, side)
    assert list(eng.pnl()) == ref.pnl()
    # The L2 incremental stream, replayed, gives the same book as the snapshot.
    mirror = {}
    for u in rec.l2_updates:
        key = (u.symbol, u.side, u.price_ticks)
        if u.qty:
            mirror[key] = (u.qty, u.orders)
        else:
            mirror.pop(key, None)
    full = {(s, side, lv.price_ticks): (lv.qty, lv.orders)
            for s in eng.symbols for side in (BUY, SELL) for lv in eng.book(s).depth(side)}
    assert mirror == full


@pytest.mark.parametrize("ladder", sorted(LADDERS))
@pytest.mark.parametrize("seed", range(8))
def test_random_streams_match_reference(seed, ladder):
    events = random_stream(seed, 600)
    eng, rec, ref = run_both(events, ladder, fee=seed % 3)
    assert rec.trades, "stream too quiet to test anything"
    assert_same(eng, rec, ref)


@pytest.mark.slow
@pytest.mark.parametrize("ladder", sorted(LADDERS))
def test_many_seeded_streams_match_reference(ladder):
    for seed in range(100, 160):
        events = random_stream(seed, 400)
        eng, rec, ref = run_both(events, ladder, check_every_event=False)
        check_invariants(eng)
        assert_same(eng, rec, ref)


events_strategy = st.lists(
    st.one_of(
        st.tuples(st.just(ADD), st.sampled_from(SYMBOLS), st.integers(1, 30),
                  st.sampled_from([BUY, SELL]), st.sampled_from([LIMIT, LIMIT, LIMIT, MARKET, 2, 3]),
                  st.integers(98, 102), st.integers(1, 12), st.integers(1, 3)),
        # anything at all in the fields: must be rejected identically, never crash
        st.tuples(st.just(ADD), st.sampled_from(SYMBOLS), st.integers(1, 30),
                  st.integers(-2, 2), st.integers(-1, 5), st.integers(-3, 102),
                  st.integers(-3, 12), st.integers(0, 3)),
        st.tuples(st.just(CANCEL), st.none(), st.integers(1, 30)),
        st.tuples(st.just(MODIFY), st.none(), st.integers(1, 30), st.integers(-1, 102),
                  st.integers(-1, 12)),
    ),
    max_size=80,
)


def to_events(raw):
    out = []
    for seq, r in enumerate(raw, 1):
        if r[0] == ADD:
            _, sym, oid, side, otype, price, qty, acct = r
            out.append(OrderEvent(seq, sym, ADD, oid, side, otype,
                                  0 if otype == MARKET and price > 50 else price, qty, acct))
        elif r[0] == CANCEL:
            out.append(OrderEvent(seq, r[1], CANCEL, r[2]))
        else:
            out.append(OrderEvent(seq, r[1], MODIFY, r[2], price_ticks=r[3], qty=r[4]))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events_strategy, st.sampled_from(sorted(LADDERS)))
def test_hypothesis_streams_match_reference(raw, ladder):
    eng, rec, ref = run_both(to_events(raw), ladder)
    assert_same(eng, rec, ref)


def test_generated_market_flow_matches_reference():
    md = pytest.importorskip("labsupport.marketdata")
    if not hasattr(md, "generate_order_flow"):
        pytest.skip("labsupport.marketdata.generate_order_flow not available")
    flow = md.generate_order_flow(md.OrderFlowConfig(n_events=4000, n_symbols=2, seed=11))
    rows = flow.events[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks",
                        "qty", "account"]].tolist()
    events = [OrderEvent(*r) for r in rows]
    eng, rec, ref = run_both(events, "sorted-list", check_every_event=False)
    check_invariants(eng)
    assert rec.trades
    assert_same(eng, rec, ref)
    # The fast path (process_array) gives the same final state as event-by-event.
    fast = MatchingEngine()
    fast.process_array(flow.events)
    assert list(fast.pnl()) == list(eng.pnl())
    for s in eng.symbols:
        assert fast.l3(s) == eng.l3(s)


def _final_state(eng):
    return ([(s, eng.l3(s)) for s in eng.symbols], list(eng.pnl()), eng.trade_count,
            eng.reject_count)


@pytest.mark.parametrize("ladder", sorted(LADDERS))
@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_general_path(seed, ladder):
    """process_rows without a listener inlines common cases; it must change nothing."""
    from labsupport.orderbook.bench import depth_rows

    events = random_stream(seed, 1500)
    rows = [(e.seq, e.symbol, e.action, e.order_id, e.side, e.type, e.price_ticks, e.qty,
             e.account) for e in events]
    prefill, stream = depth_rows(20, 2000, seed=seed)
    rows += [(r[0] + 10_000, "D") + r[2:3] + (r[3] + 10**6,) + r[4:] for r in prefill + stream]
    fast = MatchingEngine(ladder=ladder)
    fast.process_rows(rows)
    slow = MatchingEngine(ladder=ladder)
    for r in rows:
        slow.process(OrderEvent(*r))
    check_invariants(fast)
    assert _final_state(fast) == _final_state(slow)
    assert fast.trade_count > 0 and fast.reject_count > 0


@pytest.mark.parametrize("ladder", sorted(LADDERS))
def test_engine_leaves_no_cyclic_garbage(ladder):
    """Dead orders and levels are freed by reference counting alone, so pausing the cyclic GC
    during a replay (bench.GcPaused) cannot leak."""
    import gc

    from labsupport.orderbook.bench import depth_rows

    prefill, stream = depth_rows(30, 5000, per_level=2)
    rows = [(e.seq, e.symbol, e.action, e.order_id, e.side, e.type, e.price_ticks, e.qty,
             e.account) for e in random_stream(1, 3000)] + prefill + stream
    eng = MatchingEngine(ladder=ladder)
    gc.collect()
    gc.disable()
    try:
        eng.process_rows(rows)
        for r in rows[:3000]:  # the general (listener-free) methods too
            eng.process(OrderEvent(*r[:2], r[2], r[3] + 10**7, *r[4:]))
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert eng.trade_count > 0


@pytest.mark.parametrize("ladder", sorted(LADDERS))
@pytest.mark.parametrize("seed", range(3))
def test_text_id_streams_match_reference(seed, ladder):
    """Order ids and accounts as text tokens (with a few ints mixed in, which are other ids):
    the engine and the reference agree event by event, invariants hold throughout."""
    from dataclasses import replace

    events = [replace(e, order_id=f"o{e.order_id}" if e.order_id % 7 else e.order_id,
                      account=f"acc{e.account}" if e.account % 3 else e.account)
              for e in random_stream(seed, 600)]
    eng, rec, ref = run_both(events, ladder, fee=1)
    assert rec.trades and any(isinstance(t.resting_id, str) for t in rec.trades)
    assert_same(eng, rec, ref)
    fast = MatchingEngine(ladder=ladder, fee_per_share_ticks=1)
    fast.process_rows([(e.seq, e.symbol, e.action, e.order_id, e.side, e.type, e.price_ticks,
                        e.qty, e.account) for e in events])
    assert list(fast.pnl()) == list(eng.pnl())
    assert [fast.l3(s) for s in fast.symbols] == [eng.l3(s) for s in eng.symbols]
