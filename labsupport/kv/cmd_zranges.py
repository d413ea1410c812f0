"""Sorted-set range commands: ZRANGE (BYSCORE BYLEX REV LIMIT) and its legacy forms,
ZRANGESTORE, ZCOUNT ZLEXCOUNT, ZREMRANGEBYRANK/SCORE/LEX (the set algebra is in
:mod:`.cmd_zalgebra`).

Mirrors ``zrangeGenericCommand``, ``zslParseRange`` and ``zslParseLexRange`` of Redis's
``t_zset.c``.

Theory of operation
-------------------
A range is two monotone predicates on the (score, member) order: ``above_low(node)`` (false on
a prefix, true after) and ``below_high(node)`` (true on a prefix). The first node of a forward
range is found by one skip-list descent (:meth:`SkipList.first_at_least`), the last one of a
reverse range by another; the walk then follows level-0 links. A LIMIT offset is skipped by
rank, not by walking: the start node's rank plus the offset gives the node directly. So a range
costs O(log n + returned), whatever the offset.
"""

from __future__ import annotations

from . import resp
from .commands import NOT_INT, SYNTAX, WRITE, command, parse_int
from .skiplist import ZSet
from .values import parse_float, typed, with_scores

NOT_FLOAT_RANGE = b"-ERR min or max is not a float\r\n"
NOT_LEX_RANGE = b"-ERR min or max not valid string range item\r\n"
RANK, SCORE, LEX = 0, 1, 2


def parse_score_bound(b: bytes):
    """``(value, exclusive)`` of ``1.5``, ``(1.5``, ``-inf``..., or None."""
    ex = b[:1] == b"("
    v = parse_float(b[1:] if ex else b)
    return None if v is None else (v, ex)


def parse_lex_bound(b: bytes):
    """``(kind, value, exclusive)``: kind -1 for ``-``, 1 for ``+``, 0 for ``[x``/``(x``."""
    if b == b"-":
        return (-1, b"", False)
    if b == b"+":
        return (1, b"", False)
    if b[:1] == b"[":
        return (0, b[1:], False)
    if b[:1] == b"(":
        return (0, b[1:], True)
    return None


def score_predicates(lo, hi):
    (lv, lex_), (hv, hex_) = lo, hi
    above = (lambda n: n.score > lv) if lex_ else (lambda n: n.score >= lv)
    below = (lambda n: n.score < hv) if hex_ else (lambda n: n.score <= hv)
    empty = lv > hv or (lv == hv and (lex_ or hex_))
    return above, below, empty


def lex_predicates(lo, hi):
    (lk, lv, lx), (hk, hv, hx) = lo, hi
    if lk == -1:
        def above(n): return True
    elif lk == 1:
        def above(n): return False
    else:
        def above(n): return n.member > lv if lx else n.member >= lv
    if hk == 1:
        def below(n): return True
    elif hk == -1:
        def below(n): return False
    else:
        def below(n): return n.member < hv if hx else n.member <= hv
    empty = lk == 1 or hk == -1 or (lk == 0 and hk == 0 and (lv > hv or (lv == hv and (lx or hx))))
    return above, below, empty


def nodes_between(zs: ZSet, above, below, rev: bool, offset: int = 0, limit: int = -1):
    """The nodes of a score or lex range, in order (or reversed), after ``offset``, at most
    ``limit`` of them (negative: all)."""
    sl = zs.sl
    out = []
    if offset < 0:
        return out
    x = sl.last_at_most(below) if rev else sl.first_at_least(above)
    if x is not None and offset:
        r = sl.rank(x.score, x.member)
        x = sl.by_rank(r - offset if rev else r + offset)
    while x is not None and limit != 0:
        if rev:
            if not above(x):
                break
        elif not below(x):
            break
        out.append(x)
        limit -= 1
        x = x.backward if rev else x.forward[0]
    return out


def nodes_by_rank(zs: ZSet, start: int, stop: int, rev: bool = False):
    n = len(zs)
    if start < 0:
        start = max(n + start, 0)
    if stop < 0:
        stop = n + stop
    stop = min(stop, n - 1)
    if start > stop or start >= n:
        return []
    return list(zs.range_by_rank(start, stop, rev))


def _range(cl, argv, first: int, kind: int, rev: bool, store: bytes | None, legacy: bool):
    """The ZRANGE engine: ``argv[first:first+3]`` is key, min, max; options follow."""
    key = argv[first]
    a, b = argv[first + 1], argv[first + 2]
    withscores = False
    offset, limit, has_limit = 0, -1, False
    i = first + 3
    while i < len(argv):
        o = argv[i].upper()
        if o == b"WITHSCORES" and store is None and not (legacy and kind == LEX):
            withscores = True
        elif o == b"LIMIT" and i + 2 < len(argv) and not (legacy and kind == RANK):
            offset, limit = parse_int(argv[i + 1]), parse_int(argv[i + 2])
            if offset is None or limit is None:
                return NOT_INT
            has_limit = True
            i += 2
        elif not legacy and o == b"BYSCORE" and kind == RANK:
            kind = SCORE
        elif not legacy and o == b"BYLEX" and kind == RANK:
            kind = LEX
        elif not legacy and o == b"REV":
            rev = True
        else:
            return SYNTAX
        i += 1
    if has_limit and kind == RANK:
        return (b"-ERR syntax error, LIMIT is only supported in combination with either "
                b"BYSCORE or BYLEX\r\n")
    if withscores and kind == LEX:
        return b"-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"
    if rev and kind != RANK:
        a, b = b, a   # ZRANGE key max min BYSCORE REV, ZREVRANGEBYSCORE key max min
    if kind == RANK:
        start, stop = parse_int(a), parse_int(b)
        if start is None or stop is None:
            return NOT_INT
    elif kind == SCORE:
        lo, hi = parse_score_bound(a), parse_score_bound(b)
        if lo is None or hi is None:
            return NOT_FLOAT_RANGE
    else:
        lo, hi = parse_lex_bound(a), parse_lex_bound(b)
        if lo is None or hi is None:
            return NOT_LEX_RANGE
    zs, err = typed(cl, key, ZSet)
    if err:
        return err
    if zs is None:
        nodes = []
    elif kind == RANK:
        nodes = nodes_by_rank(zs, start, stop, rev)
    else:
        above, below, empty = (score_predicates if kind == SCORE else lex_predicates)(lo, hi)
        nodes = [] if empty else nodes_between(zs, above, below, rev, offset, limit)
    if store is not None:
        return store_result(cl, argv, store, [(n.member, n.score) for n in nodes])
    if withscores:
        return with_scores([(n.member, n.score) for n in nodes], cl.resp3)
    return resp.array([n.member for n in nodes])


def store_result(cl, argv, dst: bytes, pairs) -> bytes:
    """Replace ``dst`` by a sorted set of ``pairs`` (deleted if empty); reply its size."""
    ks = cl.ks
    existed = ks.delete(dst)
    if pairs:
        zs = ZSet()
        for m, s in pairs:
            zs.add(m, s)
        ks.set(dst, zs)
    if pairs or existed:
        cl.engine.propagate(argv)
    return b":%d\r\n" % len(pairs)


@command("zrange", -4)
def cmd_zrange(cl, argv):
    return _range(cl, argv, 1, RANK, False, None, False)


@command("zrangestore", -5, WRITE)
def cmd_zrangestore(cl, argv):
    return _range(cl, argv, 2, RANK, False, argv[1], False)


@command("zrevrange", -4)
def cmd_zrevrange(cl, argv):
    return _range(cl, argv, 1, RANK, True, None, True)


@command("zrangebyscore", -4)
def cmd_zrangebyscore(cl, argv):
    return _range(cl, argv, 1, SCORE, False, None, True)


@command("zrevrangebyscore", -4)
def cmd_zrevrangebyscore(cl, argv):
    return _range(cl, argv, 1, SCORE, True, None, True)


@command("zrangebylex", -4)
def cmd_zrangebylex(cl, argv):
    return _range(cl, argv, 1, LEX, False, None, True)


@command("zrevrangebylex", -4)
def cmd_zrevrangebylex(cl, argv):
    return _range(cl, argv, 1, LEX, True, None, True)


def _count(cl, argv, kind: int):
    if kind == SCORE:
        lo, hi = parse_score_bound(argv[2]), parse_score_bound(argv[3])
        bad = NOT_FLOAT_RANGE
    else:
        lo, hi = parse_lex_bound(argv[2]), parse_lex_bound(argv[3])
        bad = NOT_LEX_RANGE
    if lo is None or hi is None:
        return bad, None, None
    zs, err = typed(cl, argv[1], ZSet)
    if err or zs is None:
        return err, zs, []
    above, below, empty = (score_predicates if kind == SCORE else lex_predicates)(lo, hi)
    return None, zs, [] if empty else nodes_between(zs, above, below, False)


@command("zcount", 4)
def cmd_zcount(cl, argv):
    err, _zs, nodes = _count(cl, argv, SCORE)
    return err or b":%d\r\n" % len(nodes)


@command("zlexcount", 4)
def cmd_zlexcount(cl, argv):
    err, _zs, nodes = _count(cl, argv, LEX)
    return err or b":%d\r\n" % len(nodes)


def _remove_nodes(cl, argv, zs, nodes) -> bytes:
    for n in nodes:
        zs.remove(n.member)
    if zs is not None and not zs:
        cl.ks.delete(argv[1])
    if nodes:
        cl.engine.propagate(argv)
    return b":%d\r\n" % len(nodes)


@command("zremrangebyscore", 4, WRITE)
def cmd_zremrangebyscore(cl, argv):
    err, zs, nodes = _count(cl, argv, SCORE)
    return err or _remove_nodes(cl, argv, zs, nodes)


@command("zremrangebylex", 4, WRITE)
def cmd_zremrangebylex(cl, argv):
    err, zs, nodes = _count(cl, argv, LEX)
    return err or _remove_nodes(cl, argv, zs, nodes)


@command("zremrangebyrank", 4, WRITE)
def cmd_zremrangebyrank(cl, argv):
    start, stop = parse_int(argv[2]), parse_int(argv[3])
    if start is None or stop is None:
        return NOT_INT
    zs, err = typed(cl, argv[1], ZSet)
    if err or zs is None:
        return err or b":0\r\n"
    return _remove_nodes(cl, argv, zs, nodes_by_rank(zs, start, stop))
