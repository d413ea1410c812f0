"""Exercises of notebook 02: rules and designs that plug into the matching engine.

- 02.1 post-only orders: an engine subclass that rejects a post-only order that would cross;
- 02.2 self-trade prevention: an engine subclass that cancels the resting order of the same
  account instead of trading with it;
- 02.3 a fourth price ladder, a fixed array of levels, run through the same differential cases
  as the ladders in ``LADDERS``;
- 02.4 PnL as a batch over the trade tape instead of a fill hook, equal to the reference's.

Each check compares the learner's code with an independent, deliberately simple model: the
naive :class:`~labsupport.orderbook.ReferenceEngine` taught the same rule here, the default
sorted-list ladder, or the reference's PnL recomputed in Fractions from every fill.
"""

from __future__ import annotations

import random

from ..orderbook import (
    ADD,
    BUY,
    CANCEL,
    IOC,
    LIMIT,
    MARKET,
    NO_ASK,
    NO_BID,
    SELL,
    L3Order,
    MatchingEngine,
    OrderEvent,
    Recorder,
    ReferenceEngine,
    Status,
    Trade,
)
from ..orderbook.bench import depth_rows
from ..orderbook.levels import SortedListLadder
from ..orderbook.scenarios import SCRIPT, random_stream
from . import Case, Property, exercise

POST_ONLY = 4
"""The order type code of a post-only order (after LIMIT=0, MARKET=1, IOC=2, FOK=3)."""
R_POST_ONLY = "post only would cross"


def _outcome(engine, rec, symbols=("X", "Y")):
    """What a check compares: trades, rejects and every resting order (L3)."""
    books = {s: engine.l3(s) for s in symbols if s in engine.symbols}
    return {"trades": rec.trades, "rejects": rec.rejects, "l3": books}


def _ref_outcome(ref, symbols=("X", "Y")):
    books = {}
    for s in symbols:
        if s in ref.books:
            orders = []
            for side in (BUY, SELL):
                key = (lambda o: (-o["price"], o["stamp"])) if side == BUY else \
                    (lambda o: (o["price"], o["stamp"]))
                orders += [L3Order(o["id"], side, o["price"], o["qty"], o["account"])
                           for o in sorted((o for o in ref.books[s] if o["side"] == side), key=key)]
            books[s] = orders
    return {"trades": ref.trades, "rejects": ref.rejects, "l3": books}


def _run(cls, events, **kw):
    rec = Recorder()
    engine = cls(listener=rec, **kw)
    for e in events:
        engine.process(e)
    return engine, rec


def _against_model(name, seeds, learner, model, show):
    """A property over seeds: the learner's outcome and the model's, compared part by part, so a
    failure names the first trade, reject or book that differs instead of two whole dicts."""
    return Property(name, lambda: seeds, lambda seed: _first_difference(learner(seed), model(seed)),
                    lambda seed: "same", show=show)


def _first_difference(got: dict, want: dict) -> str:
    """"same", or where the learner's outcome first departs from the model's."""
    for key, w in want.items():
        g = got[key]
        if g == w:
            continue
        if isinstance(w, list):
            for i, (gi, wi) in enumerate(zip(g, w)):
                if gi != wi:
                    return f"{key}[{i}]: expected {wi}, got {gi}"
            return f"{key}: expected {len(w)} of them, got {len(g)}"
        return f"{key}: expected {w}, got {g}"
    return "same"


# --- 02.1 post-only --------------------------------------------------------------------------
def _post_only_stream(seed: int, n: int = 300) -> list[OrderEvent]:
    rng = random.Random(seed)
    events, ids = [], []
    for seq in range(1, n + 1):
        sym = rng.choice(("X", "Y"))
        if rng.random() < 0.7 or not ids:
            otype = rng.choice((LIMIT, LIMIT, POST_ONLY, POST_ONLY, IOC))
            oid = seq if rng.random() > 0.03 or not ids else rng.choice(ids)  # a few duplicates
            ids.append(oid)
            events.append(OrderEvent(seq, sym, ADD, oid, rng.choice((BUY, SELL)), otype,
                                     rng.randint(97, 103), rng.randint(1, 9), rng.randint(1, 3)))
        else:
            events.append(OrderEvent(seq, None, CANCEL, rng.choice(ids)))
    return events


class _PostOnlyReference(ReferenceEngine):
    """The reference taught the rule: a post-only that would trade on arrival is rejected, else
    it is a limit order."""

    def add(self, symbol, oid, side, otype, price, qty, account=0, seq=0):
        if otype == POST_ONLY:
            opposite = [o["price"] for o in self.books.get(symbol, []) if o["side"] == -side]
            if opposite and (price >= min(opposite) if side == BUY else price <= max(opposite)):
                return self._reject(seq, oid, R_POST_ONLY)
            otype = LIMIT
        return super().add(symbol, oid, side, otype, price, qty, account, seq)


def _ref_run(cls, events, **kw):
    ref = cls(**kw)
    for e in events:
        ref.process(e)
    return ref


@exercise("02.1", "Post-only orders", attr="PostOnlyEngine")
def _post_only(engine_cls):
    def scenario():
        e, rec = _run(engine_cls, [])
        e.add("X", 1, SELL, LIMIT, 100, 5)
        e.add("X", 2, BUY, POST_ONLY, 100, 5)
        e.add("X", 3, BUY, POST_ONLY, 99, 5)
        return [r.reason for r in rec.rejects], e.is_live(3), rec.trades

    def one(events):
        e, rec = _run(engine_cls, events)
        return [r.reason for r in rec.rejects], e.l3("X"), len(rec.trades)

    ask = OrderEvent(1, "X", ADD, 1, SELL, LIMIT, 100, 5, 1)
    bid = OrderEvent(1, "X", ADD, 1, BUY, LIMIT, 100, 5, 1)

    def differential(seed):
        events = _post_only_stream(seed)
        e, rec = _run(engine_cls, events)
        return _outcome(e, rec)

    def fast_path(seed):  # process_rows without a listener must apply the same rule
        events = _post_only_stream(seed)
        e = engine_cls()
        e.process_rows([(x.seq, x.symbol, x.action, x.order_id, x.side, x.type, x.price_ticks,
                         x.qty, x.account) for x in events])
        return {"l3": {s: e.l3(s) for s in ("X", "Y") if s in e.symbols}}

    def model(seed):
        return _ref_outcome(_ref_run(_PostOnlyReference, _post_only_stream(seed)))

    return [
        Case("the notebook's scenario: one reject, the bid at 99 rests", scenario,
             ([R_POST_ONLY], True, []), input="sell 5@100; post-only buy 5@100; post-only buy 5@99"),
        Case("a post-only buy below the ask rests", lambda: one(
            [ask, OrderEvent(2, "X", ADD, 2, BUY, POST_ONLY, 99, 4, 2)]),
            ([], [L3Order(2, BUY, 99, 4, 2), L3Order(1, SELL, 100, 5, 1)], 0),
            input="sell 5@100; post-only buy 4@99"),
        Case("a post-only sell at the best bid would cross", lambda: one(
            [bid, OrderEvent(2, "X", ADD, 2, SELL, POST_ONLY, 100, 4, 2)]),
            ([R_POST_ONLY], [L3Order(1, BUY, 100, 5, 1)], 0),
            input="buy 5@100; post-only sell 4@100"),
        Case("on an empty book a post-only rests", lambda: one(
            [OrderEvent(1, "X", ADD, 7, SELL, POST_ONLY, 100, 3, 1)]),
            ([], [L3Order(7, SELL, 100, 3, 1)], 0), input="post-only sell 3@100, nothing else"),
        Case("a rejected post-only does not use up its id", lambda: one(
            [ask, OrderEvent(2, "X", ADD, 2, BUY, POST_ONLY, 101, 5, 2),
             OrderEvent(3, "X", ADD, 2, BUY, LIMIT, 98, 5, 2)]),
            ([R_POST_ONLY], [L3Order(2, BUY, 98, 5, 2), L3Order(1, SELL, 100, 5, 1)], 0),
            input="sell 5@100; post-only buy id 2 @101; limit buy id 2 @98"),
        Case("a crossing limit order still trades", lambda: one(
            [ask, OrderEvent(2, "X", ADD, 2, BUY, LIMIT, 101, 2, 2)]),
            ([], [L3Order(1, SELL, 100, 3, 1)], 1), input="sell 5@100; limit buy 2@101"),
        _against_model("random streams: same trades, rejects and book as the reference",
                       range(6), differential, model,
                       show=lambda seed: f"lab02._post_only_stream({seed}), 300 events"),
        _against_model("process_rows (the fast path) applies the rule too", range(3), fast_path,
                       lambda seed: {"l3": model(seed)["l3"]},
                       show=lambda seed: f"lab02._post_only_stream({seed}) through process_rows"),
    ]


# --- 02.2 self-trade prevention ----------------------------------------------------------------
def _stp_stream(seed: int, n: int = 300) -> list[OrderEvent]:
    """Well-formed adds with fresh ids (limit, market, IOC) by three accounts, and cancels."""
    rng = random.Random(seed)
    events, ids = [], []
    for seq in range(1, n + 1):
        sym = rng.choice(("X", "Y"))
        if rng.random() < 0.75 or not ids:
            otype = rng.choice((LIMIT, LIMIT, LIMIT, IOC, MARKET))
            price = 0 if otype == MARKET else rng.randint(98, 102)
            ids.append(seq)
            events.append(OrderEvent(seq, sym, ADD, seq, rng.choice((BUY, SELL)), otype, price,
                                     rng.randint(1, 9), rng.randint(1, 3)))
        else:
            events.append(OrderEvent(seq, None, CANCEL, rng.choice(ids)))
    return events


class _StpReference(ReferenceEngine):
    """The reference taught cancel-resting STP inside its matching loop: the best acceptable
    resting order, if it is the aggressor's own, is removed instead of traded, and matching goes on."""

    def _match(self, seq, symbol, oid, side, otype, limit, qty, account):
        orders = self.books[symbol]
        while qty > 0:
            candidates = [o for o in orders if o["side"] == -side
                          and self._acceptable(side, otype, limit, o["price"])]
            if not candidates:
                break
            key = (lambda o: (o["price"], o["stamp"])) if side == BUY else \
                (lambda o: (-o["price"], o["stamp"]))
            best = min(candidates, key=key)
            if best["account"] == account:  # self-trade: the resting order goes, matching goes on
                orders.remove(best)
                continue
            fill = min(qty, best["qty"])
            qty -= fill
            best["qty"] -= fill
            if best["qty"] == 0:
                orders.remove(best)
            self.trades.append(Trade(seq, symbol, best["price"], fill, oid, best["id"], side,
                                     account, best["account"]))
            self.fills.append((account, symbol, side, best["price"], fill))
            self.fills.append((best["account"], symbol, -side, best["price"], fill))
        return qty


@exercise("02.2", "Self-trade prevention (cancel resting)", attr="StpEngine")
def _stp(engine_cls):
    def trades_of(events):
        e, rec = _run(engine_cls, events)
        return ([(t.aggressor_id, t.resting_id, t.qty, t.price_ticks) for t in rec.trades],
                {s: [(o.order_id, o.qty) for o in e.l3(s)] for s in e.symbols})

    def canceled_reports(events):
        _, rec = _run(engine_cls, events)
        return [(x.order_id, x.seq) for x in rec.executions if x.status == Status.CANCELED]

    def ev(seq, oid, side, otype, price, qty, acct):
        return OrderEvent(seq, "X", ADD, oid, side, otype, price, qty, acct)

    own = [ev(1, 1, SELL, LIMIT, 100, 5, 1), ev(2, 2, BUY, LIMIT, 100, 5, 1)]
    mixed = [ev(1, 1, SELL, LIMIT, 100, 5, 1), ev(2, 2, SELL, LIMIT, 100, 5, 2),
             ev(3, 3, SELL, LIMIT, 101, 5, 1), ev(4, 4, BUY, LIMIT, 101, 7, 1)]

    def differential(seed):
        e, rec = _run(engine_cls, _stp_stream(seed))
        return _outcome(e, rec)

    return [
        Case("account 1 crossing itself prints no trade", lambda: trades_of(own),
             ([], {"X": [(2, 5)]}), input="acct 1 sells 5@100, then acct 1 buys 5@100"),
        Case("the own orders it reaches are cancelled, the others still trade",
             lambda: trades_of(mixed), ([(4, 2, 5, 100)], {"X": [(4, 2)]}),
             input="sells: acct1 5@100, acct2 5@100, acct1 5@101; acct 1 buys 7@101"),
        Case("the cancelled resting order gets a CANCELED report at the incoming seq",
             lambda: canceled_reports(own), [(1, 2)], input="acct 1 sells 5@100, then buys 5@100"),
        Case("a market order skips its own orders", lambda: trades_of(
            [ev(1, 1, SELL, LIMIT, 100, 5, 1), ev(2, 2, SELL, LIMIT, 101, 5, 2),
             ev(3, 3, BUY, MARKET, 0, 5, 1)]), ([(3, 2, 5, 101)], {"X": []}),
             input="acct1 sells 5@100, acct2 sells 5@101; acct 1 buys 5 at market"),
        Case("an own order beyond what the order fills is left alone", lambda: trades_of(
            [ev(1, 1, SELL, LIMIT, 100, 5, 2), ev(2, 2, SELL, LIMIT, 100, 5, 1),
             ev(3, 3, BUY, IOC, 100, 5, 1)]), ([(3, 1, 5, 100)], {"X": [(2, 5)]}),
             input="acct2 sells 5@100, acct1 sells 5@100; acct 1 buys 5 IOC @100"),
        _against_model("random streams: same trades, rejects and book as the reference",
                       range(6), differential,
                       lambda seed: _ref_outcome(_ref_run(_StpReference, _stp_stream(seed))),
                       show=lambda seed: f"lab02._stp_stream({seed}), 300 events"),
        Property("no trade ever has the same account on both sides", lambda: range(6, 10),
                 lambda seed: [t for t in _run(engine_cls, _stp_stream(seed))[1].trades
                               if t.aggressor_account == t.resting_account],
                 lambda seed: [], show=lambda seed: f"lab02._stp_stream({seed})"),
    ]


# --- 02.3 a fourth ladder ----------------------------------------------------------------------
def _ladder_script(seed: int, n: int = 400) -> list[tuple[str, int]]:
    """Operations as the book issues them: insert a price not in the ladder, remove one that is
    but is not the best, pop the best; prices cluster near a touch but some land far away."""
    rng = random.Random(seed)
    live: set[int] = set()
    ops = []
    for _ in range(n):
        u = rng.random()
        if u < 0.5 or not live:
            p = rng.randint(990, 1010) if rng.random() < 0.9 else rng.randint(1, 200_000)
            if p not in live:
                live.add(p)
                ops.append(("insert", p))
        elif u < 0.8 and len(live) > 1:
            p = rng.choice(sorted(live))
            ops.append(("remove", p))  # the runner turns a remove of the best into pop_best
        else:
            ops.append(("pop_best", 0))
    return ops


def _run_ladder(cls, side: int, ops: list[tuple[str, int]]) -> list:
    """Apply a script to a ladder of one side; record what pop_best returns and the final
    prices. A remove of the current best is issued as pop_best, as the book does."""
    ladder = cls(side)
    model: set[int] = set()
    out = []
    for op, p in ops:
        best = (max if side == BUY else min)(model) if model else None
        if op == "insert":
            ladder.insert(p)
            model.add(p)
        elif op == "remove" and p in model and p != best:
            ladder.remove(p)
            model.discard(p)
        elif model:
            out.append(("pop_best", ladder.pop_best()))
            model.discard(best)
    out.append(("prices", list(ladder.prices())))
    out.append(("len", len(ladder)))
    return out


@exercise("02.3", "A fourth ladder: a fixed array of levels", attr="ArrayLadder")
def _array_ladder(ladder_cls):
    def prices_after(side, inserts, pops=0):
        ladder = ladder_cls(side)
        for p in inserts:
            ladder.insert(p)
        popped = [ladder.pop_best() for _ in range(pops)]
        return popped, list(ladder.prices()), len(ladder)

    def removed(side):
        ladder = ladder_cls(side)
        for p in (100, 101, 102, 103):
            ladder.insert(p)
        ladder.remove(101)
        return list(ladder.prices())

    def engine_outcome(seed):
        events = random_stream(seed, 400)
        e, rec = _run(MatchingEngine, events, ladder=ladder_cls)
        return _outcome(e, rec)

    def reference_outcome(seed):
        return _ref_outcome(_ref_run(ReferenceEngine, random_stream(seed, 400)))

    def deep_book(ladder):
        prefill, stream = depth_rows(200, 4000, seed=3)
        e = MatchingEngine(ladder=ladder, pnl=False)
        e.process_rows(prefill + stream)
        return e.l3(0)

    return [
        Case("bids: best is the highest, pop_best gives the next", lambda: prices_after(
            BUY, [100, 102, 101], pops=1), ([101], [101, 100], 2), input="bids 100, 102, 101; pop"),
        Case("asks: best is the lowest, pop_best gives the next", lambda: prices_after(
            SELL, [100, 102, 101], pops=1), ([101], [101, 102], 2), input="asks 100, 102, 101; pop"),
        Case("an emptied side returns the sentinel", lambda: (
            prices_after(BUY, [5], pops=1)[0], prices_after(SELL, [5], pops=1)[0]),
            ([NO_BID], [NO_ASK]), input="one level, popped, on each side"),
        Case("remove a level behind the best", lambda: (removed(BUY), removed(SELL)),
             ([103, 102, 100], [100, 102, 103]), input="100..103, remove 101"),
        Case("prices far apart (outside the first window)", lambda: prices_after(
            SELL, [100_000, 3, 150_000, 99_999], pops=2), ([99_999, 100_000], [100_000, 150_000], 2),
             input="asks 100000, 3, 150000, 99999; pop twice"),
        Property("same answers as the sorted list on random scripts", lambda: range(8),
                 lambda seed: [_run_ladder(ladder_cls, s, _ladder_script(seed)) for s in (BUY, SELL)],
                 lambda seed: [_run_ladder(SortedListLadder, s, _ladder_script(seed))
                               for s in (BUY, SELL)],
                 show=lambda seed: f"lab02._ladder_script({seed}) on both sides"),
        _against_model("the engine with it matches the reference (the LADDERS cases)", range(4),
                       engine_outcome, reference_outcome,
                       show=lambda seed: f"scenarios.random_stream({seed}, 400)"),
        Case("a book 200 levels deep ends as with the sorted list",
             lambda: deep_book(ladder_cls), deep_book("sorted-list"),
             input="bench.depth_rows(200, 4000, seed=3)", compare=lambda a, b: a == b),
    ]


# --- 02.4 PnL as a batch -----------------------------------------------------------------------
@exercise("02.4", "PnL from the trade tape, in one batch", attr="batch_pnl")
def _batch_pnl(batch_pnl):
    T = Trade

    def tape(seed):
        events = random_stream(seed, 600)
        _, rec = _run(MatchingEngine, events)
        return rec.trades

    def reference(seed, fee):
        return _ref_run(ReferenceEngine, random_stream(seed, 600), fee_per_share_ticks=fee).pnl()

    def ref_of(trades, fee=0):
        ref = ReferenceEngine(fee_per_share_ticks=fee)
        for t in trades:
            ref.fills.append((t.aggressor_account, t.symbol, t.aggressor_side, t.price_ticks, t.qty))
            ref.fills.append((t.resting_account, t.symbol, -t.aggressor_side, t.price_ticks, t.qty))
        return ref.pnl()

    round_trip = [T(1, "X", 100, 10, 1, 2, BUY, 1, 2), T(2, "X", 110, 10, 3, 4, SELL, 3, 1)]
    through_zero = [T(1, "X", 100, 10, 1, 2, BUY, 1, 2), T(2, "X", 95, 15, 3, 4, BUY, 3, 1),
                    T(3, "X", 97, 3, 5, 6, SELL, 2, 1)]
    thirds = [T(1, "X", 100, 1, 1, 2, BUY, 1, 2), T(2, "X", 101, 1, 3, 4, BUY, 1, 2),
              T(3, "X", 101, 1, 5, 6, BUY, 1, 2), T(4, "X", 103, 1, 7, 8, SELL, 3, 1)]
    text = [T(1, "X", 100, 4, "o1", "o2", BUY, "acc2", "acc10"),
            T(2, "Y", 50, 4, "o3", "o4", SELL, 7, "acc2")]
    script = _run(MatchingEngine, [e for e, _ in SCRIPT])[1].trades
    return [
        Case("a round trip realizes the difference", lambda: batch_pnl(round_trip),
             ref_of(round_trip), input="1 buys 10@100 from 2, sells 10@110 to 3"),
        Case("a fill through zero closes, then opens at the fill price",
             lambda: batch_pnl(through_zero), ref_of(through_zero),
             input="1 buys 10@100, sells 15@95, buys 3@97"),
        Case("a partial close removes cost in proportion, rounded once",
             lambda: batch_pnl(thirds), ref_of(thirds), input="1 buys 1@100, 1@101, 1@101; sells 1@103"),
        Case("fees are charged to both sides", lambda: batch_pnl(round_trip, 3),
             ref_of(round_trip, 3), input="the round trip, fee 3 ticks per share"),
        Case("text and int accounts, ints sorted first", lambda: batch_pnl(text), ref_of(text),
             input="accounts 'acc2', 'acc10', 7 in two symbols"),
        Case("the notebook's scenario", lambda: batch_pnl(script), ref_of(script),
             input="scenarios.SCRIPT"),
        Property("random streams: equal to the reference's PnL", lambda: [(s, s % 3) for s in range(6)],
                 lambda a: batch_pnl(tape(a[0]), a[1]), lambda a: reference(*a),
                 show=lambda a: f"trades of scenarios.random_stream({a[0]}, 600), fee {a[1]}"),
    ]
