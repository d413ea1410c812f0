"""Exercises of notebook 11: the two pieces of the compiled engine's layout a learner writes.

- 11.1 re-centring the price window: the new base of a book's window when a price falls
  outside it, checked against the rule the kernels use (:mod:`labsupport.fastbook._nbcore`);
- 11.2 the id boundary: order ids (ints and text) to int64 keys and back, checked by property
  and by feeding the learner's keys to :meth:`FastEngine.process_events`, whose outcome must be
  the one of :meth:`FastEngine.process_rows` on the original ids;
- 11.3 the kernels' PnL step: one fill applied to an average-cost position in integer cost
  units, checked fill by fill against Lab 02's own ``PositionBook`` on generated fill sequences.
"""

from __future__ import annotations

import random

import numpy as np

from ..fastbook import FastEngine
from ..fastbook.compare import outcome
from ..orderbook.pnl import COST_SCALE, PositionBook
from ..orderbook.scenarios import random_stream
from . import Case, Property, exercise

KEY_LIMIT = 1 << 62


def model_recentre(base: int, width: int, lo: int, hi: int, price: int) -> int | None:
    """The kernels' rule: the occupied range [lo, hi] plus ``price``, centred, base >= 0."""
    lo_p, hi_p = min(lo, price), max(hi, price)
    span = hi_p - lo_p + 1
    if span > width:
        return None
    return max(0, lo_p - (width - span) // 2)


def _windows(seed: int) -> tuple[int, int, int, int, int]:
    rng = random.Random(seed)
    width = rng.choice([4, 16, 64, 4096])
    lo = rng.randint(1, 10_000)
    hi = lo + rng.randint(0, width - 1)
    base = max(0, lo - rng.randint(0, width - 1 - (hi - lo)))
    price = rng.choice([lo - rng.randint(1, 3 * width), hi + rng.randint(1, 3 * width),
                        rng.randint(1, 3 * width)])
    return base, width, lo, hi, max(1, price)


@exercise("11.1", "Re-centre the price window", attr="recentre")
def _recentre(recentre):
    return [
        Case("fits: centred on the new span", lambda: recentre(1000, 32, 1004, 1010, 1020), 997,
             "recentre(base=1000, width=32, lo=1004, hi=1010, price=1020)"),
        Case("below: the window moves down", lambda: recentre(1000, 16, 1004, 1010, 995), 995,
             "recentre(1000, 16, 1004, 1010, 995)"),
        Case("too wide: None (the owner grows the window)",
             lambda: recentre(1000, 16, 1004, 1010, 1030), None, "recentre(1000, 16, 1004, 1010, 1030)"),
        Case("near zero: the base stays >= 0", lambda: recentre(20, 64, 20, 30, 1), 0,
             "recentre(20, 64, 20, 30, 1)"),
        Property("the kernels' rule on 300 windows", lambda: range(300),
                 lambda s: recentre(*_windows(s)), lambda s: model_recentre(*_windows(s)),
                 show=lambda s: f"recentre{_windows(s)}"),
    ]


def model_encode_ids(ids: list) -> tuple[np.ndarray, list]:
    keys, names, out = {}, [], []
    for v in ids:
        if type(v) is int and 0 <= v < KEY_LIMIT:
            out.append(v)
            continue
        if v not in keys:
            names.append(v)
            keys[v] = -len(names)
        out.append(keys[v])
    return np.array(out, dtype=np.int64), names


def _id_lists(seed: int) -> list:
    rng = random.Random(seed)
    pool = [rng.randint(0, 50) for _ in range(5)] + [f"o{rng.randint(0, 9)}" for _ in range(5)] \
        + ["7", 7, -3, 2**63, "x"]
    return [rng.choice(pool) for _ in range(rng.randint(0, 30))]


def _through_engine(encode_ids, seed: int):
    """The learner's keys in the kernel rows: same outcome as the engine's own boundary."""
    events = random_stream(seed, 400)
    ids = [e.order_id if e.order_id % 5 else f"c{e.order_id}" for e in events]
    rows = [(e.seq, e.symbol, e.action, oid, e.side, e.type, e.price_ticks, e.qty, e.account)
            for e, oid in zip(events, ids, strict=True)]
    want = FastEngine("cython" if _has_cython() else "numba")
    want.process_rows(rows)
    got = FastEngine("cython" if _has_cython() else "numba")
    keys, names = encode_ids(ids)
    ev = got.encode_rows([(r[0], r[1], r[2], 0) + r[4:] for r in rows])
    ev[:, 3] = keys
    got.ids.names[:] = names
    got.ids.keys.update({n: -i for i, n in enumerate(names, 1)})
    got.process_events(ev)
    return outcome(got) == outcome(want)


def _has_cython() -> bool:
    from ..fastbook import cython_available

    return cython_available()


@exercise("11.2", "Order ids to int64 keys at the boundary", attr="encode_ids")
def _encode(encode_ids):
    def as_lists(result):
        keys, names = result
        return [int(k) for k in np.asarray(keys)], list(names)

    return [
        Case("ints pass through, text gets -1, -2, ...",
             lambda: as_lists(encode_ids([5, "o1", 6, "o2", "o1"])), ([5, -1, 6, -2, -1], ["o1", "o2"]),
             "encode_ids([5, 'o1', 6, 'o2', 'o1'])"),
        Case("7 and '7' are two orders", lambda: as_lists(encode_ids([7, "7", 7])),
             ([7, -1, 7], ["7"]), "encode_ids([7, '7', 7])"),
        Case("ints outside [0, 2**62) are interned too", lambda: as_lists(encode_ids([-3, 2**63])),
             ([-1, -2], [-3, 2**63]), "encode_ids([-3, 2**63])"),
        Property("the boundary's rule on 200 id lists", lambda: range(200),
                 lambda s: as_lists(encode_ids(_id_lists(s))),
                 lambda s: as_lists(model_encode_ids(_id_lists(s))),
                 show=lambda s: f"encode_ids({_id_lists(s)!r})"),
        Property("the keys drive the engine to the same outcome", lambda: range(3),
                 lambda s: _through_engine(encode_ids, s), lambda s: True,
                 show=lambda s: f"random_stream({s}, 400) with text ids"),
    ]


def _fills(seed: int) -> list[tuple[int, int]]:
    """(signed qty, price ticks) fills of one account: adds, partial closes, flips."""
    rng = random.Random(seed)
    return [(rng.choice([1, -1]) * rng.randint(1, 400), rng.randint(90, 110))
            for _ in range(rng.randint(1, 25))]


def _lab02_states(fills: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(position, cost, realized) in cost units after each fill, read from Lab 02's book."""
    book, out = PositionBook(), []
    for signed, price in fills:
        book.fill("S", 1, 1 if signed > 0 else -1, 2, price, abs(signed))
        v = book.view(1, "S")
        out.append((v.position, int(v.avg_price_ticks * COST_SCALE * v.position),
                    int(v.realized_pnl_ticks * COST_SCALE)))
    return out


def _learner_states(apply_fill, fills: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    state, out = (0, 0, 0), []
    for signed, price in fills:
        state = tuple(int(x) for x in apply_fill(*state, signed, price))
        out.append(state)
    return out


@exercise("11.3", "The kernels' PnL step in integers", attr="apply_fill")
def _apply_fill(apply_fill):
    return [
        Case("open long", lambda: tuple(apply_fill(0, 0, 0, 10, 100)), (10, 10_000_000, 0),
             "apply_fill(0, 0, 0, 10, 100)"),
        Case("add at another price: the basis re-averages",
             lambda: tuple(apply_fill(10, 10_000_000, 0, 10, 110)), (20, 21_000_000, 0),
             "apply_fill(10, 10_000_000, 0, 10, 110)"),
        Case("partial close: realized against the average, rounded half away from zero",
             lambda: tuple(apply_fill(3, 3_100_000, 0, -1, 100)), (2, 2_066_667, -33_333),
             "apply_fill(3, 3_100_000, 0, -1, 100)"),
        Case("through zero: close all, open the rest at the fill price",
             lambda: tuple(apply_fill(5, 5_000_000, 0, -8, 120)), (-3, -3_600_000, 1_000_000),
             "apply_fill(5, 5_000_000, 0, -8, 120)"),
        Property("Lab 02's PositionBook on 200 fill sequences", lambda: range(200),
                 lambda s: _learner_states(apply_fill, _fills(s)),
                 lambda s: _lab02_states(_fills(s)), show=lambda s: f"fills {_fills(s)}"),
    ]
