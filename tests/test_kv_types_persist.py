"""The new types survive restarts: sets, sorted sets (scores bit-exact, infinities included),
lists, hashes and bitmaps through the AOF (replayed commands, SPOP replayed as its effect),
through a snapshot (SAVE, then a restart without AOF), and through the AOF rewrite image."""

from __future__ import annotations

import pytest

redis = pytest.importorskip("redis")

from labsupport.kv import Config, Engine, ServerThread, snapshot  # noqa: E402
from labsupport.kv.aof import rewrite_commands  # noqa: E402
from labsupport.kv.skiplist import ZSet  # noqa: E402


def _fill(r) -> set:
    r.sadd("s", "a", "b", "c", "d")
    popped = r.spop("s")                      # random: must be replayed as what it removed
    r.zadd("z", {"x": 0.1, "y": 2.5, "w": float("inf"), "v": float("-inf")})
    r.zincrby("z", 1.25, "x")
    r.rpush("l", "1", "2", "3")
    r.lmove("l", "l2", "LEFT", "RIGHT")
    r.hset("h", mapping={"f": "1", "g": "2"})
    r.hincrbyfloat("h", "f", "0.5")
    r.setbit("bits", 9, 1)
    r.zadd("ttl", {"m": 1})
    r.expire("ttl", 1000)
    return {popped}


def _state(r) -> dict:
    return {"s": r.smembers("s"), "z": r.zrange("z", 0, -1, withscores=True),
            "l": r.lrange("l", 0, -1), "l2": r.lrange("l2", 0, -1), "h": r.hgetall("h"),
            "bits": r.get("bits"), "ttl": r.ttl("ttl") > 900, "types": [
                r.type(k) for k in ("s", "z", "l", "h", "bits")]}


def test_new_types_survive_an_aof_restart(tmp_path):
    cfg = dict(port=0, dir=str(tmp_path), appendonly=True, appendfsync="always")
    with ServerThread(Config(**cfg)) as srv:
        r = redis.Redis(port=srv.port, protocol=2)
        popped = _fill(r)
        before = _state(r)
        r.close()
    assert not popped & before["s"] and len(before["s"]) == 3
    with ServerThread(Config(**cfg)) as srv:
        r = redis.Redis(port=srv.port, protocol=2)
        assert _state(r) == before
        r.close()


def test_new_types_survive_a_snapshot_restart(tmp_path):
    cfg = dict(port=0, dir=str(tmp_path), appendonly=False)
    with ServerThread(Config(**cfg)) as srv:
        r = redis.Redis(port=srv.port, protocol=2)
        _fill(r)
        before = _state(r)
        assert r.save() is True
        r.close()
    with ServerThread(Config(**cfg)) as srv:
        r = redis.Redis(port=srv.port, protocol=2)
        assert _state(r) == before
        r.close()


def _dataset(eng: Engine) -> dict:
    out = {}
    for k, v, d in eng.ks.items_with_deadlines():
        out[k] = (list(v.items()) if isinstance(v, ZSet) else
                  sorted(v) if isinstance(v, set) else v if isinstance(v, (bytes, dict)) else
                  list(v), d)
    return out


def test_rewrite_image_and_snapshot_rebuild_the_same_dataset():
    src = Engine()
    for argv in (["SADD", "s", *map(str, range(200))], ["ZADD", "z", "0.1", "a", "-inf", "b"],
                 ["ZINCRBY", "z", "0.2", "a"], ["RPUSH", "l", "x", "y"], ["HSET", "h", "f", "v"],
                 ["SET", "k", "v"], ["PEXPIREAT", "k", "99999999999999"]):
        assert not src.apply([a.encode() for a in argv]).startswith(b"-")
    replayed = Engine()
    for key, value, deadline in src.ks.items_with_deadlines():
        for argv in rewrite_commands(key, value, deadline):
            assert not replayed.apply(argv).startswith(b"-"), argv
    assert _dataset(replayed) == _dataset(src)
    assert src.ks.data[b"z"].scores[b"a"] == 0.1 + 0.2       # not rounded on the way
    aux, entries = snapshot.load(snapshot.dump(src.ks.items_with_deadlines()))
    loaded = Engine()
    snapshot.restore(loaded.ks, entries)
    assert _dataset(loaded) == _dataset(src)


def test_new_types_and_databases_survive_bgrewriteaof_and_a_restart(tmp_path):
    cfg = dict(port=0, dir=str(tmp_path), appendonly=True, appendfsync="always")
    with ServerThread(Config(**cfg)) as srv:
        r = redis.Redis(port=srv.port, protocol=2)
        _fill(r)
        before = _state(r)
        r5 = redis.Redis(port=srv.port, protocol=2, db=5)
        r5.sadd("other", "x")
        r5.zadd("oz", {"m": 3.5})
        assert r.bgrewriteaof()
        srv.engine.wait_children()
        r.sadd("after", "y")          # written after the rewrite started: appended, not lost
        r.close()
        r5.close()
    with ServerThread(Config(**cfg)) as srv:
        r = redis.Redis(port=srv.port, protocol=2)
        assert _state(r) == before
        assert r.smembers("after") == {b"y"}
        r5 = redis.Redis(port=srv.port, protocol=2, db=5)
        assert r5.smembers("other") == {b"x"} and r5.zscore("oz", "m") == 3.5
        assert r.dbsize() == 8 and r5.dbsize() == 2   # s z l l2 h bits ttl after; other oz
        r.close()
        r5.close()
