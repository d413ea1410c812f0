"""Event streams for tests, the notebook and the benchmark: a scripted teaching scenario and
seeded random streams that exercise every rule (all order types, bad fields, bad ids).

The random streams are deliberately nastier than :mod:`labsupport.marketdata`'s realistic flow:
a narrow price band so almost everything crosses or queues at a few levels, duplicate and
unknown ids, zero and negative quantities, invalid sides and types.
"""

from __future__ import annotations

import random

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
