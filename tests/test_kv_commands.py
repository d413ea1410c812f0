"""Every command through redis-py against our server on a real socket, error replies included;
expiry (lazy and active) with an injected clock; pub/sub; protocol errors keep the server up."""

from __future__ import annotations

import time

import pytest

redis = pytest.importorskip("redis")

from labsupport.kv import Config, Engine, ServerThread  # noqa: E402
from labsupport.kv.launch import RawClient  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerThread(Config(port=0, dir=str(tmp_path_factory.mktemp("kv")))) as srv:
        yield srv


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(server, request):
    # redis-py 5+ speaks RESP3 by default (HELLO 3); RESP2 is what most clients still use
    c = redis.Redis(port=server.port, protocol=request.param)
    c.flushdb()
    yield c
    c.close()


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def test_connection_commands(r):
    assert r.ping() is True
    assert r.echo(b"\x00hi") == b"\x00hi"
    assert r.execute_command("SELECT", 0) is True
    assert r.execute_command("SELECT", 1) is True and r.execute_command("SELECT", 0) is True
    assert err(r.execute_command, "SELECT", 16) == "DB index is out of range"
    assert len(r.command()) > 40
    assert r.dbsize() == 0


def test_unknown_and_arity(r):
    assert err(r.execute_command, "FOO", "a", "b") == \
        "unknown command 'FOO', with args beginning with: 'a' 'b' "
    assert err(r.execute_command, "GET") == "wrong number of arguments for 'get' command"
    assert err(r.execute_command, "MSET", "a") == "wrong number of arguments for 'mset' command"


def test_strings(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("nope", "w", xx=True) is None
    assert r.set("k", "w", get=True) == b"v"
    assert r.getdel("k") == b"w" and r.get("k") is None
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "zz") == [b"1", b"2", None]
    assert r.incr("a") == 2 and r.incrby("a", 10) == 12
    assert r.decr("a") == 11 and r.decrby("a", 11) == 0
    assert r.append("s", "ab") == 2 and r.append("s", "c") == 3 and r.strlen("s") == 3
    assert r.strlen("missing") == 0
    r.set("bin", b"\x00\xff\r\n")
    assert r.get("bin") == b"\x00\xff\r\n"


def test_string_errors(r):
    r.set("s", "x")
    assert err(r.incr, "s") == "value is not an integer or out of range"
    r.set("n", "01")
    assert err(r.incr, "n") == "value is not an integer or out of range"
    r.set("n", str(2**63 - 1))
    assert err(r.incr, "n") == "increment or decrement would overflow"
    assert err(r.execute_command, "SET", "k", "v", "EX", "0") == \
        "invalid expire time in 'set' command"
    assert err(r.execute_command, "SET", "k", "v", "NX", "XX") == "syntax error"
    assert err(r.execute_command, "SET", "k", "v", "EX", "x") == \
        "value is not an integer or out of range"
    r.rpush("l", "a")
    assert err(r.get, "l").startswith("WRONGTYPE Operation against a key")
    assert err(r.execute_command, "SET", "l", "v", "GET").startswith("WRONGTYPE")


def test_keys_and_scan(r):
    r.mset({"user:1": "a", "user:2": "b", "other": "c"})
    assert r.exists("user:1", "user:1", "nope") == 2
    assert r.type("user:1") == b"string" and r.type("nope") == b"none"
    assert sorted(r.keys("user:*")) == [b"user:1", b"user:2"]
    assert sorted(r.keys("user:[12]")) == [b"user:1", b"user:2"]
    assert r.delete("other", "nope") == 1
    for i in range(200):
        r.set(f"k{i}", i)
    assert set(r.scan_iter(match="k1*", count=7)) == {f"k{i}".encode() for i in range(200)
                                                      if str(i).startswith("1")}
    assert err(r.execute_command, "SCAN", "x") == "invalid cursor"
    assert err(r.execute_command, "SCAN", "0", "COUNT", "0") == "syntax error"


def test_scan_returns_keys_present_throughout_despite_churn(r):
    for i in range(500):
        r.set(f"stay{i}", 1)
    seen, cursor, step = set(), 0, 0
    while True:
        cursor, keys = r.scan(cursor, count=13)
        seen.update(keys)
        # churn between calls: delete and add other keys
        r.delete(f"tmp{step - 1}")
        r.set(f"tmp{step}", 1)
        step += 1
        if cursor == 0:
            break
    assert {f"stay{i}".encode() for i in range(500)} <= seen


def test_expire_family(r):
    r.set("k", "v")
    assert r.ttl("k") == -1 and r.pttl("k") == -1 and r.ttl("nope") == -2
    assert r.expire("k", 100) is True and r.ttl("k") == 100
    assert 99_000 < r.pttl("k") <= 100_000
    assert r.pexpire("k", 50_000) is True and r.ttl("k") == 50
    assert r.expireat("k", int(time.time()) + 200) is True and 198 <= r.ttl("k") <= 200
    assert r.persist("k") is True and r.ttl("k") == -1 and r.persist("k") is False
    assert r.expire("k", 10, nx=True) is True and r.expire("k", 20, nx=True) is False
    assert r.expire("k", 5, gt=True) is False and r.expire("k", 30, gt=True) is True
    assert err(r.execute_command, "EXPIRE", "k", "10", "GT", "LT") == \
        "GT and LT options at the same time are not compatible"
    assert err(r.execute_command, "EXPIRE", "k", "10", "foo") == "Unsupported option foo"
    assert err(r.execute_command, "EXPIRE", "k", "99999999999999999") == \
        "invalid expire time in 'expire' command"
    assert r.expire("k", -1) is True and r.exists("k") == 0
    r.set("k", "v", px=30)
    time.sleep(0.06)
    assert r.get("k") is None     # lazy expiry on access
    r.set("k", "v", ex=100)
    r.set("k", "w", keepttl=True)
    assert r.ttl("k") == 100
    r.set("k", "x")
    assert r.ttl("k") == -1       # a plain SET drops the deadline


def test_hashes(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "3") == 0
    assert r.hget("h", "a") == b"3" and r.hget("h", "zz") is None
    assert r.hgetall("h") == {b"a": b"3", b"b": b"2"}
    assert r.hlen("h") == 2 and r.hexists("h", "a") and not r.hexists("h", "q")
    assert r.hdel("h", "a", "q") == 1
    assert r.hdel("h", "b") == 1 and r.exists("h") == 0   # emptied hash is deleted
    assert err(r.execute_command, "HSET", "h", "a") == \
        "wrong number of arguments for 'hset' command"
    r.set("s", "x")
    assert err(r.hget, "s", "a").startswith("WRONGTYPE")


def test_lists(r):
    assert r.rpush("l", "a", "b") == 2 and r.lpush("l", "z") == 3
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b"]
    assert r.lrange("l", -2, 100) == [b"a", b"b"] and r.lrange("l", 2, 1) == []
    assert r.llen("l") == 3
    assert r.lpop("l") == b"z" and r.rpop("l") == b"b"
    assert r.lpop("l", 5) == [b"a"] and r.exists("l") == 0
    assert r.lpop("l") is None and r.lpop("l", 2) is None
    assert err(r.execute_command, "LPOP", "l", "-1") == "value is out of range, must be positive"
    assert err(r.execute_command, "LRANGE", "l", "a", "b") == \
        "value is not an integer or out of range"


def test_server_commands(r, server):
    server.call(server.engine.wait_children)     # a BGSAVE of an earlier run may still be going
    info = r.info()
    assert info["role"] == "master" and "connected_clients" in info
    assert r.info("replication")["connected_slaves"] == 0
    assert r.config_get("appendonly") == {"appendonly": "no"}
    assert err(r.execute_command, "CONFIG", "GET") == \
        "wrong number of arguments for 'config|get' command"
    r.set("k", "v")
    assert r.save() is True
    assert r.execute_command("BGSAVE") in (True, b"Background saving started")  # RESP2 | 3
    assert r.execute_command("WAIT", 0, 0) == 0
    assert err(r.execute_command, "BGREWRITEAOF").startswith(
        "Background append only file rewriting not possible")
    assert r.flushdb() is True and r.dbsize() == 0


def test_pubsub(r, server):
    sub = redis.Redis(port=server.port).pubsub()
    sub.subscribe("ticks")
    sub.psubscribe("md.*")
    assert sub.get_message(timeout=1)["type"] == "subscribe"
    assert sub.get_message(timeout=1)["type"] == "psubscribe"
    assert r.publish("ticks", "px=101") == 1
    assert r.publish("md.AAPL", "q") == 1
    assert r.publish("nobody", "x") == 0
    m1, m2 = sub.get_message(timeout=1), sub.get_message(timeout=1)
    assert (m1["type"], m1["channel"], m1["data"]) == ("message", b"ticks", b"px=101")
    assert (m2["type"], m2["pattern"], m2["channel"]) == ("pmessage", b"md.*", b"md.AAPL")
    sub.close()


def test_subscribed_mode_restricts_commands(server):
    with RawClient(server.port) as c:
        assert c.call("SUBSCRIBE", "c") == [b"subscribe", b"c", 1]
        assert c.call("GET", "a") == ("ERR Can't execute 'get': only (P|S)SUBSCRIBE / "
                                      "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
                                      "in this context")
        assert c.call("PING") == [b"pong", b""]
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", b"c", 0]
        assert c.call("PING") == "PONG"


@pytest.mark.parametrize("garbage,expected", [
    (b"*1\r\n$-4\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*2000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\nfoo\r\n", b"-ERR Protocol error: expected '$', got 'f'\r\n"),
    (b'PING\r\nset "a\r\n', b"+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n"),
])
def test_malformed_input_closes_connection_server_stays_up(server, garbage, expected):
    with RawClient(server.port) as c:
        c.send_raw(garbage)
        assert c.read_raw_until_closed() == expected
    with RawClient(server.port) as c:
        assert c.call("PING") == "PONG"


def test_pipelined_batch_replies_in_order(server):
    with RawClient(server.port) as c:
        c.send_raw(b"SET p 1\r\nINCR p\r\n*2\r\n$3\r\nGET\r\n$1\r\np\r\nQUIT\r\n")
        assert c.read_raw_until_closed() == b"+OK\r\n:2\r\n$1\r\n2\r\n+OK\r\n"


def test_lazy_and_active_expiry_with_injected_clock():
    now = [1_000_000]
    eng = Engine(clock_ms=lambda: now[0])
    for i in range(1000):
        eng.apply([b"SET", b"k%d" % i, b"v", b"PX", b"%d" % (100 if i < 900 else 10_000)])
    eng.apply([b"SET", b"forever", b"v"])
    assert len(eng.ks) == 1001
    now[0] += 101
    assert eng.apply([b"GET", b"k1"]) == b"$-1\r\n"          # lazy: deleted on access
    assert len(eng.ks) == 1000
    total = 0
    for _ in range(200):                                       # active: cycles reclaim the rest
        total += eng.ks.active_expire_cycle()
    assert len(eng.ks) == 101 and total == 899
    assert eng.ks.expired_keys == 900
    assert eng.apply([b"GET", b"k950"]) == b"$1\r\nv\r\n"
