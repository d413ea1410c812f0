"""List commands beyond push/pop/range: LPUSHX RPUSHX LINDEX LSET LINSERT LREM LTRIM LPOS
LMOVE RPOPLPUSH LMPOP.

Mirrors Redis's ``t_list.c``. A list is a ``collections.deque``: a doubly linked list of
64-slot blocks, the same shape as Redis's quicklist (a linked list of small arrays), so both
ends are O(1) and an index costs O(n/64) from the nearer end. A list that becomes empty is
deleted.

:func:`list_pop` and :func:`list_move` are the non-blocking cores that the blocking forms
(BLPOP, BRPOP, BLMOVE, BLMPOP) call once a key they wait on has elements: they change the
keyspace only, and the caller checks types and propagates.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from . import resp
from .cmd_zsets import parse_mpop
from .commands import LLONG_MIN, NOT_INT, SYNTAX, WRITE, command, parse_int
from .values import typed


def _list(cl, key: bytes):
    return typed(cl, key, deque)


def list_pop(ks, key: bytes, count: int, left: bool) -> list[bytes]:
    """Pop up to ``count`` elements from one end of the list at ``key`` (``[]`` if missing),
    deleting the key when it empties."""
    lst = ks.lookup(key)
    if lst is None:
        return []
    pop = lst.popleft if left else lst.pop
    out = [pop() for _ in range(min(count, len(lst)))]
    if not lst:
        ks.delete(key)
    return out


def list_move(ks, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> bytes | None:
    """LMOVE's effect: pop from ``src``, push onto ``dst``; the element, or None if ``src`` is
    missing. Both keys must hold lists or be missing (the caller checks)."""
    lst = ks.lookup(src)
    if lst is None:
        return None
    v = lst.popleft() if from_left else lst.pop()
    if not lst:
        ks.delete(src)
    target = ks.lookup(dst)
    if target is None:
        target = deque()
        ks.set(dst, target)
    if to_left:
        target.appendleft(v)
    else:
        target.append(v)
    return v


def _pushx(cl, argv, left: bool):
    lst, err = _list(cl, argv[1])
    if err or lst is None:
        return err or b":0\r\n"
    if left:
        lst.extendleft(argv[2:])
    else:
        lst.extend(argv[2:])
    cl.engine.propagate(argv)
    return b":%d\r\n" % len(lst)


@command("lpushx", -3, WRITE)
def cmd_lpushx(cl, argv):
    return _pushx(cl, argv, True)


@command("rpushx", -3, WRITE)
def cmd_rpushx(cl, argv):
    return _pushx(cl, argv, False)


@command("lindex", 3)
def cmd_lindex(cl, argv):
    i = parse_int(argv[2])
    if i is None:
        return NOT_INT
    lst, err = _list(cl, argv[1])
    if err or lst is None:
        return err or resp.NULL
    if i < 0:
        i += len(lst)
    if not 0 <= i < len(lst):
        return resp.NULL
    return resp.bulk(lst[i])


@command("lset", 4, WRITE)
def cmd_lset(cl, argv):
    i = parse_int(argv[2])
    if i is None:
        return NOT_INT
    lst, err = _list(cl, argv[1])
    if err:
        return err
    if lst is None:
        return b"-ERR no such key\r\n"
    if i < 0:
        i += len(lst)
    if not 0 <= i < len(lst):
        return b"-ERR index out of range\r\n"
    lst[i] = argv[3]
    cl.engine.propagate(argv)
    return resp.OK


@command("linsert", 5, WRITE)
def cmd_linsert(cl, argv):
    where = argv[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        return SYNTAX
    lst, err = _list(cl, argv[1])
    if err or lst is None:
        return err or b":0\r\n"
    try:
        i = lst.index(argv[3])
    except ValueError:
        return b":-1\r\n"
    lst.insert(i if where == b"BEFORE" else i + 1, argv[4])
    cl.engine.propagate(argv)
    return b":%d\r\n" % len(lst)


@command("lrem", 4, WRITE)
def cmd_lrem(cl, argv):
    count = parse_int(argv[2])
    if count is None:
        return NOT_INT
    lst, err = _list(cl, argv[1])
    if err or lst is None:
        return err or b":0\r\n"
    v = argv[3]
    limit = abs(count) or len(lst)
    items = list(lst) if count >= 0 else list(reversed(lst))
    kept = []
    removed = 0
    for x in items:
        if removed < limit and x == v:
            removed += 1
        else:
            kept.append(x)
    if removed:
        lst.clear()
        lst.extend(kept if count >= 0 else reversed(kept))
        if not lst:
            cl.ks.delete(argv[1])
        cl.engine.propagate(argv)
    return b":%d\r\n" % removed


@command("ltrim", 4, WRITE)
def cmd_ltrim(cl, argv):
    start, stop = parse_int(argv[2]), parse_int(argv[3])
    if start is None or stop is None:
        return NOT_INT
    lst, err = _list(cl, argv[1])
    if err or lst is None:
        return err or resp.OK
    n = len(lst)
    if start < 0:
        start = max(n + start, 0)
    if stop < 0:
        stop = n + stop
    if start > stop or start >= n:
        cl.ks.delete(argv[1])
    else:
        stop = min(stop, n - 1)
        for _ in range(n - 1 - stop):
            lst.pop()
        for _ in range(start):
            lst.popleft()
    cl.engine.propagate(argv)
    return resp.OK


@command("lpos", -3)
def cmd_lpos(cl, argv):
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(argv):
        o = argv[i].upper()
        if i + 1 >= len(argv):
            return SYNTAX
        v = parse_int(argv[i + 1])
        if v is None:
            return NOT_INT
        if o == b"RANK":
            if v == 0:
                return (b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from "
                        b"the second ... or use negative to start from the end of the list\r\n")
            if v == LLONG_MIN:
                return (b"-ERR value is out of range, value must between -9223372036854775807 "
                        b"and 9223372036854775807\r\n")
            rank = v
        elif o == b"COUNT":
            if v < 0:
                return b"-ERR COUNT can't be negative\r\n"
            count = v
        elif o == b"MAXLEN":
            if v < 0:
                return b"-ERR MAXLEN can't be negative\r\n"
            maxlen = v
        else:
            return SYNTAX
        i += 2
    lst, err = _list(cl, argv[1])
    if err:
        return err
    found = []
    if lst is not None:
        n = len(lst)
        target = argv[2]
        want = count if count else n
        skip = abs(rank) - 1
        it = enumerate(lst) if rank > 0 else ((n - 1 - j, x) for j, x in enumerate(reversed(lst)))
        if maxlen:
            it = islice(it, maxlen)
        for idx, x in it:
            if x == target:
                if skip:
                    skip -= 1
                    continue
                found.append(idx)
                if len(found) >= want:
                    break
    if count is None:
        return b":%d\r\n" % found[0] if found else resp.NULL
    return b"*%d\r\n" % len(found) + b"".join(b":%d\r\n" % f for f in found)


def _move(cl, argv, src, dst, from_left: bool, to_left: bool):
    lst, err = _list(cl, src)
    if err:
        return err
    _d, err = _list(cl, dst)
    if err:
        return err
    v = list_move(cl.ks, src, dst, from_left, to_left)
    if v is None:
        return resp.NULL
    cl.engine.propagate(argv)
    return resp.bulk(v)


def _side(b: bytes):
    s = b.upper()
    return True if s == b"LEFT" else False if s == b"RIGHT" else None


@command("lmove", 5, WRITE)
def cmd_lmove(cl, argv):
    a, b = _side(argv[3]), _side(argv[4])
    if a is None or b is None:
        return SYNTAX
    return _move(cl, argv, argv[1], argv[2], a, b)


@command("rpoplpush", 3, WRITE)
def cmd_rpoplpush(cl, argv):
    return _move(cl, argv, argv[1], argv[2], False, True)


@command("lmpop", -4, WRITE)
def cmd_lmpop(cl, argv):
    keys, end, count, err = parse_mpop(argv, 1, (b"LEFT", b"RIGHT"))
    if err:
        return err
    for k in keys:
        lst, err = _list(cl, k)
        if err:
            return err
        if lst is not None:
            popped = list_pop(cl.ks, k, count, end == 0)
            cl.engine.propagate([b"RPOP" if end else b"LPOP", k, b"%d" % count])
            return b"*2\r\n" + resp.bulk(k) + resp.array(popped)
    return resp.NULL_ARRAY
