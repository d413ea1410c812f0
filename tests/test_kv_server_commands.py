"""Server-level commands of the mini Redis: SELECT and the 16 databases (SWAPDB, FLUSHALL, the
SELECT in the AOF), CLIENT (names, LIST, KILL, REPLY OFF/ON/SKIP), CONFIG GET/SET (effective
settings, tuning knobs, refusals), INFO sections, AUTH with requirepass, HELLO 3, DEBUG,
FUNCTION FLUSH, TIME; engine-level with exact bytes and through redis-py over loopback."""

from __future__ import annotations

import pytest

from labsupport.kv import Config, Engine, ServerThread
from labsupport.kv.resp import CommandParser


class Conn:
    def __init__(self, eng: Engine) -> None:
        self.out: list[bytes] = []
        self.eng = eng
        self.cl = eng.new_client(self.out.append)

    def __call__(self, *args) -> bytes:
        self.out.clear()
        self.eng.run_batch(self.cl, [[a if isinstance(a, bytes) else str(a).encode() for a in args]])
        data, self.out[:] = b"".join(self.out), []
        return data


@pytest.fixture
def eng():
    return Engine()


def test_select_gives_each_client_its_database(eng):
    a, b = Conn(eng), Conn(eng)
    assert a("SELECT", "16") == b"-ERR DB index is out of range\r\n"
    assert a("SELECT", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert a("SELECT", "9") == b"+OK\r\n"
    a("SET", "k", "nine")
    assert b("GET", "k") == b"$-1\r\n"
    b("SET", "k", "zero")
    assert a("GET", "k") == b"$4\r\nnine\r\n"
    assert a("DBSIZE") == b":1\r\n"
    info = a("INFO", "keyspace")
    assert b"db0:keys=1,expires=0,avg_ttl=0" in info and b"db9:keys=1," in info


def test_swapdb_and_flushall(eng):
    a, b = Conn(eng), Conn(eng)
    a("SET", "k", "zero")
    b("SELECT", "1")
    assert a("SWAPDB", "0", "1") == b"+OK\r\n"
    assert b("GET", "k") == b"$4\r\nzero\r\n"     # b stays on index 1, which now holds db 0's keys
    assert a("GET", "k") == b"$-1\r\n"
    assert a("SWAPDB", "0", "99") == b"-ERR DB index is out of range\r\n"
    a("SET", "x", "1")
    assert a("FLUSHALL") == b"+OK\r\n"
    assert all(not ks.data for ks in eng.dbs)


def test_aof_and_rewrite_carry_the_database(tmp_path):
    eng = Engine(Config(dir=str(tmp_path), appendonly=True))
    eng.start()
    a = Conn(eng)
    a("SET", "a", "0")
    a("SELECT", "3")
    a("SET", "b", "3")
    a("SET", "c", "3")
    eng.shutdown()
    with open(tmp_path / "appendonly.aof", "rb") as f:
        cmds = CommandParser(inline=False).feed(f.read())
    assert [c[0].upper() for c in cmds] == [b"SELECT", b"SET", b"SELECT", b"SET", b"SET"]
    again = Engine(Config(dir=str(tmp_path), appendonly=True))
    again.start()
    assert again.dbs[0].data == {b"a": b"0"} and again.dbs[3].data == {b"b": b"3", b"c": b"3"}
    image = CommandParser(inline=False).feed(again.aof_image())
    assert [b"SELECT", b"3"] in image


def test_client_name_id_list_and_kill(eng):
    a, b = Conn(eng), Conn(eng)
    assert a("CLIENT", "GETNAME") == b"$-1\r\n"
    assert a("CLIENT", "SETNAME", "trader-1") == b"+OK\r\n"
    assert a("CLIENT", "SETNAME", "has space").startswith(b"-ERR Client names cannot")
    assert a("CLIENT", "GETNAME") == b"$8\r\ntrader-1\r\n"
    assert a("CLIENT", "ID") == b":%d\r\n" % a.cl.id
    listing = b("CLIENT", "LIST")
    assert b"id=%d " % a.cl.id in listing and b"name=trader-1 " in listing
    assert b("CLIENT", "KILL", "ID", str(a.cl.id)) == b":1\r\n"
    assert a.cl not in eng.clients
    assert b("CLIENT", "KILL", "ID", "0") == b"-ERR client-id should be greater than 0\r\n"


def test_client_reply_off_on_skip(eng):
    a = Conn(eng)
    assert a("CLIENT", "REPLY", "OFF") == b""
    assert a("SET", "k", "1") == b""
    assert a("CLIENT", "REPLY", "ON") == b"+OK\r\n"
    assert a("GET", "k") == b"$1\r\n1\r\n"
    assert a("CLIENT", "REPLY", "SKIP") == b""
    assert a("INCR", "k") == b""                  # only this reply is skipped
    assert a("GET", "k") == b"$1\r\n2\r\n"
    assert a("CLIENT", "REPLY", "MAYBE") == b"-ERR syntax error\r\n"


def test_config_set_get(eng):
    a = Conn(eng)
    assert a("CONFIG", "SET", "notify-keyspace-events", "KA") == b"+OK\r\n"
    assert a("CONFIG", "GET", "notify-keyspace-events") == (
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$2\r\nAK\r\n")
    # a tuning knob: accepted and returned, under its old name too
    assert a("CONFIG", "SET", "zset-max-ziplist-entries", "16") == b"+OK\r\n"
    assert a("CONFIG", "GET", "zset-max-listpack-entries").endswith(b"$2\r\n16\r\n")
    assert a("CONFIG", "SET", "hash-max-ziplist-value", "x").startswith(b"-ERR CONFIG SET failed")
    # what this server cannot do is refused, not silently accepted
    assert a("CONFIG", "SET", "maxmemory", "100mb").startswith(b"-ERR CONFIG SET failed")
    assert a("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
    assert a("CONFIG", "SET", "no-such-option", "1").startswith(b"-ERR Unknown option")
    # several pairs are set together or not at all
    assert a("CONFIG", "SET", "hz", "20", "maxmemory", "bla").startswith(b"-ERR CONFIG SET failed")
    assert eng.config.hz == 10
    assert a("CONFIG", "SET", "hz", "20", "list-max-listpack-size", "8") == b"+OK\r\n"
    assert eng.config.hz == 20
    assert a("CONFIG", "GET", "databases") == b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"


def test_info_sections_use_redis_field_names(eng):
    a = Conn(eng)
    cpu = a("INFO", "cpu")
    assert b"# Cpu\r\nused_cpu_sys:" in cpu and b"used_cpu_user_children:" in cpu
    assert b"used_memory" not in cpu
    stats = a("INFO", "stats")
    for field in (b"total_connections_received:", b"total_commands_processed:",
                  b"expired_keys:", b"evicted_keys:0", b"pubsub_channels:"):
        assert field in stats
    everything = a("INFO", "cpu", "all")
    assert everything.count(b"used_cpu_user_children") == 1 and b"# Server" in everything


def test_auth_with_requirepass(eng):
    a = Conn(eng)
    assert a("AUTH", "pw").startswith(b"-ERR AUTH <password> called without any password")
    assert a("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
    assert a("PING") == b"+PONG\r\n"                 # connected before: still authenticated
    b = Conn(eng)
    assert b("GET", "k") == b"-NOAUTH Authentication required.\r\n"
    assert b("AUTH", "wrong") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert b("AUTH", "someone", "s3cret").startswith(b"-WRONGPASS")
    assert b("HELLO", "3").startswith(b"-NOAUTH HELLO must be called")
    assert b("AUTH", "default", "s3cret") == b"+OK\r\n"
    assert b("GET", "k") == b"$-1\r\n"
    c = Conn(eng)
    assert c("HELLO", "2", "AUTH", "default", "s3cret").startswith(b"*14\r\n")
    assert c("PING") == b"+PONG\r\n"


def test_hello_3_replies_in_resp3(eng):
    a = Conn(eng)
    hello = a("HELLO", "3", "SETNAME", "r3")
    assert hello.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in hello
    assert a("GET", "missing") == b"_\r\n"
    assert a("CLIENT", "GETNAME") == b"$2\r\nr3\r\n"
    assert a("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"


def test_debug_and_function_and_time(eng):
    a = Conn(eng)
    assert a("FUNCTION", "FLUSH") == b"+OK\r\n"
    assert a("FUNCTION", "FLUSH", "ASYNC") == b"+OK\r\n"
    assert a("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
    a("SET", "k", "v", "PX", "1")
    eng.ks.clock_ms = lambda: 10 ** 15               # far future: expired
    eng.cron()
    assert b"k" in eng.ks.data                       # active expiry off: still stored
    assert a("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"+OK\r\n"
    eng.cron()
    assert b"k" not in eng.ks.data
    assert a("DEBUG", "PROTOCOL", "true") == b":1\r\n"
    assert a("DEBUG", "SLEEP", "0") == b"+OK\r\n"
    t = a("TIME")
    assert t.startswith(b"*2\r\n$10\r\n")


redis = pytest.importorskip("redis")


def test_redis_py_sees_databases_names_and_kill(tmp_path):
    with ServerThread(Config(port=0, dir=str(tmp_path))) as srv:
        r9 = redis.Redis(port=srv.port, db=9, client_name="nine")
        r0 = redis.Redis(port=srv.port)
        r9.set("k", "v")
        assert r0.get("k") is None and r9.get("k") == b"v"
        assert r0.info("keyspace") == {"db9": {"keys": 1, "expires": 0, "avg_ttl": 0}}
        names = {c["name"]: c for c in r0.client_list()}
        assert names["nine"]["db"] == "9"
        assert r0.client_kill_filter(_id=int(names["nine"]["id"])) == 1
        r0.close()
        r9.close()


def test_snapshot_keeps_every_database(tmp_path):
    eng = Engine(Config(dir=str(tmp_path)))
    eng.start()
    a = Conn(eng)
    a("SET", "zero", "0")
    a("SELECT", "7")
    a("RPUSH", "seven", "a", "b")
    a("SET", "t", "v", "PX", "100000")
    assert a("SAVE") == b"+OK\r\n"
    again = Engine(Config(dir=str(tmp_path)))
    assert again.start() == "snapshot loaded: 3 keys"
    assert again.dbs[0].data == {b"zero": b"0"}
    assert list(again.dbs[7].data[b"seven"]) == [b"a", b"b"] and b"t" in again.dbs[7].expires
    assert a("DEBUG", "RELOAD") == b"+OK\r\n"
    assert a("GET", "t") == b"$1\r\nv\r\n" and eng.dbs[0].data == {b"zero": b"0"}


def test_replica_follows_writes_in_other_databases(tmp_path):
    import time

    with ServerThread(Config(port=0, dir=str(tmp_path / "m"))) as master:
        m = redis.Redis(port=master.port, db=5)
        m.set("before", "sync")                      # in the full-sync image
        with ServerThread(Config(port=0, dir=str(tmp_path / "r"),
                                 replicaof=("127.0.0.1", master.port))) as replica:
            r5 = redis.Redis(port=replica.port, db=5)
            m.set("after", "stream")                 # in the stream, after a SELECT 5
            redis.Redis(port=master.port, db=0).set("zero", "0")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and r5.get("after") is None:
                time.sleep(0.02)
            assert r5.get("before") == b"sync" and r5.get("after") == b"stream"
            assert r5.get("zero") is None
            r5.close()
        m.close()


def test_config_set_appendonly_at_run_time(tmp_path):
    eng = Engine(Config(dir=str(tmp_path)))
    eng.start()
    a = Conn(eng)
    a("SELECT", "2")
    a("SET", "before", "1")
    assert a("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n"   # written from the dataset
    a("SET", "after", "2")
    assert a("CONFIG", "GET", "appendonly") == b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"
    eng.shutdown()
    again = Engine(Config(dir=str(tmp_path), appendonly=True))
    again.start()
    assert again.dbs[2].data == {b"before": b"1", b"after": b"2"}
    assert a("DEBUG", "OBJECT", "nope") == b"-ERR no such key\r\n"


def test_redis_py_password_and_noauth(tmp_path):
    with ServerThread(Config(port=0, dir=str(tmp_path))) as srv:
        admin = redis.Redis(port=srv.port)
        admin.config_set("requirepass", "s3cret")
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        once = Retry(NoBackoff(), 0)          # an auth failure is final: no reconnect attempts
        with pytest.raises(redis.AuthenticationError, match="HELLO must be called"):
            redis.Redis(port=srv.port, retry=once).get("k")
        with pytest.raises(redis.AuthenticationError, match="invalid username-password"):
            redis.Redis(port=srv.port, password="wrong", retry=once).get("k")
        good = redis.Redis(port=srv.port, password="s3cret", protocol=3)
        assert good.set("k", "v") is True and good.get("k") == b"v"
        admin.config_set("requirepass", "")
        good.close()
        admin.close()


def _raw_exchange(port: int, commands: list[list[str]]) -> list[bytes]:
    """Each command's raw reply bytes, delimited by a PING sent after it."""
    import socket

    from labsupport.kv.resp import encode_command
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for cmd in commands:
            s.sendall(encode_command([a.encode() for a in cmd]) + encode_command([b"PING"]))
            buf = b""
            while not buf.endswith(b"+PONG\r\n"):
                buf += s.recv(65536)
            out.append(buf[:-len(b"+PONG\r\n")])
    return out


def test_resp3_reply_types_match_real_redis(tmp_path):
    from labsupport.kv.launch import redis_process
    (tmp_path / "redis").mkdir()
    real = redis_process(str(tmp_path / "redis"))
    if real is None:
        pytest.skip("redis-server is not installed: no reference to compare with")
    script = [["HELLO", "3"], ["DEL", "z", "s", "h"], ["ZADD", "z", "1.5", "a", "2", "b"],
              ["BZPOPMIN", "empty", "z", "0.01"], ["BZPOPMAX", "z", "0.01"],
              ["ZPOPMIN", "z"], ["BZPOPMIN", "z", "0.01"], ["SADD", "s", "x"], ["SMEMBERS", "s"], ["HSET", "h", "f", "v"], ["HGETALL", "h"],
              ["GET", "missing"], ["LPOP", "missing"]]
    with real, ServerThread(Config(port=0, dir=str(tmp_path / "ours"))) as ours:
        theirs = _raw_exchange(real.port, script)
        mine = _raw_exchange(ours.port, script)
    for cmd, a, b in zip(script[1:], theirs[1:], mine[1:]):
        assert b == a, f"{cmd}: redis {a!r}, ours {b!r}"
