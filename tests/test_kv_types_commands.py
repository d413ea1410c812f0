"""Data-type commands in process (no socket): what a differential test against Redis cannot
check. SPOP is propagated as its effect; SSCAN/HSCAN/ZSCAN return every element present for
the whole iteration even while the collection changes; the bounds that keep one command from
stalling the server (LCS, random picks); OBJECT ENCODING names our own representations; COPY
and MOVE between databases."""

from __future__ import annotations

import random

from labsupport.kv import Engine
from labsupport.kv.resp import ReplyParser


def call(eng: Engine, *args):
    p = ReplyParser()
    p.feed(eng.apply([a if isinstance(a, bytes) else str(a).encode() for a in args]))
    return p.next_reply()


def test_spop_is_propagated_as_the_members_it_removed():
    eng = Engine()
    call(eng, "SADD", "s", "a", "b", "c", "d")
    eng._pending.clear()
    popped = call(eng, "SPOP", "s", 2)
    assert eng._pending[-1] == [b"SREM", b"s", *popped]
    call(eng, "SPOP", "s", 5)
    assert eng._pending[-1] == [b"DEL", b"s"]


def test_collection_scans_return_every_stable_element_under_changes():
    seed = 11
    print("seed", seed)
    rng = random.Random(seed)
    for kind in ("SADD", "HSET", "ZADD"):
        eng = Engine()
        key = kind.lower()
        stable = [b"stable%d" % i for i in range(300)]
        for m in stable:
            call(eng, kind, key, *((m, b"1") if kind == "HSET" else (b"1", m) if kind == "ZADD"
                                  else (m,)))
        seen, cursor, calls = set(), b"0", 0
        while True:
            cursor, items = call(eng, kind[0] + "SCAN", key, cursor, "COUNT", 7)
            step = 1 if kind == "SADD" else 2
            seen.update(items[::step])
            churn = b"churn%d" % rng.randrange(10_000)   # inserts between calls
            call(eng, kind, key, *((churn, b"1") if kind == "HSET" else (b"1", churn)
                                   if kind == "ZADD" else (churn,)))
            calls += 1
            if cursor == b"0":
                break
        assert set(stable) <= seen, kind
        assert calls > 10     # really incremental, not one reply


def test_bounds_keep_single_commands_short():
    eng = Engine()
    call(eng, "SADD", "s", "a")
    err = call(eng, "SRANDMEMBER", "s", -(10**12))
    assert "out of range" in str(err)
    call(eng, "SET", "a", "x" * 6000)
    call(eng, "SET", "b", "y" * 6000)
    assert "bound" in str(call(eng, "LCS", "a", "b"))


def test_object_encoding_names_this_servers_representations():
    eng = Engine()
    call(eng, "SET", "k", "1")
    call(eng, "SADD", "s", "1")
    call(eng, "ZADD", "z", "1", "m")
    call(eng, "RPUSH", "l", "x")
    call(eng, "HSET", "h", "f", "v")
    got = {k: call(eng, "OBJECT", "ENCODING", k) for k in ("k", "s", "z", "l", "h")}
    assert got == {"k": b"embstr", "s": b"hashtable", "z": b"skiplist", "l": b"quicklist",
                   "h": b"hashtable"}
    assert "not tracked" in str(call(eng, "OBJECT", "IDLETIME", "k"))


def test_copy_and_move_between_databases():
    eng = Engine()
    call(eng, "ZADD", "z", "1", "m")
    assert call(eng, "COPY", "z", "z2", "DB", 3) == 1
    assert call(eng, "ZADD", "z", "5", "m") == 0
    assert list(eng.dbs[3].data[b"z2"].items()) == [(b"m", 1.0)]   # a copy, not an alias
    assert call(eng, "MOVE", "z", 3) == 1 and b"z" not in eng.ks.data
    assert "out of range" in str(call(eng, "MOVE", "z2", 99)) and b"z2" in eng.dbs[3].data
