"""Hash and list commands: HSET HGET HDEL HGETALL HLEN HEXISTS, LPUSH RPUSH LPOP RPOP LRANGE LLEN.

Mirrors Redis's ``t_hash.c`` and ``t_list.c``. A hash is a ``dict`` of field -> value, a list a
``collections.deque`` (O(1) at both ends, like Redis's quicklist). As in Redis, a hash or list
that becomes empty is deleted, so an empty collection is never visible.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from . import resp
from .commands import NOT_INT, WRITE, WRONGTYPE, arity_error, command, parse_int


def _get(cl, key: bytes, kind):
    """(value, error): the value if it is of ``kind`` or missing, else the WRONGTYPE reply."""
    v = cl.ks.lookup(key)
    if v is not None and type(v) is not kind:
        return None, WRONGTYPE
    return v, None


@command("hset", -4, WRITE)
def cmd_hset(cl, argv):
    if len(argv) % 2:
        return arity_error(argv[0])
    h, err = _get(cl, argv[1], dict)
    if err:
        return err
    if h is None:
        h = {}
        cl.ks.set(argv[1], h)
    before = len(h)
    for i in range(2, len(argv), 2):
        h[argv[i]] = argv[i + 1]
    cl.engine.propagate(argv)
    return b":%d\r\n" % (len(h) - before)


@command("hget", 3)
def cmd_hget(cl, argv):
    h, err = _get(cl, argv[1], dict)
    if err:
        return err
    return resp.bulk(None if h is None else h.get(argv[2]))


@command("hdel", -3, WRITE)
def cmd_hdel(cl, argv):
    h, err = _get(cl, argv[1], dict)
    if err:
        return err
    if h is None:
        return b":0\r\n"
    n = 0
    for f in argv[2:]:
        if h.pop(f, None) is not None:
            n += 1
    if not h:
        cl.ks.delete(argv[1])
    if n:
        cl.engine.propagate(argv)
    return b":%d\r\n" % n


@command("hgetall", 2)
def cmd_hgetall(cl, argv):
    h, err = _get(cl, argv[1], dict)
    if err:
        return err
    if h is None:
        return resp.EMPTY_ARRAY
    flat = []
    for f, v in h.items():
        flat.append(f)
        flat.append(v)
    return resp.array(flat)


@command("hlen", 2)
def cmd_hlen(cl, argv):
    h, err = _get(cl, argv[1], dict)
    return err or b":%d\r\n" % (len(h) if h else 0)


@command("hexists", 3)
def cmd_hexists(cl, argv):
    h, err = _get(cl, argv[1], dict)
    return err or (b":1\r\n" if h and argv[2] in h else b":0\r\n")


def _push(cl, argv, left: bool):
    lst, err = _get(cl, argv[1], deque)
    if err:
        return err
    if lst is None:
        lst = deque()
        cl.ks.set(argv[1], lst)
    if left:
        lst.extendleft(argv[2:])
    else:
        lst.extend(argv[2:])
    cl.engine.propagate(argv)
    return b":%d\r\n" % len(lst)


@command("lpush", -3, WRITE)
def cmd_lpush(cl, argv):
    return _push(cl, argv, True)


@command("rpush", -3, WRITE)
def cmd_rpush(cl, argv):
    return _push(cl, argv, False)


def _pop(cl, argv, left: bool):
    if len(argv) > 3:
        return arity_error(argv[0])
    count = None
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            return b"-ERR value is out of range, must be positive\r\n"
    lst, err = _get(cl, argv[1], deque)
    if err:
        return err
    if lst is None:
        return resp.NULL if count is None else resp.NULL_ARRAY
    pop = lst.popleft if left else lst.pop
    if count is None:
        out = pop()
    else:
        out = [pop() for _ in range(min(count, len(lst)))]
    if not lst:
        cl.ks.delete(argv[1])
    if count != 0:
        cl.engine.propagate(argv)
    return resp.bulk(out) if count is None else resp.array(out)


@command("lpop", -2, WRITE)
def cmd_lpop(cl, argv):
    return _pop(cl, argv, True)


@command("rpop", -2, WRITE)
def cmd_rpop(cl, argv):
    return _pop(cl, argv, False)


@command("lrange", 4)
def cmd_lrange(cl, argv):
    start, stop = parse_int(argv[2]), parse_int(argv[3])
    if start is None or stop is None:
        return NOT_INT
    lst, err = _get(cl, argv[1], deque)
    if err:
        return err
    if lst is None:
        return resp.EMPTY_ARRAY
    n = len(lst)
    if start < 0:
        start = max(n + start, 0)
    if stop < 0:
        stop = n + stop
    stop = min(stop, n - 1)
    if start > stop or start >= n:
        return resp.EMPTY_ARRAY
    return resp.array(list(islice(lst, start, stop + 1)))


@command("llen", 2)
def cmd_llen(cl, argv):
    lst, err = _get(cl, argv[1], deque)
    return err or b":%d\r\n" % (len(lst) if lst else 0)
