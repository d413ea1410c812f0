"""Hash commands beyond HSET/HGET/HDEL/HGETALL/HLEN/HEXISTS: HMSET HSETNX HMGET HKEYS HVALS
HSTRLEN HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.

Mirrors Redis's ``t_hash.c``. A hash is a ``dict`` of field -> value (Redis's ``hashtable``
encoding). HINCRBYFLOAT is propagated as the ``HSET`` of its result, so a replay never
recomputes a float sum (Redis does the same, for the same reason: the result must be
bit-identical on every replica whatever its libc).
"""

from __future__ import annotations

from . import resp
from .commands import (
    LLONG_MAX,
    LLONG_MIN,
    NOT_INT,
    OVERFLOW,
    WRITE,
    arity_error,
    command,
    parse_int,
)
from .values import (
    add_long_double,
    matcher,
    parse_float,
    parse_random_count,
    parse_scan_args,
    reply,
    scan_step,
    typed,
)


def _hash(cl, key: bytes):
    return typed(cl, key, dict)


def _hash_for_write(cl, key: bytes):
    h, err = _hash(cl, key)
    if err is None and h is None:
        h = {}
        cl.ks.set(key, h)
    return h, err


@command("hmset", -4, WRITE)
def cmd_hmset(cl, argv):
    if len(argv) % 2:
        return arity_error(argv[0])
    h, err = _hash_for_write(cl, argv[1])
    if err:
        return err
    for i in range(2, len(argv), 2):
        h[argv[i]] = argv[i + 1]
    cl.engine.propagate(argv)
    return resp.OK


@command("hsetnx", 4, WRITE)
def cmd_hsetnx(cl, argv):
    h, err = _hash(cl, argv[1])
    if err:
        return err
    if h is not None and argv[2] in h:
        return b":0\r\n"
    h, _ = _hash_for_write(cl, argv[1])
    h[argv[2]] = argv[3]
    cl.engine.propagate(argv)
    return b":1\r\n"


@command("hmget", -3)
def cmd_hmget(cl, argv):
    h, err = _hash(cl, argv[1])
    if err:
        return err
    get = (h or {}).get
    return reply([get(f) for f in argv[2:]], cl.resp3)


@command("hkeys", 2)
def cmd_hkeys(cl, argv):
    h, err = _hash(cl, argv[1])
    return err or resp.array(list(h) if h else [])


@command("hvals", 2)
def cmd_hvals(cl, argv):
    h, err = _hash(cl, argv[1])
    return err or resp.array(list(h.values()) if h else [])


@command("hstrlen", 3)
def cmd_hstrlen(cl, argv):
    h, err = _hash(cl, argv[1])
    return err or b":%d\r\n" % len((h or {}).get(argv[2], b""))


@command("hincrby", 4, WRITE)
def cmd_hincrby(cl, argv):
    d = parse_int(argv[3])
    if d is None:
        return NOT_INT
    h, err = _hash(cl, argv[1])
    if err:
        return err
    cur = 0
    if h is not None and argv[2] in h:
        cur = parse_int(h[argv[2]])
        if cur is None:
            return b"-ERR hash value is not an integer\r\n"
    new = cur + d
    if new > LLONG_MAX or new < LLONG_MIN:
        return OVERFLOW
    h, _ = _hash_for_write(cl, argv[1])
    h[argv[2]] = b"%d" % new
    cl.engine.propagate(argv)
    return b":%d\r\n" % new


@command("hincrbyfloat", 4, WRITE)
def cmd_hincrbyfloat(cl, argv):
    d = parse_float(argv[3])
    if d is None:
        return b"-ERR value is not a valid float\r\n"
    if d in (float("inf"), float("-inf")):
        return b"-ERR value is NaN or Infinity\r\n"
    h, err = _hash(cl, argv[1])
    if err:
        return err
    cur = h.get(argv[2], b"0") if h is not None else b"0"
    if parse_float(cur) is None:
        return b"-ERR hash value is not a float\r\n"
    text = add_long_double(cur, argv[3])
    if text is None:
        return b"-ERR increment would produce NaN or Infinity\r\n"
    h, _ = _hash_for_write(cl, argv[1])
    h[argv[2]] = text
    cl.engine.propagate([b"HSET", argv[1], argv[2], text])
    return resp.bulk(text)


@command("hrandfield", -2)
def cmd_hrandfield(cl, argv):
    count, err = parse_random_count(argv, b"WITHVALUES")
    if err:
        return err
    h, err = _hash(cl, argv[1])
    if err:
        return err
    if h is None:
        return resp.NULL if count is None else resp.EMPTY_ARRAY
    rng = cl.ks.rng
    fields = list(h)
    if count is None:
        return resp.bulk(rng.choice(fields))
    if count >= 0:
        picked = fields if count >= len(fields) else rng.sample(fields, count)
    else:
        picked = [rng.choice(fields) for _ in range(-count)]
    if len(argv) == 4:
        if cl.resp3:
            return reply([[f, h[f]] for f in picked], True)
        flat = []
        for f in picked:
            flat.append(f)
            flat.append(h[f])
        return resp.array(flat)
    return resp.array(picked)


@command("hscan", -3)
def cmd_hscan(cl, argv):
    cursor, count, pattern, err = parse_scan_args(argv, 2)
    if err:
        return err
    h, err = _hash(cl, argv[1])
    if err:
        return err
    if h is None:
        return b"*2\r\n$1\r\n0\r\n*0\r\n"
    nxt, fields = scan_step(h, h, cursor, count)
    ok = matcher(pattern)
    out = []
    for f in fields:
        v = h.get(f)
        if v is not None and (ok is None or ok(f)):
            out.append(f)
            out.append(v)
    return b"*2\r\n" + resp.bulk(b"%d" % nxt) + resp.array(out)
