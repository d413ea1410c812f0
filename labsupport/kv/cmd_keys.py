"""Generic key commands: DEL EXISTS TYPE KEYS SCAN, the EXPIRE family, TTL PTTL PERSIST,
DBSIZE FLUSHDB.

Mirrors Redis's ``db.c`` and ``expire.c``. EXPIRE-style commands are propagated as
``PEXPIREAT key <absolute ms>`` so that replaying the AOF later, or applying the stream on a
replica, gives the same deadline; a deadline already in the past deletes the key and is
propagated as ``DEL``, like Redis 7.

SCAN guarantee: every key present for the whole iteration is returned. The cursor is a
position in the order of a stable 32-bit hash of the key (``zlib.crc32``), not an index into
the dict, so deletions and insertions between calls never shift keys past the cursor. Each
call works on a sorted (hash, key) list rebuilt when a new iteration starts (cursor 0) after
the keyspace changed; a key present throughout was present at that rebuild. Keys sharing a
hash are always returned by the same call, so the cursor never splits them.
"""

from __future__ import annotations

import bisect
import zlib

from . import glob, resp
from .commands import LLONG_MAX, NOT_INT, SYNTAX, WRITE, command, parse_int
from .keyspace import type_name


@command("del", -2, WRITE)
def cmd_del(cl, argv):
    ks = cl.ks
    n = 0
    for k in argv[1:]:
        if ks.delete(k):
            n += 1
    if n:
        cl.engine.propagate(argv)
    return b":%d\r\n" % n


@command("exists", -2)
def cmd_exists(cl, argv):
    lookup = cl.ks.lookup
    return b":%d\r\n" % sum(1 for k in argv[1:] if lookup(k) is not None)


@command("type", 2)
def cmd_type(cl, argv):
    return b"+" + type_name(cl.ks.lookup(argv[1])) + b"\r\n"


@command("keys", 2)
def cmd_keys(cl, argv):
    ks = cl.ks
    now = ks.clock_ms()
    exp = ks.expires
    if glob.matches_all(argv[1]):
        out = [k for k in ks.data if exp.get(k, now + 1) > now]
    else:   # polynomial per key (see .glob): one KEYS is one bounded turn of the loop
        match = glob.compile(argv[1]).fullmatch
        out = [k for k in ks.data if match(k) and exp.get(k, now + 1) > now]
    return resp.array(out)


def _scan_index(ks, fresh: bool):
    """The cached sorted (hash, key) list, rebuilt when a new scan starts on a changed keyspace."""
    cache = _SCAN_CACHE.get(id(ks))
    if cache is None or (fresh and cache[0] != ks.dirty) or (fresh and cache[2] != len(ks.data)):
        entries = sorted((zlib.crc32(k), k) for k in ks.data)
        cache = (ks.dirty, entries, len(ks.data))
        _SCAN_CACHE[id(ks)] = cache
    return cache[1]


_SCAN_CACHE: dict[int, tuple] = {}


@command("scan", -2)
def cmd_scan(cl, argv):
    cursor = parse_int(argv[1])
    if cursor is None or cursor < 0:
        return b"-ERR invalid cursor\r\n"
    count = 10
    rx = None
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"COUNT" and i + 1 < len(argv):
            c = parse_int(argv[i + 1])
            if c is None:
                return NOT_INT
            if c < 1:
                return SYNTAX
            count = c
        elif opt == b"MATCH" and i + 1 < len(argv):
            rx = None if glob.matches_all(argv[i + 1]) else glob.compile(argv[i + 1])
        else:
            return SYNTAX
        i += 2
    ks = cl.ks
    entries = _scan_index(ks, cursor == 0)
    start = bisect.bisect_left(entries, (cursor - 1,)) if cursor else 0
    end = min(start + count, len(entries))
    # never split keys of equal hash between two calls
    while end < len(entries) and end > start and entries[end][0] == entries[end - 1][0]:
        end += 1
    next_cursor = entries[end - 1][0] + 2 if end < len(entries) else 0
    out = []
    lookup = ks.lookup
    for _h, k in entries[start:end]:
        if lookup(k) is not None and (rx is None or rx.fullmatch(k)):
            out.append(k)
    return b"*2\r\n" + resp.bulk(b"%d" % next_cursor) + resp.array(out)


def _expire_generic(cl, argv, unit_ms: int, absolute: bool):
    ks = cl.ks
    key = argv[1]
    v = parse_int(argv[2])
    if v is None:
        return NOT_INT
    nx = xx = gt = lt = False
    for opt in argv[3:]:
        o = opt.upper()
        if o == b"NX":
            nx = True
        elif o == b"XX":
            xx = True
        elif o == b"GT":
            gt = True
        elif o == b"LT":
            lt = True
        else:
            return resp.error("ERR Unsupported option " + opt.decode("utf-8", "replace"))
    if nx and (xx or gt or lt):
        return b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    if gt and lt:
        return b"-ERR GT and LT options at the same time are not compatible\r\n"
    bad = resp.error(f"ERR invalid expire time in '{argv[0].decode().lower()}' command")
    if unit_ms == 1000:
        if v > LLONG_MAX // 1000 or v < -(LLONG_MAX // 1000):
            return bad
        v *= 1000
    if not absolute:
        now = ks.clock_ms()
        if v > LLONG_MAX - now:
            return bad
        v += now
    if ks.lookup(key) is None:
        return b":0\r\n"
    cur = ks.expires.get(key)
    if nx and cur is not None or xx and cur is None:
        return b":0\r\n"
    if gt and (cur is None or v <= cur) or lt and cur is not None and v >= cur:
        return b":0\r\n"
    if v <= ks.clock_ms() and not ks.is_replica:
        ks.delete(key)
        cl.engine.propagate([b"DEL", key])
        return b":1\r\n"
    ks.set_deadline(key, v)
    cl.engine.propagate([b"PEXPIREAT", key, b"%d" % v])
    return b":1\r\n"


@command("expire", -3, WRITE)
def cmd_expire(cl, argv):
    return _expire_generic(cl, argv, 1000, False)


@command("pexpire", -3, WRITE)
def cmd_pexpire(cl, argv):
    return _expire_generic(cl, argv, 1, False)


@command("expireat", -3, WRITE)
def cmd_expireat(cl, argv):
    return _expire_generic(cl, argv, 1000, True)


@command("pexpireat", -3, WRITE)
def cmd_pexpireat(cl, argv):
    return _expire_generic(cl, argv, 1, True)


@command("ttl", 2)
def cmd_ttl(cl, argv):
    ms = cl.ks.ttl_ms(argv[1])
    return b":%d\r\n" % (ms if ms < 0 else (ms + 500) // 1000)


@command("pttl", 2)
def cmd_pttl(cl, argv):
    return b":%d\r\n" % cl.ks.ttl_ms(argv[1])


@command("persist", 2, WRITE)
def cmd_persist(cl, argv):
    if cl.ks.persist(argv[1]):
        cl.engine.propagate(argv)
        return b":1\r\n"
    return b":0\r\n"
