"""Blocking pops of the mini Redis (BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX):
immediate service, FIFO wake order across clients, timeouts on an injected clock, no blocking
inside EXEC, a push inside MULTI waking after EXEC, disconnects, propagation as the
non-blocking command; and redis-py over loopback."""

from __future__ import annotations

import threading

import pytest

from labsupport.kv import Config, Engine, ServerThread


class Conn:
    def __init__(self, eng: Engine) -> None:
        self.out: list[bytes] = []
        self.eng = eng
        self.cl = eng.new_client(self.out.append)

    def send(self, *args) -> None:
        self.eng.run_batch(self.cl, [[a if isinstance(a, bytes) else str(a).encode() for a in args]])

    def __call__(self, *args) -> bytes:
        self.out.clear()
        self.send(*args)
        return self.take()

    def take(self) -> bytes:
        data, self.out[:] = b"".join(self.out), []
        return data


@pytest.fixture
def now():
    return [100.0]


@pytest.fixture
def eng(now):
    return Engine(monotonic=lambda: now[0])


def test_served_at_once_when_a_list_is_there(eng):
    a = Conn(eng)
    a("RPUSH", "l2", "x", "y")
    assert a("BLPOP", "l1", "l2", "0") == b"*2\r\n$2\r\nl2\r\n$1\r\nx\r\n"
    assert a("BRPOP", "l2", "0") == b"*2\r\n$2\r\nl2\r\n$1\r\ny\r\n"
    a("SET", "s", "v")
    assert a("BLPOP", "s", "0").startswith(b"-WRONGTYPE")


def test_bad_timeouts(eng):
    a = Conn(eng)
    assert a("BLPOP", "l", "-1") == b"-ERR timeout is negative\r\n"
    assert a("BLPOP", "l", "soon") == b"-ERR timeout is not a float or out of range\r\n"


def test_first_blocked_client_is_served_first(eng):
    a, b, c, w = Conn(eng), Conn(eng), Conn(eng), Conn(eng)
    a.send("BLPOP", "q", "0")
    b.send("BLPOP", "q", "0")
    c.send("BLPOP", "q", "0")
    assert a.take() == b.take() == c.take() == b""
    assert w("RPUSH", "q", "1", "2") == b":2\r\n"
    assert a.take() == b"*2\r\n$1\r\nq\r\n$1\r\n1\r\n"
    assert b.take() == b"*2\r\n$1\r\nq\r\n$1\r\n2\r\n"
    assert c.take() == b""                    # nothing left for the third: still blocked
    w("LPUSH", "q", "3")
    assert c.take() == b"*2\r\n$1\r\nq\r\n$1\r\n3\r\n"
    assert w("EXISTS", "q") == b":0\r\n"


def test_timeout_answers_null_and_float_seconds_work(eng, now):
    a = Conn(eng)
    a.send("BLPOP", "q", "0.25")
    now[0] += 0.2
    eng.cron()
    assert a.take() == b""
    now[0] += 0.1
    eng.cron()
    assert a.take() == b"*-1\r\n"
    assert a("PING") == b"+PONG\r\n"          # the client is usable again


def test_commands_sent_while_blocked_wait_their_turn(eng):
    a, w = Conn(eng), Conn(eng)
    a.send("BLPOP", "q", "0")
    a.send("GET", "k")
    assert a.take() == b""
    w("SET", "k", "v")
    w("RPUSH", "q", "x")
    assert a.take() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n$1\r\nv\r\n"


def test_inside_exec_a_blocking_pop_does_not_block(eng):
    a = Conn(eng)
    a("MULTI")
    a("BLPOP", "empty", "0")
    a("BZPOPMIN", "emptyz", "0")
    assert a("EXEC") == b"*2\r\n*-1\r\n*-1\r\n"


def test_push_inside_multi_wakes_after_exec(eng):
    a, w = Conn(eng), Conn(eng)
    a.send("BLPOP", "q", "0")
    w("MULTI")
    w("RPUSH", "q", "x")
    w("LPOP", "q")                 # takes it back inside the transaction
    w("RPUSH", "q", "y")
    assert a.take() == b""
    w("EXEC")
    assert a.take() == b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n"


def test_disconnected_waiter_is_forgotten(eng):
    a, b, w = Conn(eng), Conn(eng), Conn(eng)
    a.send("BLPOP", "q", "0")
    b.send("BLPOP", "q", "0")
    eng.drop_client(a.cl)
    w("RPUSH", "q", "x")
    assert a.out == []
    assert b.take() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert not eng.blocked_on and not eng.waiters


def test_bzpopmin_and_bzpopmax(eng):
    a, w = Conn(eng), Conn(eng)
    a.send("BZPOPMIN", "z", "0")
    w("ZADD", "z", "2", "b", "1", "a", "3", "c")
    assert a.take() == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert a("BZPOPMAX", "z", "0") == b"*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n"


def test_served_pop_is_propagated_as_the_non_blocking_command(eng):
    a, w = Conn(eng), Conn(eng)
    eng.master.backlog = bytearray()        # capture the replication stream
    a.send("BRPOP", "q", "0")
    w("RPUSH", "q", "x")
    assert b"RPOP" in bytes(eng.master.backlog).upper()
    assert b"BRPOP" not in bytes(eng.master.backlog).upper()


def test_blocked_in_its_own_database(eng):
    a, w = Conn(eng), Conn(eng)
    a("SELECT", "4")
    a.send("BLPOP", "q", "0")
    w("RPUSH", "q", "db0")                  # db 0: not the key a waits on
    assert a.take() == b""
    w("SELECT", "4")
    w("RPUSH", "q", "db4")
    assert a.take() == b"*2\r\n$1\r\nq\r\n$3\r\ndb4\r\n"


def test_swapdb_wakes_a_client_blocked_in_either_database(eng):
    a, w = Conn(eng), Conn(eng)
    a.send("BLPOP", "k", "0")               # db 0
    w("SELECT", "1")
    w("RPUSH", "k", "hello")
    assert a.take() == b""
    w("SWAPDB", "0", "1")
    assert a.take() == b"*2\r\n$1\r\nk\r\n$5\r\nhello\r\n"


def test_client_unblock(eng):
    a, b, w = Conn(eng), Conn(eng), Conn(eng)
    a.send("BLPOP", "q", "0")
    b.send("BLPOP", "q", "0")
    assert w("CLIENT", "UNBLOCK", str(a.cl.id)) == b":1\r\n"
    assert a.take() == b"*-1\r\n"
    assert w("CLIENT", "UNBLOCK", str(b.cl.id), "ERROR") == b":1\r\n"
    assert b.take() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert w("CLIENT", "UNBLOCK", str(b.cl.id)) == b":0\r\n"


redis = pytest.importorskip("redis")


def test_blpop_over_loopback_is_woken_by_another_client(tmp_path):
    with ServerThread(Config(port=0, dir=str(tmp_path))) as srv:
        got = []
        waiter = redis.Redis(port=srv.port, protocol=2)
        t = threading.Thread(target=lambda: got.append(waiter.blpop(["jobs"], timeout=5)))
        t.start()
        pusher = redis.Redis(port=srv.port)
        for _ in range(200):   # until the waiter is blocked (INFO blocked_clients)
            if pusher.info("clients")["blocked_clients"] == 1:
                break
            threading.Event().wait(0.01)
        pusher.rpush("jobs", "job-1")
        t.join(5)
        assert got == [(b"jobs", b"job-1")]
        assert waiter.blpop(["nothing"], timeout=0.1) is None
        waiter.close()
        pusher.close()
