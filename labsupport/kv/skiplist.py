"""The sorted set: a skip list with spans plus a dict, as in Redis's ``t_zset.c``.

Theory of operation
-------------------
A sorted set answers two kinds of question: *by member* ("what is the score of alice?", O(1)
with a dict) and *by order* ("who is 10th?", "what is bob's rank?", "everyone with a score
between 100 and 200"). The order side is a **skip list** (Pugh, 1990): a sorted linked list in
which every node also appears, with probability 1/4 per extra level, in sparser "express"
lists above it. A search starts on the top level, runs right while the next node is still
before the target, and drops one level when it would overshoot; each level skips about four
nodes of the level below, so a search visits O(log n) nodes on average, and an insertion only
relinks the O(log n) predecessors found on the way down (no rebalancing, unlike a tree).

**Rank in O(log n)**: every forward link also stores its *span*, the number of level-0 nodes it
jumps over. Summing the spans of the links taken on the way down gives the rank of the node
reached (ZRANK), and descending by spans instead of by keys finds the node of a given rank
(ZRANGE 1000 1010) without walking a thousand nodes. Insert and delete keep the spans right:
each predecessor's span on a level is split (insert) or merged (delete) around the node.

Nodes are ordered by (score, member): equal scores are ordered by the member's bytes, which is
also the order ZRANGEBYLEX relies on. ``backward`` links the level-0 list in reverse for the
REV forms. :class:`ZSet` pairs the list with ``dict member -> score``, like Redis's ``zset``.
The level generator is an injected :class:`random.Random`, so a structure is reproducible.
"""

from __future__ import annotations

import random

MAX_LEVEL = 32
P = 0.25


class Node:
    __slots__ = ("member", "score", "forward", "span", "backward")

    def __init__(self, level: int, score: float, member: bytes) -> None:
        self.member = member
        self.score = score
        self.forward: list[Node | None] = [None] * level
        self.span = [0] * level
        self.backward: Node | None = None


def _before(node: Node, score: float, member: bytes) -> bool:
    """Is ``node`` strictly before (score, member) in the set's order?"""
    return node.score < score or (node.score == score and node.member < member)


class SkipList:
    """Nodes sorted by (score, member), with spans for rank queries (module docstring)."""

    __slots__ = ("head", "tail", "length", "level", "_rng")

    def __init__(self, rng: random.Random | None = None) -> None:
        self.head = Node(MAX_LEVEL, 0.0, b"")
        self.tail: Node | None = None
        self.length = 0
        self.level = 1
        self._rng = rng or random.Random(0x5eed)

    def _random_level(self) -> int:
        lvl = 1
        rnd = self._rng.random
        while lvl < MAX_LEVEL and rnd() < P:
            lvl += 1
        return lvl

    def insert(self, score: float, member: bytes) -> Node:
        """Link a new node (the member must not be present)."""
        update = [self.head] * MAX_LEVEL
        rank = [0] * MAX_LEVEL
        x = self.head
        for i in range(self.level - 1, -1, -1):
            rank[i] = 0 if i == self.level - 1 else rank[i + 1]
            nxt = x.forward[i]
            while nxt is not None and _before(nxt, score, member):
                rank[i] += x.span[i]
                x = nxt
                nxt = x.forward[i]
            update[i] = x
        lvl = self._random_level()
        if lvl > self.level:
            for i in range(self.level, lvl):
                rank[i] = 0
                update[i] = self.head
                self.head.span[i] = self.length
            self.level = lvl
        node = Node(lvl, score, member)
        for i in range(lvl):
            prev = update[i]
            node.forward[i] = prev.forward[i]
            prev.forward[i] = node
            # prev's old span is split around the new node
            node.span[i] = prev.span[i] - (rank[0] - rank[i])
            prev.span[i] = rank[0] - rank[i] + 1
        for i in range(lvl, self.level):
            update[i].span[i] += 1   # links above the node now jump over one more node
        node.backward = None if update[0] is self.head else update[0]
        if node.forward[0] is not None:
            node.forward[0].backward = node
        else:
            self.tail = node
        self.length += 1
        return node

    def delete(self, score: float, member: bytes) -> bool:
        """Unlink the node (score, member); False if it is not there."""
        update = [self.head] * MAX_LEVEL
        x = self.head
        for i in range(self.level - 1, -1, -1):
            nxt = x.forward[i]
            while nxt is not None and _before(nxt, score, member):
                x = nxt
                nxt = x.forward[i]
            update[i] = x
        x = x.forward[0]
        if x is None or x.score != score or x.member != member:
            return False
        self._unlink(x, update)
        return True

    def _unlink(self, x: Node, update: list[Node]) -> None:
        for i in range(self.level):
            if update[i].forward[i] is x:
                update[i].span[i] += x.span[i] - 1
                update[i].forward[i] = x.forward[i]
            else:
                update[i].span[i] -= 1
        if x.forward[0] is not None:
            x.forward[0].backward = x.backward
        else:
            self.tail = x.backward
        while self.level > 1 and self.head.forward[self.level - 1] is None:
            self.level -= 1
        self.length -= 1

    def rank(self, score: float, member: bytes) -> int:
        """0-based rank of (score, member), which must be present: the sum of spans taken."""
        r = 0
        x = self.head
        for i in range(self.level - 1, -1, -1):
            nxt = x.forward[i]
            while nxt is not None and (_before(nxt, score, member)
                                       or (nxt.score == score and nxt.member == member)):
                r += x.span[i]
                x = nxt
                nxt = x.forward[i]
            if x.member == member and x is not self.head:
                return r - 1
        return r - 1

    def by_rank(self, r: int) -> Node | None:
        """The node of 0-based rank ``r`` in O(log n): descend by spans."""
        if r < 0 or r >= self.length:
            return None
        target = r + 1
        traversed = 0
        x = self.head
        for i in range(self.level - 1, -1, -1):
            while x.forward[i] is not None and traversed + x.span[i] <= target:
                traversed += x.span[i]
                x = x.forward[i]
            if traversed == target:
                return x
        return None

    def first_at_least(self, ok_low) -> Node | None:
        """The first node for which ``ok_low(node)`` holds (a predicate monotone in order)."""
        x = self.head
        for i in range(self.level - 1, -1, -1):
            nxt = x.forward[i]
            while nxt is not None and not ok_low(nxt):
                x = nxt
                nxt = x.forward[i]
        return x.forward[0]

    def last_at_most(self, ok_high) -> Node | None:
        """The last node for which ``ok_high(node)`` holds (true on a prefix of the order)."""
        x = self.head
        for i in range(self.level - 1, -1, -1):
            nxt = x.forward[i]
            while nxt is not None and ok_high(nxt):
                x = nxt
                nxt = x.forward[i]
        return None if x is self.head else x

    def __iter__(self):
        x = self.head.forward[0]
        while x is not None:
            yield x
            x = x.forward[0]


class ZSet:
    """A sorted set: ``scores`` (member -> score) plus the skip list ordered by (score, member)."""

    __slots__ = ("scores", "sl")

    def __init__(self, rng: random.Random | None = None) -> None:
        self.scores: dict[bytes, float] = {}
        self.sl = SkipList(rng)

    def __len__(self) -> int:
        return len(self.scores)

    def add(self, member: bytes, score: float) -> None:
        """Insert or move ``member`` to ``score``."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self.sl.delete(old, member)
        self.scores[member] = score
        self.sl.insert(score, member)

    def remove(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.sl.delete(old, member)
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return self.sl.rank(score, member)

    def range_by_rank(self, start: int, stop: int, rev: bool = False):
        """Nodes of ranks ``start..stop`` inclusive (already clamped), in order or reversed."""
        n = len(self.scores)
        if rev:
            x = self.sl.by_rank(n - 1 - start)
            for _ in range(stop - start + 1):
                yield x
                x = x.backward
        else:
            x = self.sl.by_rank(start)
            for _ in range(stop - start + 1):
                yield x
                x = x.forward[0]

    def items(self):
        """(member, score) in order."""
        for node in self.sl:
            yield node.member, node.score


def cost_vs_size(sizes=(1_000, 10_000, 100_000), queries: int = 2_000, seed: int = 7):
    """Average nodes visited by a rank query in the skip list, against a linear scan.

    Returns one dict per size: ``size``, ``skiplist_steps`` (links followed to find a rank, by
    spans) and ``linear_steps`` (what walking the sorted list would cost, n/2 on average). The
    first grows like log n, the second like n: the notebook plots both.
    """
    rng = random.Random(seed)
    out = []
    for n in sizes:
        zs = ZSet(random.Random(seed))
        for i in range(n):
            zs.add(b"m%d" % i, float(rng.randrange(10 * n)))
        steps = 0
        for _ in range(queries):
            target = rng.randrange(n) + 1
            traversed = 0
            x = zs.sl.head
            for i in range(zs.sl.level - 1, -1, -1):
                while x.forward[i] is not None and traversed + x.span[i] <= target:
                    traversed += x.span[i]
                    x = x.forward[i]
                    steps += 1
                steps += 1   # dropping a level is a step too
        out.append({"size": n, "skiplist_steps": steps / queries, "linear_steps": n / 2})
    return out
