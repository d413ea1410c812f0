"""String commands: GET SET GETDEL MGET MSET INCR INCRBY DECR DECRBY APPEND STRLEN.

Mirrors Redis's ``t_string.c``: the same option rules for SET, the same error words, integers
kept as their decimal bytes (Redis also stores small integers as strings on the wire).
GET and SET are the benchmark's hot path, so they read ``client.ks.data`` directly and only
fall back to :meth:`Keyspace.lookup` when some key has a deadline.
"""

from __future__ import annotations

from . import resp
from .commands import (
    LLONG_MAX,
    LLONG_MIN,
    NOT_INT,
    OVERFLOW,
    SYNTAX,
    WRITE,
    WRONGTYPE,
    arity_error,
    command,
    parse_int,
)

NULL = resp.NULL
OK = resp.OK


@command("get", 2)
def cmd_get(cl, argv):
    ks = cl.ks
    v = ks.lookup(argv[1]) if ks.expires else ks.data.get(argv[1])
    if v is None:
        return NULL
    if type(v) is not bytes:
        return WRONGTYPE
    return b"$%d\r\n%s\r\n" % (len(v), v)


def _invalid_expire(name: bytes) -> bytes:
    return resp.error(f"ERR invalid expire time in '{name.decode().lower()}' command")


@command("set", -3, WRITE)
def cmd_set(cl, argv):
    ks = cl.ks
    key = argv[1]
    eng = cl.engine
    if len(argv) == 3 and not ks.expires and eng.stream_db == cl.db and not (
            eng.watched or eng.hooks):
        # The plain "SET key value" of benchmarks: no options, no deadlines anywhere, the
        # streams already on this database, no WATCH or keyspace notification to feed.
        ks.data[key] = argv[2]
        eng._pending.append(argv)   # what propagate() does, without the call
        ks.dirty += 1
        return OK
    nx = xx = get = keepttl = False
    unit = None
    when_arg = None
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get = True
        elif opt == b"KEEPTTL" and unit is None:
            keepttl = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and unit is None and not keepttl and i + 1 < n:
            unit = opt
            i += 1
            when_arg = argv[i]
        else:
            return SYNTAX
        i += 1
    deadline = None
    if unit is not None:
        v = parse_int(when_arg)
        if v is None:
            return NOT_INT
        if v <= 0:
            return _invalid_expire(argv[0])
        if unit in (b"EX", b"EXAT"):
            if v > LLONG_MAX // 1000:
                return _invalid_expire(argv[0])
            v *= 1000
        if unit in (b"EX", b"PX"):
            now = ks.clock_ms()
            if v > LLONG_MAX - now:
                return _invalid_expire(argv[0])
            v += now
        deadline = v
    old = ks.lookup(key)
    if get and old is not None and type(old) is not bytes:
        return WRONGTYPE
    reply = (NULL if old is None else resp.bulk(old)) if get else OK
    if (nx and old is not None) or (xx and old is None):
        return reply if get else NULL
    ks.set(key, argv[2], keep_ttl=keepttl)
    if deadline is not None:
        ks.set_deadline(key, deadline)
        cl.engine.propagate([b"SET", key, argv[2], b"PXAT", b"%d" % deadline])
    elif keepttl:
        cl.engine.propagate([b"SET", key, argv[2], b"KEEPTTL"])
    else:
        cl.engine.propagate([b"SET", key, argv[2]])
    return reply


@command("getdel", 2, WRITE)
def cmd_getdel(cl, argv):
    ks = cl.ks
    v = ks.lookup(argv[1])
    if v is None:
        return NULL
    if type(v) is not bytes:
        return WRONGTYPE
    ks.delete(argv[1])
    cl.engine.propagate([b"DEL", argv[1]])
    return resp.bulk(v)


@command("mget", -2)
def cmd_mget(cl, argv):
    lookup = cl.ks.lookup
    out = []
    for k in argv[1:]:
        v = lookup(k)
        out.append(v if type(v) is bytes else None)
    if cl.resp3:
        return b"*%d\r\n" % len(out) + b"".join(b"_\r\n" if v is None else resp.bulk(v)
                                                for v in out)
    return resp.array(out)


@command("mset", -3, WRITE)
def cmd_mset(cl, argv):
    if len(argv) % 2 == 0:
        return arity_error(argv[0])
    ks = cl.ks
    for i in range(1, len(argv), 2):
        ks.set(argv[i], argv[i + 1])
    cl.engine.propagate(argv)
    return OK


def _incr(cl, argv, key: bytes, delta: int) -> bytes:
    ks = cl.ks
    v = ks.lookup(key)
    if v is None:
        cur = 0
    elif type(v) is not bytes:
        return WRONGTYPE
    else:
        cur = parse_int(v)
        if cur is None:
            return NOT_INT
    new = cur + delta
    if new > LLONG_MAX or new < LLONG_MIN:
        return OVERFLOW
    ks.set(key, b"%d" % new, keep_ttl=True)
    cl.engine.propagate(argv)
    return b":%d\r\n" % new


@command("incr", 2, WRITE)
def cmd_incr(cl, argv):
    return _incr(cl, argv, argv[1], 1)


@command("decr", 2, WRITE)
def cmd_decr(cl, argv):
    return _incr(cl, argv, argv[1], -1)


@command("incrby", 3, WRITE)
def cmd_incrby(cl, argv):
    d = parse_int(argv[2])
    if d is None:
        return NOT_INT
    return _incr(cl, argv, argv[1], d)


@command("decrby", 3, WRITE)
def cmd_decrby(cl, argv):
    d = parse_int(argv[2])
    if d is None:
        return NOT_INT
    if d == LLONG_MIN:
        return b"-ERR decrement would overflow\r\n"
    return _incr(cl, argv, argv[1], -d)


@command("append", 3, WRITE)
def cmd_append(cl, argv):
    ks = cl.ks
    v = ks.lookup(argv[1])
    if v is None:
        v = b""
    elif type(v) is not bytes:
        return WRONGTYPE
    v += argv[2]
    ks.set(argv[1], v, keep_ttl=True)
    cl.engine.propagate(argv)
    return b":%d\r\n" % len(v)


@command("strlen", 2)
def cmd_strlen(cl, argv):
    v = cl.ks.lookup(argv[1])
    if v is None:
        return b":0\r\n"
    if type(v) is not bytes:
        return WRONGTYPE
    return b":%d\r\n" % len(v)
