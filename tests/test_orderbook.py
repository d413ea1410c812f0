"""Scenario tests, one per rule of the order book, run against every price-ladder design."""

from __future__ import annotations

from fractions import Fraction

import pytest

from labsupport.orderbook import (
    BUY,
    FOK,
    IOC,
    LADDERS,
    LIMIT,
    MARKET,
    SELL,
    L2Level,
    L3Order,
    MatchingEngine,
    Recorder,
    Status,
    Trade,
)
from labsupport.orderbook.checks import check_invariants


@pytest.fixture(params=sorted(LADDERS))
def mk(request):
    """Factory of (engine, recorder) pairs using one ladder design."""

    def make(**kw):
        rec = Recorder(l2=kw.pop("l2", False))
        eng = MatchingEngine(ladder=request.param, listener=rec, **kw)
        return eng, rec

    return make


def trades(rec):
    return [(t.price_ticks, t.qty, t.aggressor_id, t.resting_id, t.aggressor_side)
            for t in rec.trades]


def reasons(rec):
    return [(r.order_id, r.reason) for r in rec.rejects]


# ------------------------------------------------------------------ price-time priority
def test_better_price_fills_first(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 102, 10)
    e.add("X", 2, SELL, LIMIT, 101, 10)
    e.add("X", 3, SELL, LIMIT, 103, 10)
    e.add("X", 4, BUY, LIMIT, 103, 25, seq=9)
    assert trades(r) == [(101, 10, 4, 2, BUY), (102, 10, 4, 1, BUY), (103, 5, 4, 3, BUY)]
    assert [t.seq for t in r.trades] == [9, 9, 9]
    check_invariants(e)


def test_time_priority_within_a_level(mk):
    e, r = mk()
    for oid in (1, 2, 3):
        e.add("X", oid, BUY, LIMIT, 100, 10)
    e.add("X", 4, SELL, LIMIT, 100, 15)
    assert trades(r) == [(100, 10, 4, 1, SELL), (100, 5, 4, 2, SELL)]
    assert [(o.order_id, o.qty) for o in e.l3("X")] == [(2, 5), (3, 10)]


def test_trade_at_resting_price_not_aggressor_price(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 10)
    e.add("X", 2, SELL, LIMIT, 90, 4)
    assert trades(r) == [(100, 4, 2, 1, SELL)]


def test_partial_fill_keeps_resting_priority(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 10)
    e.add("X", 2, SELL, LIMIT, 100, 10)
    e.add("X", 3, BUY, LIMIT, 100, 4)
    e.add("X", 4, BUY, LIMIT, 100, 4)
    assert [t.resting_id for t in r.trades] == [1, 1]
    assert [(o.order_id, o.qty) for o in e.l3("X")] == [(1, 2), (2, 10)]


def test_limit_remainder_rests_at_its_price(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5)
    assert e.add("X", 2, BUY, LIMIT, 101, 8) == 3
    snap = e.l2_snapshot("X")
    assert snap.bids == (L2Level(101, 3, 1),) and snap.asks == ()
    check_invariants(e)


# ------------------------------------------------------------------ order types
def test_market_order_sweeps_and_remainder_expires(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5)
    e.add("X", 2, SELL, LIMIT, 105, 5)
    assert e.add("X", 3, BUY, MARKET, 0, 12) == 2
    assert trades(r) == [(100, 5, 3, 1, BUY), (105, 5, 3, 2, BUY)]
    assert e.l3("X") == []
    assert r.executions[-1].status == Status.EXPIRED and r.executions[-1].order_id == 3


def test_market_order_on_empty_side_expires_without_trade(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 5)
    assert e.add("X", 2, BUY, MARKET, 0, 5) == 5
    assert r.trades == [] and r.rejects == []
    assert [o.order_id for o in e.l3("X")] == [1]


def test_ioc_fills_what_it_can_and_never_rests(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5)
    e.add("X", 2, SELL, LIMIT, 102, 5)
    assert e.add("X", 3, BUY, IOC, 101, 9) == 4
    assert trades(r) == [(100, 5, 3, 1, BUY)]
    assert e.l2_snapshot("X").bids == ()
    assert e.add("X", 4, BUY, IOC, 99, 9) == 9  # does not cross: nothing happens
    assert not e.is_live(3) and not e.is_live(4)


def test_fok_fills_completely_across_levels(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5)
    e.add("X", 2, SELL, LIMIT, 101, 5)
    assert e.add("X", 3, BUY, FOK, 101, 10) == 0
    assert trades(r) == [(100, 5, 3, 1, BUY), (101, 5, 3, 2, BUY)]


def test_fok_all_or_nothing(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5)
    e.add("X", 2, SELL, LIMIT, 102, 5)
    before = e.l3("X")
    assert e.add("X", 3, BUY, FOK, 101, 6) == -1  # 10 exist, only 5 at acceptable prices
    assert e.add("X", 4, SELL, FOK, 90, 1) == -1  # no bids at all
    assert r.trades == [] and e.l3("X") == before
    assert reasons(r) == [(3, "fok not fillable"), (4, "fok not fillable")]


# ------------------------------------------------------------------ cancel / rejects
def test_cancel_and_reject_reasons(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 5)
    e.add("X", 2, SELL, LIMIT, 101, 5)
    assert e.cancel(1, "X") is True
    assert e.cancel(1, "X") is False  # already cancelled
    assert e.cancel(99) is False  # never seen
    e.add("X", 3, BUY, LIMIT, 101, 5)  # fills order 2
    assert e.cancel(2) is False  # filled
    assert e.cancel(3) is False  # the aggressor filled completely, never rested
    assert reasons(r) == [(1, "order not live"), (99, "unknown order id"),
                          (2, "order not live"), (3, "order not live")]
    assert e.l3("X") == []


def test_duplicate_ids_rejected_live_or_dead(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 5)
    assert e.add("X", 1, BUY, LIMIT, 99, 5) == -1
    e.cancel(1)
    assert e.add("Y", 1, SELL, LIMIT, 99, 5) == -1  # ids are unique across the engine
    assert reasons(r) == [(1, "duplicate order id")] * 2


@pytest.mark.parametrize("args, reason", [
    ((0, LIMIT, 100, 5), "invalid side"),
    ((BUY, 7, 100, 5), "invalid order type"),
    ((BUY, LIMIT, 100, 0), "invalid quantity"),
    ((SELL, IOC, 100, -3), "invalid quantity"),
    ((BUY, LIMIT, 0, 5), "invalid price"),
    ((SELL, FOK, -100, 5), "invalid price"),
])
def test_invalid_fields(mk, args, reason):
    e, r = mk()
    side, otype, price, qty = args
    assert e.add("X", 1, side, otype, price, qty) == -1
    assert reasons(r) == [(1, reason)]
    assert e.add("X", 1, BUY, LIMIT, 100, 5) == 5  # a rejected add does not use up the id


def test_unknown_symbol_and_symbol_mismatch(mk):
    e, r = mk(symbols=["X", "Y"])
    assert e.add("Z", 1, BUY, LIMIT, 100, 5) == -1
    e.add("X", 2, BUY, LIMIT, 100, 5)
    assert e.cancel(2, "Y") is False and e.is_live(2)
    assert e.modify(2, 100, 1, symbol="Y") == -1
    assert reasons(r) == [(1, "unknown symbol"), (2, "symbol does not match order"),
                          (2, "symbol does not match order")]


def test_symbols_are_isolated(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5)
    e.add("Y", 2, BUY, LIMIT, 200, 5)
    assert r.trades == []
    e.add("Y", 3, SELL, MARKET, 0, 5)
    assert [(t.symbol, t.resting_id) for t in r.trades] == [("Y", 2)]


# ------------------------------------------------------------------ modify semantics
def test_modify_decrease_keeps_priority(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 10)
    e.add("X", 2, BUY, LIMIT, 100, 10)
    assert e.modify(1, 100, 4) == 4
    e.add("X", 3, SELL, LIMIT, 100, 6)
    assert trades(r) == [(100, 4, 3, 1, SELL), (100, 2, 3, 2, SELL)]


def test_modify_increase_loses_priority(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 10)
    e.add("X", 2, BUY, LIMIT, 100, 10)
    e.modify(1, 100, 11)
    assert [o.order_id for o in e.l3("X")] == [2, 1]
    e.add("X", 3, SELL, LIMIT, 100, 12)
    assert trades(r) == [(100, 10, 3, 2, SELL), (100, 2, 3, 1, SELL)]


def test_modify_price_change_loses_priority_even_when_returning(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 10)
    e.add("X", 2, BUY, LIMIT, 100, 10)
    e.modify(1, 99, 10)
    e.modify(1, 100, 10)
    assert [o.order_id for o in e.l3("X")] == [2, 1]


def test_modify_same_price_same_qty_is_a_no_op(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 10)
    e.add("X", 2, BUY, LIMIT, 100, 10)
    assert e.modify(1, 100, 10) == 10
    assert [o.order_id for o in e.l3("X")] == [1, 2]


def test_modify_that_crosses_trades_as_aggressor(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 101, 5, account=7)
    e.add("X", 2, BUY, LIMIT, 99, 8, account=8)
    assert e.modify(2, 101, 8, seq=5) == 3
    assert r.trades == [Trade(5, "X", 101, 5, 2, 1, BUY, 8, 7)]
    assert e.l3("X") == [L3Order(2, BUY, 101, 3, 8)]


def test_modify_rejects(mk):
    e, r = mk()
    e.add("X", 1, BUY, LIMIT, 100, 10)
    assert e.modify(1, 100, 0) == -1
    assert e.modify(1, 0, 5) == -1
    assert e.modify(5, 100, 5) == -1
    assert reasons(r) == [(1, "invalid quantity"), (1, "invalid price"), (5, "unknown order id")]
    assert e.l3("X") == [L3Order(1, BUY, 100, 10, 0)]


# ------------------------------------------------------------------ reports and market data
def test_execution_reports(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 5, account=1, seq=1)
    e.add("X", 2, BUY, IOC, 100, 8, account=2, seq=2)
    e.add("X", 3, SELL, LIMIT, 101, 5, account=1, seq=3)
    e.cancel(3, seq=4)
    got = [(x.seq, x.order_id, x.status.name, x.last_qty, x.last_price_ticks, x.leaves_qty)
           for x in r.executions]
    assert got == [
        (1, 1, "NEW", 0, 0, 5),
        (2, 1, "FILLED", 5, 100, 0),
        (2, 2, "PARTIALLY_FILLED", 5, 100, 3),
        (2, 2, "EXPIRED", 0, 0, 0),
        (3, 3, "NEW", 0, 0, 5),
        (4, 3, "CANCELED", 0, 0, 0),
    ]


def test_l2_snapshot_top_n_and_l3_order(mk):
    e, r = mk()
    for oid, (side, price, qty) in enumerate([(BUY, 100, 5), (BUY, 99, 3), (BUY, 100, 2),
                                              (BUY, 98, 1), (SELL, 102, 4), (SELL, 101, 6)], 1):
        e.add("X", oid, side, LIMIT, price, qty)
    snap = e.l2_snapshot("X", depth=2)
    assert snap.bids == (L2Level(100, 7, 2), L2Level(99, 3, 1))
    assert snap.asks == (L2Level(101, 6, 1), L2Level(102, 4, 1))
    assert [o.order_id for o in e.l3("X")] == [1, 3, 2, 4, 6, 5]


def test_l2_incremental_updates(mk):
    e, r = mk(l2=True)
    e.add("X", 1, BUY, LIMIT, 100, 5, seq=1)
    e.add("X", 2, SELL, LIMIT, 102, 5, seq=2)
    e.add("X", 3, SELL, LIMIT, 103, 5, seq=3)
    e.add("X", 4, BUY, LIMIT, 103, 7, seq=4)
    got = [(u.seq, u.side, u.price_ticks, u.qty, u.orders) for u in r.l2_updates]
    assert got == [(1, BUY, 100, 5, 1), (2, SELL, 102, 5, 1), (3, SELL, 103, 5, 1),
                   (4, SELL, 102, 0, 0), (4, SELL, 103, 3, 1)]


# ------------------------------------------------------------------ PnL
def test_pnl_average_cost_realized_unrealized_fees(mk):
    e, r = mk(fee_per_share_ticks=1)
    e.add("X", 1, SELL, LIMIT, 1000, 100, account=2)
    e.add("X", 2, BUY, LIMIT, 1000, 100, account=1)  # acct 1 long 100 @ 10.00
    e.add("X", 3, SELL, LIMIT, 1010, 100, account=2)
    e.add("X", 4, BUY, MARKET, 0, 100, account=1)  # long 200 @ 10.05
    e.add("X", 5, BUY, LIMIT, 1020, 300, account=3)
    e.add("X", 6, SELL, MARKET, 0, 300, account=1)  # sells 300 @ 10.20: flips to short 100
    v = e.position(1, "X")
    assert v.position == -100
    assert v.avg_price_ticks == 1020
    assert v.fees_ticks == 500
    assert v.realized_pnl_ticks == 200 * (1020 - 1005) - 500
    assert v.mark_ticks == 1020 and v.unrealized_pnl_ticks == 0
    assert e.position(2, "X").position == -200 and e.position(3, "X").position == 300
    assert e.position(2, "X").avg_price_ticks == 1005
    check_invariants(e)


def test_pnl_rounding_moves_only_the_split_total_is_exact(mk):
    e, r = mk()
    e.add("X", 1, SELL, LIMIT, 100, 1, account=2)
    e.add("X", 2, SELL, LIMIT, 101, 2, account=2)
    e.add("X", 3, BUY, MARKET, 0, 3, account=1)
    assert e.position(1, "X").avg_price_ticks == Fraction(302, 3)  # exact while untouched
    e.add("X", 4, BUY, LIMIT, 105, 1, account=3)
    e.add("X", 5, SELL, MARKET, 0, 1, account=1)
    v = e.position(1, "X")
    # One share of cost 302/3 = 100.66666.. leaves, rounded to 1e-4 tick: 100.6667.
    assert v.realized_pnl_ticks == Fraction(105) - Fraction(1006667, 10000)
    assert v.unrealized_pnl_ticks == 2 * 105 - (302 - Fraction(1006667, 10000))
    assert v.total_pnl_ticks == 105 + 2 * 105 - 302  # cash + marked position, exactly
    check_invariants(e)


def test_pnl_can_be_switched_off():
    e = MatchingEngine(pnl=False)
    e.add("X", 1, SELL, LIMIT, 100, 1)
    e.add("X", 2, BUY, LIMIT, 100, 1)
    with pytest.raises(ValueError, match="pnl=False"):
        e.position(1, "X")


def test_constants_match_marketdata():
    md = pytest.importorskip("labsupport.marketdata.schema")
    import labsupport.orderbook as ob
    for name in ("BUY", "SELL", "LIMIT", "MARKET", "IOC", "FOK", "ADD", "CANCEL", "MODIFY",
                 "PRICE_SCALE"):
        assert getattr(ob, name) == getattr(md, name), name


def test_scripted_teaching_scenario(mk):
    from labsupport.orderbook.scenarios import SCRIPT

    e, r = mk()
    for ev, _ in SCRIPT:
        e.process(ev)
        check_invariants(e)
    assert trades(r) == [(9999, 200, 6, 2, SELL), (9999, 50, 6, 3, SELL), (10001, 100, 7, 5, BUY),
                         (10002, 100, 9, 4, BUY), (9999, 30, 4, 3, SELL), (9999, 100, 4, 1, SELL)]
    assert reasons(r) == [(8, "fok not fillable"), (5, "order not live")]
    assert e.l3("ACME") == [L3Order(10, BUY, 9997, 100, 7), L3Order(4, SELL, 9999, 70, 4)]


def test_listener_attached_after_books_exist_sees_everything():
    e = MatchingEngine(["X"], pnl=False)
    e.add("X", 1, SELL, LIMIT, 100, 5)
    rec = Recorder(l2=True)
    e.listener = rec
    e.add("X", 2, BUY, LIMIT, 100, 2, seq=2)
    assert [(t.resting_id, t.qty) for t in rec.trades] == [(1, 2)]
    assert [(u.price_ticks, u.qty) for u in rec.l2_updates] == [(100, 3)]
    e.listener = None
    e.add("X", 3, BUY, LIMIT, 100, 1)
    assert len(rec.trades) == 1 and e.book("X").on_fill is None


def test_counting_listener_counts_what_a_recorder_keeps():
    from labsupport.orderbook import CountingListener
    from labsupport.orderbook.scenarios import SCRIPT

    rec, cnt = Recorder(l2=True), CountingListener()
    for listener in (rec, cnt):
        e = MatchingEngine(listener=listener)
        for ev, _ in SCRIPT:
            e.process(ev)
    assert (cnt.trades, cnt.executions, cnt.rejects, cnt.l2_updates) == (
        len(rec.trades), len(rec.executions), len(rec.rejects), len(rec.l2_updates))
    assert cnt.trades == 6


def test_scripted_scenario_with_text_ids_trades_the_same(mk):
    """ClOrdIDs and account names instead of ints: the same trades and PnL, under the names."""
    from labsupport.orderbook.scenarios import ACCOUNTS, SCRIPT, with_text_ids

    (e, r), (t, rt) = mk(), mk()
    for ev, _ in SCRIPT:
        e.process(ev)
    for ev in with_text_ids([ev for ev, _ in SCRIPT]):
        t.process(ev)
        check_invariants(t)
    assert [(f"ACME-{x.aggressor_id:04d}", f"ACME-{x.resting_id:04d}", x.qty, x.price_ticks,
             ACCOUNTS[x.aggressor_account], ACCOUNTS[x.resting_account]) for x in r.trades] == \
        [(x.aggressor_id, x.resting_id, x.qty, x.price_ticks, x.aggressor_account,
          x.resting_account) for x in rt.trades]
    assert [(x.order_id, x.reason) for x in rt.rejects] == [
        ("ACME-0008", "fok not fillable"), ("ACME-0005", "order not live")]
    assert {(ACCOUNTS[v.account], v.position, v.total_pnl_ticks) for v in e.pnl()} == \
        {(v.account, v.position, v.total_pnl_ticks) for v in t.pnl()}
    assert t.l3("ACME") == [L3Order("ACME-0010", BUY, 9997, 100, "gina"),
                            L3Order("ACME-0004", SELL, 9999, 70, "dan")]


def test_a_subclass_rule_sees_every_row_of_process_rows():
    """process_rows inlines the commonest events; an engine subclass that overrides add (a
    gateway rule) must still see each of them."""
    seen = []

    class Watching(MatchingEngine):
        def add(self, symbol, order_id, *rest):
            seen.append(order_id)
            return super().add(symbol, order_id, *rest)

    rows = [(1, "X", 0, 1, BUY, LIMIT, 100, 5, 1), (2, "X", 0, 2, BUY, LIMIT, 100, 5, 1)]
    Watching().process_rows(rows)  # the second joins an existing level: the inlined case
    assert seen == [1, 2]


def test_a_ladder_class_plugs_in_without_registering():
    from labsupport.orderbook.levels import HeapLadder

    e = MatchingEngine(ladder=HeapLadder)
    e.add("X", 1, SELL, LIMIT, 101, 5)
    e.add("X", 2, SELL, LIMIT, 100, 5)
    assert e.book("X").ladder_name == "heap" and e.best_bid_ask("X") == (None, 100)
