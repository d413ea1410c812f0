"""Event streams for tests, the notebook and the benchmark: a scripted teaching scenario and
seeded random streams that exercise every rule (all order types, bad fields, bad ids).

The random streams are deliberately nastier than :mod:`labsupport.marketdata`'s realistic flow:
a narrow price band so almost everything crosses or queues at a few levels, duplicate and
unknown ids, zero and negative quantities, invalid sides and types.
"""

from __future__ import annotations

import random
from dataclasses import replace

from .types import ADD, BUY, CANCEL, FOK, IOC, LIMIT, MARKET, MODIFY, SELL, OrderEvent

SYMBOLS = ("X", "Y")


def random_stream(seed: int, n: int) -> list[OrderEvent]:
    """Small price band, several accounts, all order types, some bad fields and bad ids."""
    rng = random.Random(seed)
    events, ids = [], []
    next_id = 1
    for seq in range(1, n + 1):
        sym = rng.choice(SYMBOLS)
        u = rng.random()
        if u < 0.55 or not ids:
            otype = rng.choices([LIMIT, MARKET, IOC, FOK, 9], [80, 6, 6, 5, 1])[0]
            side = rng.choice([BUY, SELL, BUY, SELL, 0]) if rng.random() < 0.02 else \
                rng.choice([BUY, SELL])
            price = 0 if otype == MARKET else rng.randint(95, 105) - (rng.random() < 0.01) * 200
            qty = rng.randint(1, 20) if rng.random() > 0.01 else rng.randint(-2, 0)
            oid = next_id if rng.random() > 0.02 else rng.randint(1, next_id)
            next_id += 1
            ids.append(oid)
            events.append(OrderEvent(seq, sym, ADD, oid, side, otype, price, qty,
                                     rng.randint(1, 4)))
        elif u < 0.85:
            oid = rng.choice(ids) if rng.random() > 0.05 else 10**9 + seq
            sym = sym if rng.random() < 0.1 else None
            events.append(OrderEvent(seq, sym, CANCEL, oid))
        else:
            oid = rng.choice(ids)
            events.append(OrderEvent(seq, None, MODIFY, oid, price_ticks=rng.randint(95, 105),
                                     qty=rng.randint(0, 25)))
    return events


# --- the scripted teaching scenario -------------------------------------------------------
ACCOUNTS = {1: "alice", 2: "bob", 3: "carol", 4: "dan", 5: "erin", 6: "frank", 7: "gina"}


def _ev(seq, action, oid, side=BUY, otype=LIMIT, price=0, qty=0, account=0):
    return OrderEvent(seq, "ACME", action, oid, side, otype, price, qty, account)


SCRIPT: list[tuple[OrderEvent, str]] = [
    (_ev(1, ADD, 1, BUY, LIMIT, 9998, 100, 1), "alice bids 100 @ 99.98"),
    (_ev(2, ADD, 2, BUY, LIMIT, 9999, 200, 2), "bob bids 200 @ 99.99"),
    (_ev(3, ADD, 3, BUY, LIMIT, 9999, 100, 3), "carol bids 100 @ 99.99, behind bob in time"),
    (_ev(4, ADD, 4, SELL, LIMIT, 10002, 300, 4), "dan offers 300 @ 100.02"),
    (_ev(5, ADD, 5, SELL, LIMIT, 10001, 100, 5), "erin offers 100 @ 100.01"),
    (_ev(6, ADD, 6, SELL, LIMIT, 9998, 250, 6),
     "frank sells 250, limit 99.98: takes bob first (time), then carol, at 99.99 (their price)"),
    (_ev(7, MODIFY, 3, price=9999, qty=30), "carol cuts her 50 left to 30: keeps her place"),
    (_ev(8, MODIFY, 1, price=9999, qty=100), "alice moves up to 99.99: back of that queue"),
    (_ev(9, ADD, 7, BUY, IOC, 10001, 200, 6), "frank buys 200 IOC @ 100.01: 100 fill, 100 die"),
    (_ev(10, ADD, 8, BUY, FOK, 10002, 400, 2), "bob wants 400 FOK @ 100.02: only 300 there"),
    (_ev(11, ADD, 9, BUY, MARKET, 0, 100, 2), "bob buys 100 at market: dan's 100.02"),
    (_ev(12, CANCEL, 5), "erin cancels order 5, but it is already filled"),
    (_ev(13, MODIFY, 4, price=9999, qty=200),
     "dan reprices his 200 to 99.99: crosses, takes carol then alice, rests the rest"),
    (_ev(14, ADD, 10, BUY, LIMIT, 9997, 100, 7), "gina bids 100 @ 99.97"),
]
"""The notebook's price-time priority walk-through: (event, what it teaches)."""


def with_text_ids(events: list[OrderEvent], prefix: str = "ACME-",
                  names: dict[int, str] | None = None) -> list[OrderEvent]:
    """The same events with FIX-style text ids: ClOrdIDs ``ACME-0001`` and account codes by name
    (``alice``; :data:`ACCOUNTS` by default), as a gateway would hand them to the engine."""
    names = ACCOUNTS if names is None else names
    return [replace(e, order_id=f"{prefix}{e.order_id:04d}",
                    account=names.get(e.account, e.account) if e.action == ADD else 0)
            for e in events]
