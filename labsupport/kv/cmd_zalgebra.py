"""Sorted-set algebra: ZUNION ZINTER ZDIFF, their STORE forms, and ZINTERCARD.

Mirrors ``zunionInterDiffGenericCommand`` and ``zinterCardCommand`` of Redis's ``t_zset.c``.
Inputs may be sorted sets or plain sets (every member scoring 1). A weighted score that is
NaN (``0 * inf``) counts as 0 and a SUM of ``inf`` and ``-inf`` is 0, as in Redis. An
intersection walks the smallest input and probes the others' dicts. The STORE forms replace
the destination (deleted when the result is empty) and are propagated as sent.
"""

from __future__ import annotations

import math

from . import resp
from .cmd_zranges import store_result
from .commands import NOT_INT, SYNTAX, WRITE, WRONGTYPE, command, parse_int
from .skiplist import ZSet
from .values import parse_float, with_scores


def _source(cl, key: bytes):
    """A member -> score dict for a sorted set or a set (scores 1), or WRONGTYPE."""
    v = cl.ks.lookup(key)
    if v is None:
        return {}, None
    if type(v) is ZSet:
        return v.scores, None
    if type(v) is set:
        return dict.fromkeys(v, 1.0), None
    return None, WRONGTYPE


def _aggregate(op: bytes, a: float, b: float) -> float:
    if op == b"SUM":
        s = a + b
        return 0.0 if math.isnan(s) else s
    return min(a, b) if op == b"MIN" else max(a, b)


def _algebra(cl, argv, op: str, store: bool):
    first = 2 if store else 1
    name = argv[0].decode("utf-8", "replace").lower()
    numkeys = parse_int(argv[first])
    if numkeys is None:
        return NOT_INT
    if numkeys < 1:
        return resp.error(f"ERR at least 1 input key is needed for '{name}' command")
    keys = argv[first + 1:first + 1 + numkeys]
    if len(keys) < numkeys:
        return SYNTAX
    weights = [1.0] * numkeys
    agg = b"SUM"
    withscores = False
    i = first + 1 + numkeys
    while i < len(argv):
        o = argv[i].upper()
        if o == b"WEIGHTS" and op != "diff" and i + numkeys < len(argv):
            weights = [parse_float(w) for w in argv[i + 1:i + 1 + numkeys]]
            if None in weights:
                return b"-ERR weight value is not a float\r\n"
            i += numkeys
        elif o == b"AGGREGATE" and op != "diff" and i + 1 < len(argv):
            agg = argv[i + 1].upper()
            if agg not in (b"SUM", b"MIN", b"MAX"):
                return SYNTAX
            i += 1
        elif o == b"WITHSCORES" and not store:
            withscores = True
        else:
            return SYNTAX
        i += 1
    sources = []
    for k in keys:
        src, err = _source(cl, k)
        if err:
            return err
        sources.append(src)
    acc: dict[bytes, float] = {}
    if op == "union":
        for src, w in zip(sources, weights):
            for m, s in src.items():
                ws = s * w
                if math.isnan(ws):
                    ws = 0.0
                acc[m] = _aggregate(agg, acc[m], ws) if m in acc else ws
    elif op == "inter":
        order = sorted(range(numkeys), key=lambda j: len(sources[j]))
        base = order[0]
        for m, s in sources[base].items():
            if all(m in sources[j] for j in order[1:]):
                val = s * weights[base]
                val = 0.0 if math.isnan(val) else val
                for j in range(numkeys):
                    if j != base:
                        ws = sources[j][m] * weights[j]
                        val = _aggregate(agg, val, 0.0 if math.isnan(ws) else ws)
                acc[m] = val
    else:
        for m, s in sources[0].items():
            if not any(m in src for src in sources[1:]):
                acc[m] = s
    if store:
        return store_result(cl, argv, argv[1], list(acc.items()))
    pairs = sorted(acc.items(), key=lambda p: (p[1], p[0]))
    if withscores:
        return with_scores(pairs, cl.resp3)
    return resp.array([m for m, _s in pairs])


@command("zunionstore", -4, WRITE)
def cmd_zunionstore(cl, argv):
    return _algebra(cl, argv, "union", True)


@command("zinterstore", -4, WRITE)
def cmd_zinterstore(cl, argv):
    return _algebra(cl, argv, "inter", True)


@command("zdiffstore", -4, WRITE)
def cmd_zdiffstore(cl, argv):
    return _algebra(cl, argv, "diff", True)


@command("zunion", -3)
def cmd_zunion(cl, argv):
    return _algebra(cl, argv, "union", False)


@command("zinter", -3)
def cmd_zinter(cl, argv):
    return _algebra(cl, argv, "inter", False)


@command("zdiff", -3)
def cmd_zdiff(cl, argv):
    return _algebra(cl, argv, "diff", False)


@command("zintercard", -3)
def cmd_zintercard(cl, argv):
    numkeys = parse_int(argv[1])
    if numkeys is None:
        return NOT_INT
    if numkeys <= 0:
        return b"-ERR at least 1 input key is needed for 'zintercard' command\r\n"
    keys = argv[2:2 + numkeys]
    if len(keys) < numkeys:
        return b"-ERR Number of keys can't be greater than number of args\r\n"
    limit = 0
    rest = argv[2 + numkeys:]
    if rest:
        if len(rest) != 2 or rest[0].upper() != b"LIMIT":
            return SYNTAX
        limit = parse_int(rest[1])
        if limit is None or limit < 0:
            return b"-ERR LIMIT can't be negative\r\n"
    sources = []
    for k in keys:
        src, err = _source(cl, k)
        if err:
            return err
        sources.append(src)
    sources.sort(key=len)
    n = 0
    for m in sources[0]:
        if all(m in s for s in sources[1:]):
            n += 1
            if limit and n >= limit:
                break
    return b":%d\r\n" % n

