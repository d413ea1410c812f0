"""Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE,
SINTER SUNION SDIFF (+STORE), SINTERCARD, SSCAN.

Mirrors Redis's ``t_set.c``. A set is a Python ``set`` of ``bytes`` (a hash table, like Redis's
``hashtable`` encoding); an empty set is deleted. Randomness (SPOP, SRANDMEMBER) comes from the
keyspace's injected RNG. SPOP is not replayed as sent, since a replica or an AOF replay would
pop different members: its *effect* is propagated instead (``SREM key the-popped-members``, or
``DEL key`` when the whole set went), as Redis does.
"""

from __future__ import annotations

from . import resp
from .commands import NOT_INT, SYNTAX, WRITE, command, parse_int
from .values import MAX_RANDOM_PICKS, OUT_OF_RANGE, matcher, parse_scan_args, scan_step, typed

POSITIVE = b"-ERR value is out of range, must be positive\r\n"


def _set(cl, key: bytes):
    return typed(cl, key, set)


@command("sadd", -3, WRITE)
def cmd_sadd(cl, argv):
    s, err = _set(cl, argv[1])
    if err:
        return err
    if s is None:
        s = set()
        cl.ks.set(argv[1], s)
    before = len(s)
    s.update(argv[2:])
    n = len(s) - before
    if n:
        cl.engine.propagate(argv)
    return b":%d\r\n" % n


@command("srem", -3, WRITE)
def cmd_srem(cl, argv):
    s, err = _set(cl, argv[1])
    if err or s is None:
        return err or b":0\r\n"
    before = len(s)
    s.difference_update(argv[2:])
    n = before - len(s)
    if not s:
        cl.ks.delete(argv[1])
    if n:
        cl.engine.propagate(argv)
    return b":%d\r\n" % n


@command("smembers", 2)
def cmd_smembers(cl, argv):
    s, err = _set(cl, argv[1])
    return err or resp.array(list(s) if s else [])


@command("sismember", 3)
def cmd_sismember(cl, argv):
    s, err = _set(cl, argv[1])
    return err or (b":1\r\n" if s and argv[2] in s else b":0\r\n")


@command("smismember", -3)
def cmd_smismember(cl, argv):
    s, err = _set(cl, argv[1])
    if err:
        return err
    s = s or ()
    return b"*%d\r\n" % (len(argv) - 2) + b"".join(
        b":1\r\n" if m in s else b":0\r\n" for m in argv[2:])


@command("scard", 2)
def cmd_scard(cl, argv):
    s, err = _set(cl, argv[1])
    return err or b":%d\r\n" % (len(s) if s else 0)


@command("spop", -2, WRITE)
def cmd_spop(cl, argv):
    if len(argv) > 3:
        return SYNTAX
    count = None
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            return POSITIVE
    s, err = _set(cl, argv[1])
    if err:
        return err
    if s is None:
        return resp.NULL if count is None else resp.EMPTY_ARRAY
    rng = cl.ks.rng
    if count is None:
        m = rng.choice(tuple(s))
        popped = [m]
    elif count >= len(s):
        popped = list(s)
    else:
        popped = rng.sample(tuple(s), count)
    s.difference_update(popped)
    if not s:
        cl.ks.delete(argv[1])
        cl.engine.propagate([b"DEL", argv[1]])
    elif popped:
        cl.engine.propagate([b"SREM", argv[1], *popped])
    return resp.bulk(popped[0]) if count is None else resp.array(popped)


@command("srandmember", -2)
def cmd_srandmember(cl, argv):
    if len(argv) > 3:
        return SYNTAX
    count = None
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None:
            return NOT_INT
        if count < -MAX_RANDOM_PICKS:
            return OUT_OF_RANGE
    s, err = _set(cl, argv[1])
    if err:
        return err
    if s is None:
        return resp.NULL if count is None else resp.EMPTY_ARRAY
    rng = cl.ks.rng
    members = tuple(s)
    if count is None:
        return resp.bulk(rng.choice(members))
    if count >= 0:
        return resp.array(list(members) if count >= len(members) else rng.sample(members, count))
    return resp.array([rng.choice(members) for _ in range(-count)])


@command("smove", 4, WRITE)
def cmd_smove(cl, argv):
    src, err = _set(cl, argv[1])
    if err:
        return err
    dst, err = _set(cl, argv[2])
    if err:
        return err
    m = argv[3]
    if src is None or m not in src:
        return b":0\r\n"
    if argv[1] == argv[2]:
        return b":1\r\n"
    src.discard(m)
    if not src:
        cl.ks.delete(argv[1])
    if dst is None:
        dst = set()
        cl.ks.set(argv[2], dst)
    dst.add(m)
    cl.engine.propagate(argv)
    return b":1\r\n"


def _sources(cl, keys):
    """The sets at ``keys`` (missing ones empty), or (None, WRONGTYPE)."""
    out = []
    for k in keys:
        s, err = _set(cl, k)
        if err:
            return None, err
        out.append(s if s is not None else set())
    return out, None


def _combine(op: str, sets: list) -> set:
    if op == "inter":
        if not all(sets):
            return set()
        ordered = sorted(sets, key=len)
        return ordered[0].intersection(*ordered[1:])
    if op == "union":
        return set().union(*sets)
    return sets[0].difference(*sets[1:])


def _algebra(cl, argv, op: str, store: bool):
    keys = argv[2:] if store else argv[1:]
    sets, err = _sources(cl, keys)
    if err:
        return err
    result = _combine(op, sets)
    if not store:
        return resp.array(list(result))
    existed = cl.ks.delete(argv[1])
    if result:
        cl.ks.set(argv[1], result if all(result is not s for s in sets) else set(result))
    if result or existed:
        cl.engine.propagate(argv)
    return b":%d\r\n" % len(result)


@command("sinter", -2)
def cmd_sinter(cl, argv):
    return _algebra(cl, argv, "inter", False)


@command("sunion", -2)
def cmd_sunion(cl, argv):
    return _algebra(cl, argv, "union", False)


@command("sdiff", -2)
def cmd_sdiff(cl, argv):
    return _algebra(cl, argv, "diff", False)


@command("sinterstore", -3, WRITE)
def cmd_sinterstore(cl, argv):
    return _algebra(cl, argv, "inter", True)


@command("sunionstore", -3, WRITE)
def cmd_sunionstore(cl, argv):
    return _algebra(cl, argv, "union", True)


@command("sdiffstore", -3, WRITE)
def cmd_sdiffstore(cl, argv):
    return _algebra(cl, argv, "diff", True)


@command("sintercard", -3)
def cmd_sintercard(cl, argv):
    numkeys = parse_int(argv[1])
    if numkeys is None or numkeys <= 0:
        return b"-ERR numkeys should be greater than 0\r\n"
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
    sets, err = _sources(cl, keys)
    if err:
        return err
    sets.sort(key=len)
    n = 0
    for m in sets[0]:
        if all(m in s for s in sets[1:]):
            n += 1
            if limit and n >= limit:
                break
    return b":%d\r\n" % n


@command("sscan", -3)
def cmd_sscan(cl, argv):
    cursor, count, pattern, err = parse_scan_args(argv, 2)
    if err:
        return err
    s, err = _set(cl, argv[1])
    if err:
        return err
    if s is None:
        return b"*2\r\n$1\r\n0\r\n*0\r\n"
    nxt, members = scan_step(s, s, cursor, count)
    ok = matcher(pattern)
    out = [m for m in members if m in s and (ok is None or ok(m))]
    return b"*2\r\n" + resp.bulk(b"%d" % nxt) + resp.array(out)

