"""Price ladders: the sorted structure of price levels on one side of a book.

The book keeps, per side, a dict ``price -> Level`` (the FIFO of orders at that price) and a
*ladder*: something that knows the prices in priority order. The book caches the best price
itself, so the ladder is consulted only when a level is created or destroyed, never on an add
that joins an existing level and never on a cancel that leaves its level non-empty. That is why
the ladder can be swapped without touching the matching code, and why the designs below differ
mostly in what a level birth or death costs.

Three designs, one interface (``insert``, ``pop_best``, ``remove``, ``prices``):

``SortedListLadder`` (default)
    A Python list of keys kept sorted with :mod:`bisect`, best at the *end* (bids as ``+price``
    ascending, asks as ``-price`` ascending). The level that dies most often is the best one
    (it gets traded through), and ``list.pop()`` at the end is O(1). Births and deaths away from
    the top are a ``memmove`` of the tail: O(n) in theory, a few dozen ns for real books whose
    hundreds of levels fit in a few cache lines. It is the "sorted vector, best at the back"
    layout of many C++ books; here it ties with the heap on the benchmark's depth workload up
    to hundreds of levels (the heap leads by 5-15 % only thousands of levels deep), beats
    sortedcontainers, and iterates in order for free (L2 snapshots, FOK checks).
``HeapLadder``
    :mod:`heapq` with lazy deletion: a dead price stays in the heap until it reaches the top,
    where ``pop_best`` discards it. A set of live prices tells dead from alive. Births are
    O(log n) pushes; the heap is compacted when it holds twice as many entries as live prices.
``SortedContainersLadder``
    :class:`sortedcontainers.SortedList` (B-tree-like list of lists), the general-purpose
    choice: O(log n) everything, but every call goes through several Python-level methods.

Empty sides are represented by sentinel prices so the book's crossing test is a single integer
comparison: no bid is ``NO_BID = 0`` (every valid price is >= 1) and no ask is ``NO_ASK``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator
from heapq import heapify, heappop, heappush

from sortedcontainers import SortedList

from .types import BUY

NO_BID = 0
NO_ASK = 1 << 62


class SortedListLadder:
    """Sorted Python list, best price at the end: O(1) best removal, bisect elsewhere."""

    name = "sorted-list"
    __slots__ = ("sign", "keys", "empty")

    def __init__(self, side: int) -> None:
        # Keys are sign * price so that "best" is always the largest key, at the end.
        self.sign = 1 if side == BUY else -1
        self.keys: list[int] = []
        self.empty = NO_BID if side == BUY else NO_ASK

    def insert(self, price: int) -> None:
        insort(self.keys, self.sign * price)

    def pop_best(self) -> int:
        """Remove the best price; return the new best (or the empty sentinel)."""
        keys = self.keys
        keys.pop()
        return self.sign * keys[-1] if keys else self.empty

    def remove(self, price: int) -> None:
        """Remove a price that is not the best one (the book checks)."""
        keys = self.keys
        del keys[bisect_left(keys, self.sign * price)]

    def prices(self) -> Iterator[int]:
        s = self.sign
        for k in reversed(self.keys):
            yield s * k

    def __len__(self) -> int:
        return len(self.keys)


class HeapLadder:
    """Binary heap with lazy deletion; the set ``live`` decides which heap entries count."""

    name = "heap"
    __slots__ = ("sign", "heap", "live", "empty")

    def __init__(self, side: int) -> None:
        # heapq is a min-heap: bids are stored negated so the best bid is on top.
        self.sign = -1 if side == BUY else 1
        self.heap: list[int] = []
        self.live: set[int] = set()
        self.empty = NO_BID if side == BUY else NO_ASK

    def insert(self, price: int) -> None:
        # A price that died and is born again may now sit in the heap twice; harmless,
        # both copies stand for the same live price and are dropped together when it dies.
        self.live.add(price)
        heappush(self.heap, self.sign * price)

    def _clean_top(self) -> int:
        heap, live, s = self.heap, self.live, self.sign
        while heap:
            p = s * heap[0]
            if p in live:
                return p
            heappop(heap)
        return self.empty

    def pop_best(self) -> int:
        heap = self.heap
        self.live.discard(self.sign * heappop(heap))
        return self._clean_top()

    def remove(self, price: int) -> None:
        live = self.live
        live.discard(price)
        if len(self.heap) > 2 * len(live) + 64:
            # Too many corpses: rebuild from the live set (amortised O(1) per removal).
            s = self.sign
            self.heap = [s * p for p in live]
            heapify(self.heap)

    def prices(self) -> Iterator[int]:
        return iter(sorted(self.live, reverse=self.sign < 0))

    def __len__(self) -> int:
        return len(self.live)


class SortedContainersLadder:
    """sortedcontainers.SortedList of keys, best at the end (same key trick as the list)."""

    name = "sortedcontainers"
    __slots__ = ("sign", "keys", "empty")

    def __init__(self, side: int) -> None:
        self.sign = 1 if side == BUY else -1
        self.keys = SortedList()
        self.empty = NO_BID if side == BUY else NO_ASK

    def insert(self, price: int) -> None:
        self.keys.add(self.sign * price)

    def pop_best(self) -> int:
        keys = self.keys
        keys.pop()
        return self.sign * keys[-1] if keys else self.empty

    def remove(self, price: int) -> None:
        self.keys.remove(self.sign * price)

    def prices(self) -> Iterator[int]:
        s = self.sign
        for k in reversed(self.keys):
            yield s * k

    def __len__(self) -> int:
        return len(self.keys)


LADDERS = {
    SortedListLadder.name: SortedListLadder,
    HeapLadder.name: HeapLadder,
    SortedContainersLadder.name: SortedContainersLadder,
}
"""Every ladder design by name; the parametrized tests and the benchmark iterate this."""
