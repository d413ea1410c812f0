"""The FIFO inside one price level, measured two ways: the deque with lazy deletion that
:mod:`.book` uses against the textbook intrusive doubly-linked list (a true O(1) unlink).

Both are written inline, as the matching loop would use them, and run the same seeded script of
adds, cancels anywhere in the queue and fills at the front; :func:`fifo_designs` reports ns per
operation (best of three). :mod:`.bench` puts the result in its "queue inside a level" section.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable

from .types import BUY


class _Node:
    """A linked-list order: the book's Order plus prev/next pointers."""

    __slots__ = ("order_id", "qty", "account", "level", "prev", "next")

    def __init__(self, order_id: int, qty: int, account: int, level: object) -> None:
        self.order_id = order_id
        self.qty = qty
        self.account = account
        self.level = level
        self.prev = self.next = None


def fifo_designs(n_ops: int, live: int = 64, seed: int = 5,
                 clock: Callable[[], int] = time.perf_counter_ns) -> dict[str, float]:
    """ns per operation of one level's FIFO under add / cancel-anywhere / fill-at-front, for the
    deque with lazy deletion (what :mod:`.book` uses) and an intrusive doubly-linked list, both
    written inline as the matching loop would. Same random script for both: 45 % adds, 45 %
    cancels of a random earlier order (skipped if already dead), 10 % fills at the front."""
    from collections import deque

    from .book import Level, Order

    rng = random.Random(seed)
    script = [0 if u < 0.45 else (1 if u < 0.9 else 2) for u in
              (rng.random() for _ in range(n_ops))]
    picks = [rng.random() for _ in range(n_ops)]

    def run_deque() -> int:
        level = Level(100, BUY, None)
        pool = []
        for _ in range(live):
            o = Order(0, 1, 0, level)
            level.orders.append(o)
            level.count += 1
            pool.append(o)
        t0 = clock()
        for op, u in zip(script, picks):
            if op == 0 or level.count == 0:
                o = Order(0, 1, 0, level)
                level.orders.append(o)
                level.count += 1
                pool.append(o)
            elif op == 1:
                o = pool[int(u * len(pool))]
                if o.qty:
                    o.qty = 0
                    level.count -= 1
                    if len(level.orders) > 2 * level.count + 16:
                        level.orders = deque(x for x in level.orders if x.qty)
            else:
                q = level.orders
                while not q[0].qty:
                    q.popleft()
                q.popleft().qty = 0
                level.count -= 1
        return clock() - t0

    def run_linked() -> int:
        head = tail = None
        count = 0
        pool = []

        t0 = 0
        for phase in (0, 1):
            ops = [0] * live if phase == 0 else script
            ups = picks if phase else [0.0] * live
            if phase:
                t0 = clock()
            for op, u in zip(ops, ups):
                if op == 0 or count == 0:
                    nd = _Node(0, 1, 0, None)
                    nd.prev = tail
                    if tail is None:
                        head = nd
                    else:
                        tail.next = nd
                    tail = nd
                    count += 1
                    pool.append(nd)
                    continue
                nd = pool[int(u * len(pool))] if op == 1 else head
                if not nd.qty:
                    continue
                nd.qty = 0
                prev, nxt = nd.prev, nd.next
                if prev is None:
                    head = nxt
                else:
                    prev.next = nxt
                if nxt is None:
                    tail = prev
                else:
                    nxt.prev = prev
                nd.prev = nd.next = None
                count -= 1
        return clock() - t0

    gc.collect()
    d = min(run_deque() for _ in range(3))
    ll = min(run_linked() for _ in range(3))
    return {"deque + lazy deletion": d / n_ops, "intrusive linked list": ll / n_ops}
