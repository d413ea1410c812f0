"""Differential test: the same command script against real redis-server and ours, replies
compared exactly (decoded RESP, error messages included). CI installs redis-server."""

from __future__ import annotations

import pytest

from labsupport.kv.launch import RawClient, kv_process, redis_process

SCRIPT = [
    ["PING"], ["PING", "hi"], ["ECHO", "x"], ["SELECT", "0"], ["SELECT", "1"], ["SELECT", "x"],
    ["FOO", "a", "b"], ["GET"], ["DBSIZE"],
    ["SET", "k", "v"], ["GET", "k"], ["SET", "k", "w", "NX"], ["SET", "k", "w", "XX"],
    ["SET", "k", "z", "GET"], ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "-1"],
    ["SET", "k", "v", "EX", "abc"], ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "EX", "10", "PX", "10"],
    ["SET", "k", "v", "KEEPTTL", "EX", "5"], ["SET", "k", "v", "EX", "9999999999999999"],
    ["SET", "k", "v", "EX", "100"], ["TTL", "k"], ["SET", "k", "v2", "KEEPTTL"], ["TTL", "k"],
    ["SET", "k", "v3"], ["TTL", "k"], ["PTTL", "nokey"], ["TTL", "nokey"],
    ["GETDEL", "k"], ["GETDEL", "k"], ["MSET", "a"], ["MSET", "a", "1", "b", "2"],
    ["MGET", "a", "b", "c"], ["INCR", "a"], ["INCRBY", "a", "10"], ["DECR", "a"],
    ["DECRBY", "a", "3"], ["INCRBY", "a", "x"], ["SET", "n", "01"], ["INCR", "n"],
    ["SET", "n", "9223372036854775807"], ["INCR", "n"], ["DECRBY", "n", "-9223372036854775808"],
    ["APPEND", "s", "ab"], ["APPEND", "s", "cd"], ["STRLEN", "s"], ["STRLEN", "none"],
    ["GET", "s"], ["INCR", "s"],
    ["EXISTS", "a", "a", "none"], ["TYPE", "a"], ["TYPE", "none"], ["DEL", "a", "none"],
    ["EXPIRE", "b", "100"], ["TTL", "b"], ["EXPIRE", "b", "100", "NX"], ["EXPIRE", "b", "200", "XX"],
    ["EXPIRE", "b", "50", "GT"], ["EXPIRE", "b", "50", "LT"], ["TTL", "b"],
    ["EXPIRE", "b", "1", "GT", "LT"], ["EXPIRE", "b", "1", "NX", "XX"], ["EXPIRE", "b", "1", "foo"],
    ["EXPIRE", "b", "abc"], ["EXPIRE", "b", "99999999999999999"], ["PEXPIRE", "b", "100000"],
    ["TTL", "b"], ["PERSIST", "b"], ["PERSIST", "b"], ["TTL", "b"], ["EXPIRE", "none", "10"],
    ["EXPIREAT", "b", "1"], ["EXISTS", "b"],
    ["HSET", "h", "a"], ["HSET", "h", "a", "1", "b", "2"], ["HSET", "h", "a", "3"],
    ["HGET", "h", "a"], ["HGET", "h", "zz"], ["HGET", "none", "a"], ["HLEN", "h"],
    ["HEXISTS", "h", "a"], ["HEXISTS", "h", "q"], ["HGETALL", "h"], ["HGETALL", "none"],
    ["HDEL", "h", "a", "q"], ["HDEL", "h", "b"], ["EXISTS", "h"], ["HLEN", "none"],
    ["RPUSH", "l", "a", "b", "c", "d", "e"], ["LPUSH", "l", "z"], ["LLEN", "l"],
    ["LRANGE", "l", "0", "-1"], ["LRANGE", "l", "-100", "100"], ["LRANGE", "l", "3", "1"],
    ["LRANGE", "l", "-2", "-1"], ["LRANGE", "l", "a", "b"], ["LRANGE", "none", "0", "-1"],
    ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l", "0"], ["LPOP", "l", "-1"],
    ["LPOP", "l", "a"], ["LPOP", "l", "10"], ["LPOP", "l"], ["LPOP", "l", "2"], ["LLEN", "l"],
    ["GET", "s"], ["LPUSH", "s", "x"], ["HGET", "s", "f"], ["LRANGE", "s", "0", "1"],
    ["SET", "s", "v", "GET"], ["RPUSH", "l2", "x"], ["SET", "l2", "v", "GET"], ["GET", "l2"],
    ["SET", "bin\x00key", "\x00\r\n\xff"], ["GET", "bin\x00key"],
    ["KEYS", "[sb]*"], ["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "MATCH"],
    ["PUBLISH", "ch", "msg"], ["PUBLISH"], ["WAIT", "0", "0"], ["WAIT", "a", "0"],
    ["CONFIG", "GET"], ["CONFIG", "GET", "appendonly"], ["OBJECTX"],
    ["FLUSHDB", "x"], ["FLUSHDB"], ["DBSIZE"], ["GET", "s"],
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    real = redis_process(str(tmp_path_factory.mktemp("redis")))
    if real is None:
        pytest.skip("redis-server is not installed: the differential test needs Debian's "
                    "redis-server (apt-get install redis-server)")
    with real, kv_process(str(tmp_path_factory.mktemp("kv"))) as ours:
        yield real.port, ours.port


def _norm(reply):
    # KEYS returns keys in hash-table order, which differs between implementations
    return reply


@pytest.mark.peer
def test_same_replies_as_real_redis(both):
    real_port, our_port = both
    mismatches = []
    with RawClient(real_port) as real, RawClient(our_port) as ours:
        for cmd in SCRIPT:
            args = [a.encode("latin-1") for a in cmd]
            a, b = real.call(*args), ours.call(*args)
            if cmd[0] == "KEYS" and isinstance(a, list):
                a, b = sorted(a), sorted(b)
            if a != b or type(a) is not type(b):
                mismatches.append((cmd, a, b))
    assert not mismatches, "\n".join("{!r}: redis {!r}, ours {!r}".format(*m) for m in mismatches)


@pytest.mark.peer
@pytest.mark.parametrize("garbage", [
    b"*1\r\n$4\r\nPING\r\n*x\r\n", b"*1\r\nx4\r\nPING\r\n", b"*1\r\n$-4\r\nPING\r\n",
    b"*1\r\n$536870913\r\n", b'PING\r\nset a "b c\r\n', b"A" * 70000,
])
def test_same_protocol_errors_as_real_redis(both, garbage):
    outs = []
    for port in both:
        with RawClient(port) as c:
            c.send_raw(garbage)
            outs.append(c.read_raw_until_closed(timeout_s=1.0))
    assert outs[0] == outs[1]
