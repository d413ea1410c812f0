"""Sorted-set commands by member: ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZRANK ZREVRANK
ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZSCAN.

Mirrors Redis's ``t_zset.c``. The value is a :class:`.skiplist.ZSet` (dict + skip list with
spans), so ZSCORE is one dict lookup and ZRANK a descent of the skip list, O(log n). The range
commands (ZRANGE and friends, the set algebra) are in :mod:`.cmd_zranges`. As for every
collection, a sorted set that becomes empty is deleted. Commands are propagated as sent: their
effect is a deterministic function of the dataset (ZRANDMEMBER, the one random command, only
reads).

:func:`zset_pop` is the non-blocking core of ZPOPMIN/ZPOPMAX, ZMPOP and their blocking forms.
"""

from __future__ import annotations

import math

from . import resp
from .commands import SYNTAX, WRITE, command, parse_int
from .skiplist import ZSet
from .values import (
    NOT_FLOAT,
    fmt_score,
    matcher,
    parse_float,
    parse_random_count,
    parse_scan_args,
    reply,
    scan_step,
    typed,
    with_scores,
)

POSITIVE = b"-ERR value is out of range, must be positive\r\n"


def _zset(cl, key: bytes):
    return typed(cl, key, ZSet)


def zset_pop(ks, key: bytes, count: int, pop_max: bool) -> list[tuple[bytes, float]]:
    """Remove and return up to ``count`` (member, score) from the low (or high) end of the
    sorted set at ``key``, deleting the key when it empties. The key must hold a sorted set or
    be missing (then ``[]``); the caller checks the type and propagates the command."""
    zs = ks.lookup(key)
    if zs is None:
        return []
    out = []
    sl = zs.sl
    for _ in range(min(count, len(zs))):
        node = sl.tail if pop_max else sl.head.forward[0]
        out.append((node.member, node.score))
        zs.remove(node.member)
    if not zs:
        ks.delete(key)
    return out


@command("zadd", -4, WRITE)
def cmd_zadd(cl, argv):
    nx = xx = gt = lt = ch = incr = False
    i = 2
    while i < len(argv):
        o = argv[i].upper()
        if o == b"NX":
            nx = True
        elif o == b"XX":
            xx = True
        elif o == b"GT":
            gt = True
        elif o == b"LT":
            lt = True
        elif o == b"CH":
            ch = True
        elif o == b"INCR":
            incr = True
        else:
            break
        i += 1
    pairs = argv[i:]
    if not pairs or len(pairs) % 2:
        return SYNTAX
    if nx and xx:
        return b"-ERR XX and NX options at the same time are not compatible\r\n"
    if (gt and nx) or (lt and nx) or (gt and lt):
        return b"-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
    if incr and len(pairs) > 2:
        return b"-ERR INCR option supports a single increment-element pair\r\n"
    scores = [parse_float(s) for s in pairs[0::2]]
    if None in scores:
        return NOT_FLOAT
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    if zs is None:
        if xx:
            return resp.NULL if incr else b":0\r\n"
        zs = ZSet()
        cl.ks.set(argv[1], zs)
    added = updated = 0
    result = None
    for score, member in zip(scores, pairs[1::2]):
        cur = zs.scores.get(member)
        if cur is None:
            if xx:
                continue
            zs.add(member, score)
            added += 1
            result = score
            continue
        if nx:
            continue
        new = cur + score if incr else score
        if math.isnan(new):
            if not zs:
                cl.ks.delete(argv[1])
            return b"-ERR resulting score is not a number (NaN)\r\n"
        if (gt and new <= cur) or (lt and new >= cur):
            continue
        result = new
        if new != cur:
            zs.add(member, new)
            updated += 1
    if not zs:
        cl.ks.delete(argv[1])
    if added or updated:
        cl.engine.propagate(argv)
    if incr:
        return resp.NULL if result is None else reply(result, cl.resp3)
    return b":%d\r\n" % (added + updated if ch else added)


@command("zincrby", 4, WRITE)
def cmd_zincrby(cl, argv):
    return cmd_zadd(cl, [b"ZADD", argv[1], b"INCR", argv[2], argv[3]])


@command("zrem", -3, WRITE)
def cmd_zrem(cl, argv):
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    if zs is None:
        return b":0\r\n"
    n = sum(1 for m in argv[2:] if zs.remove(m))
    if not zs:
        cl.ks.delete(argv[1])
    if n:
        cl.engine.propagate(argv)
    return b":%d\r\n" % n


@command("zscore", 3)
def cmd_zscore(cl, argv):
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    s = None if zs is None else zs.scores.get(argv[2])
    return resp.NULL if s is None else reply(s, cl.resp3)


@command("zmscore", -3)
def cmd_zmscore(cl, argv):
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    get = {}.get if zs is None else zs.scores.get
    return reply([get(m) for m in argv[2:]], cl.resp3)


@command("zcard", 2)
def cmd_zcard(cl, argv):
    zs, err = _zset(cl, argv[1])
    return err or b":%d\r\n" % (len(zs) if zs else 0)


def _rank(cl, argv, rev: bool):
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    r = None if zs is None else zs.rank(argv[2])
    if r is None:
        return resp.NULL
    if rev:
        r = len(zs) - 1 - r
    return b":%d\r\n" % r


@command("zrank", 3)
def cmd_zrank(cl, argv):
    return _rank(cl, argv, False)


@command("zrevrank", 3)
def cmd_zrevrank(cl, argv):
    return _rank(cl, argv, True)


def _zpop(cl, argv, pop_max: bool):
    if len(argv) > 3:
        return SYNTAX
    count = 1
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            return POSITIVE
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    popped = zset_pop(cl.ks, argv[1], count, pop_max)
    if popped:
        cl.engine.propagate(argv)
    return with_scores(popped, cl.resp3, nested=len(argv) == 3)


@command("zpopmin", -2, WRITE)
def cmd_zpopmin(cl, argv):
    return _zpop(cl, argv, False)


@command("zpopmax", -2, WRITE)
def cmd_zpopmax(cl, argv):
    return _zpop(cl, argv, True)


def parse_mpop(argv, first: int, ends: tuple[bytes, bytes]):
    """Parse ``numkeys key... END [COUNT n]`` (ZMPOP/LMPOP and their blocking forms) from
    ``argv[first]``: returns (keys, which end (0 or 1), count, error reply)."""
    numkeys = parse_int(argv[first])
    if numkeys is None or numkeys <= 0:
        return None, 0, 0, b"-ERR numkeys should be greater than 0\r\n"
    keys = argv[first + 1:first + 1 + numkeys]
    rest = argv[first + 1 + numkeys:]
    if len(keys) < numkeys or not rest:
        return None, 0, 0, SYNTAX
    where = rest[0].upper()
    if where not in ends:
        return None, 0, 0, SYNTAX
    count = 1
    if len(rest) > 1:
        if len(rest) != 3 or rest[1].upper() != b"COUNT":
            return None, 0, 0, SYNTAX
        count = parse_int(rest[2])
        if count is None or count <= 0:
            return None, 0, 0, b"-ERR count should be greater than 0\r\n"
    return keys, ends.index(where), count, None


@command("zmpop", -4, WRITE)
def cmd_zmpop(cl, argv):
    keys, end, count, err = parse_mpop(argv, 1, (b"MIN", b"MAX"))
    if err:
        return err
    for k in keys:
        zs, err = _zset(cl, k)
        if err:
            return err
        if zs is not None:
            popped = zset_pop(cl.ks, k, count, end == 1)
            cl.engine.propagate([b"ZPOPMAX" if end else b"ZPOPMIN", k, b"%d" % count])
            return reply([k, [list(p) for p in popped]], cl.resp3)
    return resp.NULL_ARRAY


@command("zrandmember", -2)
def cmd_zrandmember(cl, argv):
    count, err = parse_random_count(argv, b"WITHSCORES")
    if err:
        return err
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    if zs is None:
        return resp.NULL if count is None else resp.EMPTY_ARRAY
    rng = cl.ks.rng
    members = list(zs.scores)
    if count is None:
        return resp.bulk(rng.choice(members))
    if count >= 0:
        picked = members if count >= len(members) else rng.sample(members, count)
    else:
        picked = [rng.choice(members) for _ in range(-count)]
    if len(argv) == 4:
        return with_scores([(m, zs.scores[m]) for m in picked], cl.resp3)
    return resp.array(picked)


@command("zscan", -3)
def cmd_zscan(cl, argv):
    cursor, count, pattern, err = parse_scan_args(argv, 2)
    if err:
        return err
    zs, err = _zset(cl, argv[1])
    if err:
        return err
    if zs is None:
        return b"*2\r\n$1\r\n0\r\n*0\r\n"
    nxt, members = scan_step(zs.scores, zs.scores, cursor, count)
    ok = matcher(pattern)
    out = []
    for m in members:
        s = zs.scores.get(m)
        if s is not None and (ok is None or ok(m)):
            out.append(m)
            out.append(fmt_score(s))
    return b"*2\r\n" + resp.bulk(b"%d" % nxt) + resp.array(out)

