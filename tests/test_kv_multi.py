"""Transactions of the mini Redis: MULTI EXEC DISCARD WATCH UNWATCH, against the engine (exact
RESP bytes, an injected clock for expiry) and through redis-py over loopback (optimistic
concurrency with a retry loop); a transaction reaches the AOF as one MULTI ... EXEC unit."""

from __future__ import annotations

import pytest

from labsupport.kv import Config, Engine, ServerThread
from labsupport.kv.resp import CommandParser


class Conn:
    """One engine client that collects what the engine writes to it."""

    def __init__(self, eng: Engine) -> None:
        self.out: list[bytes] = []
        self.eng = eng
        self.cl = eng.new_client(self.out.append)

    def __call__(self, *args) -> bytes:
        self.out.clear()
        self.eng.run_batch(self.cl, [[a if isinstance(a, bytes) else str(a).encode() for a in args]])
        return b"".join(self.out)


@pytest.fixture
def clock():
    return [1_000_000]


@pytest.fixture
def eng(clock):
    return Engine(clock_ms=lambda: clock[0])


def test_multi_exec_queues_and_answers_one_array(eng):
    a = Conn(eng)
    assert a("MULTI") == b"+OK\r\n"
    assert a("SET", "k", "1") == b"+QUEUED\r\n"
    assert a("INCR", "k") == b"+QUEUED\r\n"
    assert a("GET", "k") == b"+QUEUED\r\n"
    assert a("EXEC") == b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"
    assert a("GET", "k") == b"$1\r\n2\r\n"


def test_discard_and_misuse_errors(eng):
    a = Conn(eng)
    assert a("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert a("DISCARD") == b"-ERR DISCARD without MULTI\r\n"
    a("MULTI")
    assert a("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    assert a("WATCH", "x") == b"-ERR WATCH inside MULTI is not allowed\r\n"
    a("SET", "k", "v")
    assert a("DISCARD") == b"+OK\r\n"
    assert a("GET", "k") == b"$-1\r\n"


def test_queueing_error_aborts_exec(eng):
    a = Conn(eng)
    a("MULTI")
    a("SET", "k", "v")
    assert a("NOSUCHCOMMAND").startswith(b"-ERR unknown command")
    assert a("GET").startswith(b"-ERR wrong number of arguments")
    assert a("SAVE") == b"-ERR Command not allowed inside a transaction\r\n"
    assert a("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert a("GET", "k") == b"$-1\r\n"       # nothing ran
    assert a("PING") == b"+PONG\r\n"          # and the client left the MULTI state


def test_runtime_error_does_not_roll_back(eng):
    a = Conn(eng)
    a("SET", "s", "text")
    a("MULTI")
    a("INCR", "s")
    a("SET", "t", "1")
    assert a("EXEC") == b"*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"


def test_watch_fails_exec_when_another_client_writes(eng):
    a, b = Conn(eng), Conn(eng)
    a("SET", "x", "30")
    a("WATCH", "x")
    b("SET", "x", "40")
    a("MULTI")
    a("SET", "x", "31")
    assert a("EXEC") == b"*-1\r\n"
    assert a("GET", "x") == b"$2\r\n40\r\n"
    # after a failed EXEC nothing is watched any more
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*1\r\n+PONG\r\n"


def test_watch_own_write_and_unwatch(eng):
    a = Conn(eng)
    a("WATCH", "x")
    a("SET", "x", "1")          # a write by the watcher itself also counts, as in Redis
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*-1\r\n"
    a("WATCH", "x")
    a("SET", "x", "2")
    assert a("UNWATCH") == b"+OK\r\n"
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*1\r\n+PONG\r\n"


def test_write_without_effect_does_not_touch(eng):
    a, b = Conn(eng), Conn(eng)
    a("WATCH", "missing")
    b("DEL", "missing")          # deleted nothing: not propagated, not a change
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*1\r\n+PONG\r\n"


def test_watch_is_per_database(eng):
    a, b = Conn(eng), Conn(eng)
    a("SELECT", "5")
    a("WATCH", "x")
    b("SELECT", "1")
    b("SET", "x", "10")          # same name, other database
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*1\r\n+PONG\r\n"


def test_flushall_and_flushdb_touch_existing_watched_keys(eng):
    a, b = Conn(eng), Conn(eng)
    a("SET", "x", "1")
    a("WATCH", "x", "absent")
    b("FLUSHALL")
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*-1\r\n"
    a("WATCH", "absent")
    b("FLUSHDB")                 # the watched key did not exist: no change
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*1\r\n+PONG\r\n"


def test_watched_key_expiring_fails_exec(eng, clock):
    a = Conn(eng)
    a("SET", "x", "1", "PX", "100")
    a("WATCH", "x")
    clock[0] += 200              # logically expired, not yet deleted
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*-1\r\n"


def test_key_already_stale_at_watch_time_is_not_a_change(eng, clock):
    a = Conn(eng)
    a("SET", "x", "1", "PX", "1")
    clock[0] += 10
    a("WATCH", "x")
    assert a("EXISTS", "x") == b":0\r\n"   # lazy expiry deletes it now
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*1\r\n+PONG\r\n"


def test_swapdb_touches_watched_keys(eng):
    a, b = Conn(eng), Conn(eng)
    a("SET", "x", "30")
    a("WATCH", "x")
    b("SWAPDB", "0", "1")
    a("MULTI")
    a("PING")
    assert a("EXEC") == b"*-1\r\n"
    assert a("GET", "x") == b"$-1\r\n"
    a("SELECT", "1")
    assert a("GET", "x") == b"$2\r\n30\r\n"


def _aof_commands(path) -> list[list[bytes]]:
    with open(path, "rb") as f:
        return CommandParser(inline=False).feed(f.read())


def test_transaction_reaches_the_aof_as_one_unit(tmp_path):
    eng = Engine(Config(dir=str(tmp_path), appendonly=True))
    eng.start()
    a = Conn(eng)
    a("MULTI")
    a("SET", "a", "1")
    a("GET", "a")
    a("SELECT", "2")
    a("SET", "b", "2")
    a("EXEC")
    a("MULTI")
    a("SET", "c", "3")           # one write: logged without MULTI/EXEC, as Redis does
    a("EXEC")
    eng.shutdown()
    cmds = [[w.upper() for w in c[:1]] + c[1:] for c in _aof_commands(tmp_path / "appendonly.aof")]
    assert cmds == [[b"SELECT", b"0"], [b"MULTI"], [b"SET", b"a", b"1"], [b"SELECT", b"2"],
                    [b"SET", b"b", b"2"], [b"EXEC"], [b"SET", b"c", b"3"]]
    again = Engine(Config(dir=str(tmp_path), appendonly=True))
    again.start()
    assert again.dbs[0].data == {b"a": b"1"}
    assert again.dbs[2].data == {b"b": b"2", b"c": b"3"}


redis = pytest.importorskip("redis")


def test_optimistic_increment_with_retry_over_loopback(tmp_path):
    """Two redis-py clients race read-modify-write on one key; WATCH makes the loser retry."""
    with ServerThread(Config(port=0, dir=str(tmp_path))) as srv:
        a = redis.Redis(port=srv.port, db=3)
        b = redis.Redis(port=srv.port, db=3)
        a.set("balance", 100)
        attempts = 0
        while True:
            attempts += 1
            with a.pipeline() as p:
                try:
                    p.watch("balance")
                    value = int(p.get("balance"))
                    if attempts == 1:
                        b.incrby("balance", 5)        # the other client wins the first race
                    p.multi()
                    p.set("balance", value - 30)
                    p.execute()
                    break
                except redis.WatchError:
                    continue
        assert attempts == 2
        assert int(a.get("balance")) == 75
        a.close()
        b.close()
