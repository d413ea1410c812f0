"""Replication: full sync, streaming with equal offsets, read-only replica, WAIT, expiry
propagated, partial resync after a replica restart, full sync when the backlog is too short;
WAIT timeouts and replica lag on an injected clock."""

from __future__ import annotations

import pytest

from labsupport.kv import Config, ServerThread, faults
from labsupport.kv.fastpath import FastCommandParser
from labsupport.kv.faults import info, wait_until
from labsupport.kv.launch import RawClient
from labsupport.kv.resp import encode_command


@pytest.fixture
def pair(tmp_path):
    with ServerThread(Config(port=0, dir=str(tmp_path / "m"))) as master, \
            ServerThread(Config(port=0, dir=str(tmp_path / "r"))) as replica:
        yield master, replica


def test_full_sync_then_stream_with_equal_offsets(pair):
    master, replica = pair
    with RawClient(master.port) as m, RawClient(replica.port) as r:
        for i in range(100):
            m.call("SET", f"before{i}", i)
        m.call("HSET", "h", "f", "v")
        assert r.call("REPLICAOF", "127.0.0.1", master.port) == "OK"
        wait_until(lambda: info(r)["master_link_status"] == "up")
        assert r.call("DBSIZE") == 101
        for i in range(50):
            m.call("SET", f"after{i}", i)
        m.call("RPUSH", "l", "a", "b")
        m.call("DEL", "before0")
        wait_until(lambda: info(r)["slave_repl_offset"] == info(m)["master_repl_offset"])
        assert r.call("DBSIZE") == 151 and r.call("LRANGE", "l", 0, -1) == [b"a", b"b"]
        assert r.call("GET", "before0") is None and r.call("HGET", "h", "f") == b"v"
        mi, ri = info(m), info(r)
        assert mi["role"] == "master" and mi["connected_slaves"] == "1"
        assert mi["slave0"].startswith(f"ip=127.0.0.1,port={replica.port},state=online")
        assert ri["role"] == "slave" and ri["master_replid"] == mi["master_replid"]
        assert int(info(m, "stats")["sync_full"]) == 1


def test_replica_is_read_only_and_wait_counts_acks(pair):
    master, replica = pair
    with RawClient(master.port) as m, RawClient(replica.port) as r:
        r.call("REPLICAOF", "127.0.0.1", master.port)
        wait_until(lambda: info(m)["connected_slaves"] == "1")
        assert r.call("SET", "x", "1") == "READONLY You can't write against a read only replica."
        m.call("SET", "x", "1")
        assert m.call("WAIT", 1, 2000) == 1
        assert r.call("GET", "x") == b"1"
        assert m.call("WAIT", 2, 200) == 1          # only one replica exists: times out
        assert r.call("WAIT", 0, 0).startswith("ERR WAIT cannot be used with replica")


def test_expired_keys_are_deleted_on_replica_by_master(pair):
    master, replica = pair
    with RawClient(master.port) as m, RawClient(replica.port) as r:
        r.call("REPLICAOF", "127.0.0.1", master.port)
        wait_until(lambda: info(m)["connected_slaves"] == "1")
        m.call("SET", "t", "v", "PX", 100)
        m.call("WAIT", 1, 2000)
        assert r.call("EXISTS", "t") == 1
        wait_until(lambda: r.call("DBSIZE") == 0, 5)   # the master's active expiry sent DEL


def test_replicaof_no_one_promotes(pair):
    master, replica = pair
    with RawClient(master.port) as m, RawClient(replica.port) as r:
        r.call("REPLICAOF", "127.0.0.1", master.port)
        m.call("SET", "a", "1")
        wait_until(lambda: r.call("GET", "a") == b"1")
        assert r.call("REPLICAOF", "NO", "ONE") == "OK"
        assert r.call("SET", "b", "2") == "OK" and info(r)["role"] == "master"


def test_backlog_too_short_falls_back_to_full_sync(tmp_path):
    with ServerThread(Config(port=0, dir=str(tmp_path / "m"), repl_backlog_size=1024)) as master, \
            RawClient(master.port) as m:
        rport = None
        with ServerThread(Config(port=0, dir=str(tmp_path / "r"))) as replica, \
                RawClient(replica.port) as r:
            rport = replica.port
            r.call("REPLICAOF", "127.0.0.1", master.port)
            wait_until(lambda: info(r)["master_link_status"] == "up")
            link = replica.engine.master_link
            replid, offset = link.replid, link.offset
        assert rport is not None
        for i in range(200):                          # 200 writes >> a 1 KB backlog
            m.call("SET", f"k{i}", "v" * 20)
        with ServerThread(Config(port=0, dir=str(tmp_path / "r2"))) as again, \
                RawClient(again.port) as r:
            again.call(again.engine.become_replica, "127.0.0.1", master.port, replid, offset)
            wait_until(lambda: r.call("DBSIZE") == 200)
            st = info(m, "stats")
            assert st["sync_partial_err"] == "1" and st["sync_full"] == "2"


@pytest.mark.slow
@pytest.mark.parametrize(("how", "resync"), [("sigterm", "partial"), ("kill9", "full")])
def test_replica_restart_catches_up(tmp_path, how, resync):
    # The notebook's scenario (faults.replica_catch_up): SIGTERM saves the replication id and
    # offset, so the restart continues from the backlog; after SIGKILL nothing was saved.
    cu = faults.replica_catch_up(str(tmp_path / "m"), str(tmp_path / "r"), writes=50, how=how)
    assert cu.resync == resync
    assert cu.replica_offset == cu.master_offset
    assert cu.keys_replica == cu.keys_master == 100


def test_wait_blocks_the_rest_of_a_pipeline_in_order(pair):
    master, replica = pair
    with RawClient(master.port) as m, RawClient(replica.port) as r:
        r.call("REPLICAOF", "127.0.0.1", master.port)
        wait_until(lambda: info(m)["connected_slaves"] == "1")
        m.send_raw(b"SET a 1\r\nWAIT 5 300\r\nGET a\r\nINCR a\r\n")
        assert [m.read() for _ in range(4)] == ["OK", 1, b"1", 2]


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _fake_replica(eng, now):
    """A replica as the master sees it, attached to a client that records what it is sent."""
    from labsupport.kv.replication import ReplicaInfo
    sent = []
    rc = eng.new_client(sent.append)
    rc.replica_info = ReplicaInfo(rc, 7000, now)
    eng.master.replicas.append(rc.replica_info)
    eng.master.backlog = bytearray()
    return rc, sent


def test_wait_counts_the_write_pipelined_before_it():
    from labsupport.kv import Engine
    eng = Engine()
    _fake_replica(eng, 0.0)
    got = []
    cl = eng.new_client(got.append)
    eng.run_batch(cl, [[b"SET", b"k", b"v"], [b"WAIT", b"1", b"0"]])
    assert got == [b"+OK\r\n"] and cl.blocked     # the replica has not acked the SET yet


def test_wait_times_out_on_the_injected_clock():
    from labsupport.kv import Engine
    clock = FakeTime()
    eng = Engine(monotonic=clock)
    rc, _sent = _fake_replica(eng, clock())
    got = []
    cl = eng.new_client(got.append)
    eng.run_batch(cl, [[b"SET", b"k", b"v"], [b"WAIT", b"1", b"500"], [b"PING"]])
    assert got == [b"+OK\r\n"] and cl.blocked      # WAIT holds the rest of the pipeline
    clock.now += 0.499
    eng.cron()
    assert cl.blocked
    clock.now += 0.001                             # the deadline, not a tick later
    eng.cron()
    assert not cl.blocked and got[1:] == [b":0\r\n", b"+PONG\r\n"]


def test_wait_returns_when_the_replica_acks_before_the_deadline():
    from labsupport.kv import Engine
    clock = FakeTime()
    eng = Engine(monotonic=clock)
    rc, _sent = _fake_replica(eng, clock())
    got = []
    cl = eng.new_client(got.append)
    eng.run_batch(cl, [[b"SET", b"k", b"v"], [b"WAIT", b"1", b"0"]])   # 0: no timeout
    clock.now += 3600
    eng.cron()
    assert cl.blocked
    eng.run_batch(rc, [[b"REPLCONF", b"ACK", b"%d" % eng.master.offset]])
    assert got == [b"+OK\r\n", b":1\r\n"]


def test_replica_lag_is_measured_on_the_injected_clock():
    from labsupport.kv import Engine
    from labsupport.kv.replica import MasterLink
    clock = FakeTime()
    eng = Engine(monotonic=clock)
    rc, _sent = _fake_replica(eng, clock())
    clock.now += 7.5
    slave0 = next(x for x in eng.master.info_lines() if x.startswith("slave0:"))
    assert slave0.endswith(",lag=7")
    eng.run_batch(rc, [[b"REPLCONF", b"ACK", b"0"]])
    slave0 = next(x for x in eng.master.info_lines() if x.startswith("slave0:"))
    assert slave0.endswith(",lag=0")

    replica = Engine(monotonic=clock)
    link = MasterLink(replica, "127.0.0.1", 1)       # never started: no socket
    clock.now += 12.2
    assert "master_last_io_seconds_ago:12" in link.info_lines()
    link.state, link.parser = "stream", FastCommandParser(inline=False)
    link.data_received(encode_command([b"PING"]))   # the master's keepalive
    assert "master_last_io_seconds_ago:0" in link.info_lines()
