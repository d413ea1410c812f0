"""Pre-trade checks one at a time, at their boundaries: exactly at the limit passes, one unit
over fails; the order of the chain; the order-rate window's edges; open quantities."""

from __future__ import annotations

import pytest

from labsupport.risk import ENGINES, RiskEngine, make_engine
from labsupport.risk.events import BUY, CANCEL, FILL, MARK, ORDER, SELL, Event, parse_price

# Generous limits: each test tightens only the one it is about.
BASE = dict(capital=1_000_000, max_order_qty=1_000_000, max_order_notional=10**9,
            price_collar_pct=100, max_position=10**6, credit_limit=10**10,
            max_orders_per_s=10**6)


_ENGINE = {"kind": "python"}


@pytest.fixture(autouse=True, params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """Every check at its boundaries on both engines: the Python one and the compiled one."""
    _ENGINE["kind"] = request.param
    return request.param


def make(**limits: object) -> RiskEngine:
    body = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in {**BASE, **limits}.items())
    return make_engine("[defaults]\n" + body, engine=_ENGINE["kind"], clock=lambda: 0)


class Flow:
    """Feeds one engine with numbered events; prices as decimal text."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine
        self.seq = 0
        self.n = 0

    def _ev(self, *args: object, **kw: object) -> Event:
        self.seq += 1
        return Event(self.seq, *args, **kw)

    def mark(self, symbol: str, price: str, ts: int = 0) -> None:
        self.engine.process(self._ev(ts, MARK, symbol=symbol, price=parse_price(price)))

    def order(self, qty: int, price: str | None = "100", *, side: int = BUY, symbol: str = "X",
              account: str = "a", ts: int = 0, oid: str | None = None) -> str:
        self.n += 1
        oid = oid or f"o{self.n}"
        d = self.engine.process(self._ev(ts, ORDER, account, symbol, side, qty,
                                         None if price is None else parse_price(price), oid))
        assert d is not None and d.order_id == oid and d.accepted == (d.reason == "")
        return d.reason or "accept"

    def fill(self, oid: str, qty: int, price: str = "100", *, side: int = BUY,
             symbol: str = "X", account: str = "a", ts: int = 0) -> None:
        self.engine.process(self._ev(ts, FILL, account, symbol, side, qty, parse_price(price),
                                     oid))

    def cancel(self, oid: str, ts: int = 0) -> None:
        self.engine.process(self._ev(ts, CANCEL, order_id=oid))


def test_halted_comes_first_and_stays() -> None:
    f = Flow(make(max_order_qty=1))
    f.engine.halt("a")
    assert f.order(5, oid="o1") == "halted"  # would fail max_order_qty too: halted wins
    assert f.order(1, oid="o1") == "halted"  # and duplicate
    assert f.order(1, account="b") == "accept"  # only that account


def test_duplicate_ids_accepted_or_rejected_before() -> None:
    f = Flow(make(max_order_qty=10))
    assert f.order(1, oid="x") == "accept"
    assert f.order(1, oid="x") == "duplicate"
    assert f.order(11, oid="y") == "max_order_qty"
    assert f.order(1, oid="y") == "duplicate"  # a rejected id is used too
    assert f.order(1, oid="x", account="b") == "duplicate"  # ids are engine-wide


def test_restricted() -> None:
    f = Flow(make(restricted=["BAD"]))
    assert f.order(1, symbol="BAD") == "restricted"
    assert f.order(1, symbol="GOOD") == "accept"


@pytest.mark.parametrize("qty, want", [(100, "accept"), (101, "max_order_qty")])
def test_max_order_qty_boundary(qty: int, want: str) -> None:
    assert Flow(make(max_order_qty=100)).order(qty) == want


@pytest.mark.parametrize("qty, price, want", [
    (10, "100", "accept"),  # exactly 1000
    (10, "100.0001", "max_order_notional"),  # one price unit over, times 10
    (1, "1000.0001", "max_order_notional"),
    (1, "1000", "accept"),
])
def test_max_order_notional_boundary_on_the_limit_price(qty: int, price: str, want: str) -> None:
    assert Flow(make(max_order_notional=1000)).order(qty, price) == want


def test_market_order_valued_at_the_last_mark_and_no_price_without_one() -> None:
    f = Flow(make(max_order_notional=1000))
    assert f.order(10, None) == "no_price"
    f.mark("X", "100")
    assert f.order(10, None) == "accept"
    f.mark("X", "100.0001")
    assert f.order(10, None) == "max_order_notional"


@pytest.mark.parametrize("pct, price, want", [
    ("5", "105", "accept"), ("5", "105.0001", "price_collar"),
    ("5", "95", "accept"), ("5", "94.9999", "price_collar"),
    ("2.5", "102.5", "accept"), ("2.5", "102.5001", "price_collar"),
    ("0", "100", "accept"), ("0", "100.0001", "price_collar"),
])
def test_price_collar_boundary_in_exact_decimals(pct: str, price: str, want: str) -> None:
    f = Flow(make(price_collar_pct=float(pct)))
    f.mark("X", "100")
    assert f.order(1, price) == want


def test_price_collar_needs_a_mark_and_skips_market_orders() -> None:
    f = Flow(make(price_collar_pct=1))
    assert f.order(1, "500") == "accept"  # no mark yet: nothing to collar against
    f.mark("X", "100")
    assert f.order(1, "500") == "price_collar"
    assert f.order(1, None) == "accept"


def test_max_position_counts_position_and_open_orders_per_side() -> None:
    f = Flow(make(max_position=100))
    assert f.order(60) == "accept"  # o1: open buy 60
    assert f.order(40) == "accept"  # o2: open buy 100 = max
    assert f.order(1) == "max_position"  # o3
    assert f.order(100, side=SELL) == "accept"  # o4: sells are checked on their own side
    assert f.order(1, side=SELL) == "max_position"  # o5
    f.fill("o1", 60)  # position 60, open buy 40: still 100 reserved
    assert f.order(1) == "max_position"  # o6
    f.cancel("o2")  # releases 40
    assert f.order(40) == "accept"  # o7: 60 + 0 + 40 = 100
    assert f.order(1) == "max_position"  # o8
    # A sell: position 60 - open sells 100 - qty >= -100 -> at most 60 more.
    f.cancel("o4")
    assert f.order(160, side=SELL) == "accept"  # 60 - 0 - 160 = -100
    assert f.order(1, side=SELL) == "max_position"
    assert f.engine.open_quantity("a", "X") == (40, 160)


def test_partial_fills_and_fills_beyond_the_order_release_only_what_is_open() -> None:
    f = Flow(make(max_position=100))
    assert f.order(50) == "accept"  # o1
    f.fill("o1", 20)
    assert f.engine.open_quantity("a", "X") == (30, 0)
    f.fill("o1", 45)  # more than open: the position moves by 45, the order is done
    assert f.engine.open_quantity("a", "X") == (0, 0)
    assert f.engine.position("a", "X") == 65
    assert f.engine.unknown_fills == 0
    f.fill("o1", 1)  # the order is closed: an unknown fill, still applied
    f.fill("nope", 1)
    assert f.engine.unknown_fills == 2 and f.engine.position("a", "X") == 67
    assert f.order(33) == "accept" and f.order(1) == "max_position"


def test_credit_limit_boundary_on_gross_exposure_plus_the_order() -> None:
    f = Flow(make(credit_limit=10_000))
    assert f.order(50, "100") == "accept"  # o1
    f.fill("o1", 50, "100")  # gross exposure 5000 (no mark: valued at the fill price)
    assert f.order(50, "100") == "accept"  # 5000 + 5000 = 10000
    assert f.order(1, "5000.0001") == "credit"  # 5000 + 5000.0001
    f.mark("X", "80")  # gross 4000: more room
    assert f.order(1, "6000", symbol="Y") == "accept"  # 4000 + 6000: open orders do not count
    assert f.order(1, "6000.0001", symbol="Y") == "credit"


@pytest.mark.parametrize("times, want", [
    # (ts of earlier orders, ts of the order checked) with max 2 per second
    (([0, 0], 999_999_999), "order_rate"),  # both still in (ts - 1 s, ts]
    (([0, 0], 1_000_000_000), "accept"),  # ts - 1 s is outside the window
    (([1, 500_000_000], 1_000_000_000), "order_rate"),  # 1 ns inside the window
    (([0, 500_000_000], 1_000_000_000), "accept"),
    (([0, 500_000_000], 1_499_999_999), "accept"),
    (([7, 7], 7), "order_rate"),  # ts itself is inside
])
def test_order_rate_window_edges(times: tuple[list[int], int], want: str) -> None:
    f = Flow(make(max_orders_per_s=2))
    earlier, ts = times
    for t in earlier:
        f.order(1, ts=t)
    assert f.order(1, ts=ts) == want


def test_rejected_orders_count_in_the_rate_window() -> None:
    f = Flow(make(max_orders_per_s=2, max_order_qty=5))
    assert f.order(9, ts=0) == "max_order_qty"
    assert f.order(9, ts=1) == "max_order_qty"
    assert f.order(1, ts=2) == "order_rate"  # 3 in the window, 2 of them rejected
    assert f.order(1, ts=2, account="b") == "accept"  # per account
    assert f.order(1, ts=1_000_000_001) == "accept"  # 0 and 1 left; 2 and this one: 2


def test_chain_order_first_failure_is_the_reason() -> None:
    f = Flow(make(max_order_qty=10, max_order_notional=100, price_collar_pct=1, max_position=5,
                  credit_limit=50, max_orders_per_s=1, restricted=["R"]))
    f.mark("X", "10")
    assert f.order(100, "20", symbol="R") == "restricted"
    assert f.order(100, "20") == "max_order_qty"
    assert f.order(10, "20") == "max_order_notional"
    assert f.order(5, "20") == "price_collar"  # 100 notional: at the limit, passes
    assert f.order(6, "10") == "max_position"
    assert f.order(5, "10.1") == "credit"  # 50.5 > 50 (collar: 1 % exactly passes)
    assert f.order(5, "10") == "order_rate"  # all at ts 0: the 7th order this second
