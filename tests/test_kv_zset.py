"""The sorted set's skip list: order, rank and rank lookup against a sorted-list reference under
random inserts, moves and deletes; spans keep ranks O(log n) (steps grow far slower than n)."""

from __future__ import annotations

import random

import pytest

from labsupport.kv.skiplist import ZSet, cost_vs_size


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skiplist_matches_a_sorted_reference(seed):
    print("seed", seed)
    rng = random.Random(seed)
    zs = ZSet(random.Random(seed))
    ref: dict[bytes, float] = {}
    for step in range(6000):
        m = b"m%d" % rng.randrange(400)
        if rng.random() < 0.65:
            s = float(rng.randrange(60)) if rng.random() < 0.5 else rng.random()
            zs.add(m, s)
            ref[m] = s
        else:
            assert zs.remove(m) == (ref.pop(m, None) is not None)
        if step % 300 == 0:
            order = sorted(ref.items(), key=lambda t: (t[1], t[0]))
            assert list(zs.items()) == order
            for i, (member, _score) in enumerate(order):
                assert zs.rank(member) == i
                assert zs.sl.by_rank(i).member == member
            back = [n.member for n in zs.range_by_rank(0, len(order) - 1, rev=True)] if order else []
            assert back == [m for m, _ in reversed(order)]
    assert zs.rank(b"absent") is None and zs.sl.by_rank(len(ref)) is None


def test_equal_scores_order_by_member_bytes():
    zs = ZSet()
    for m in (b"c", b"a", b"", b"b"):
        zs.add(m, 1.0)
    zs.add(b"z", 0.5)
    assert [m for m, _ in zs.items()] == [b"z", b"", b"a", b"b", b"c"]
    assert zs.rank(b"") == 1


def test_rank_cost_is_logarithmic():
    rows = cost_vs_size((500, 5_000, 50_000), queries=300)
    small, big = rows[0]["skiplist_steps"], rows[-1]["skiplist_steps"]
    assert rows[-1]["linear_steps"] == 100 * rows[0]["linear_steps"]
    assert big < 3 * small, rows      # 100x the elements, not even 3x the steps
