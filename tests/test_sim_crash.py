"""labsupport.sim crashes and the simulated disk: volatile state lost, fsynced data kept, torn
writes; the replicated-counter demo under a crash; labrpc-style calls."""

from __future__ import annotations

import random

import pytest

from labsupport.sim import MS, Node, SimConfigError, SimDisk, Simulation
from labsupport.sim.demo import encode_record, recover, run_counter
from labsupport.sim.rpc import RpcNode
from labsupport.sim.seeds import run_seeds


class Counter(Node):
    """Counts messages in memory; logs each to disk, fsyncing every ``sync_every``."""

    def __init__(self, sync_every: int = 1):
        self.sync_every = sync_every
        self.count = 0
        self.recovered: list[bytes] = []

    def on_start(self):
        self.recovered = self.disk.read("log")
        self.set_timer(50 * MS, "late")

    def on_message(self, src, msg):
        self.count += 1
        self.disk.append("log", b"msg-%d" % msg)
        if self.count % self.sync_every == 0:
            self.disk.fsync("log")

    def on_timer(self, name):
        self.disk.append("timers", name.encode())


def counting(seed=0, *, sync_every=1, n=10, **disk) -> Simulation:
    sim = Simulation(seed)
    sim.add_node("src", Node)
    sim.add_node("c", lambda: Counter(sync_every), **disk)
    for i in range(n):
        sim.at(i * MS, sim.send, "src", "c", i)
    sim.run(until_ns=20 * MS)
    return sim


def test_crash_loses_volatile_state_and_restart_builds_a_fresh_object():
    sim = counting()
    old = sim.node("c")
    assert old.count == 10
    sim.crash("c")
    assert sim.node("c") is None and not sim.host("c").up
    sim.restart("c")
    new = sim.node("c")
    assert new is not old and new.count == 0 and sim.host("c").incarnation == 1
    assert new.recovered == [b"msg-%d" % i for i in range(10)]  # the disk survived
    kinds = [e[1] for e in sim.trace if e[2] == "c" and e[1] in ("start", "crash", "restart")]
    assert kinds == ["start", "crash", "restart"]


def test_a_crashed_objects_sends_and_timers_go_nowhere():
    sim = counting()
    old = sim.node("c")
    sim.crash("c")
    old.send("src", "ghost")
    old.set_timer(1, "ghost")
    sim.run()
    assert not [e for e in sim.trace if e[1] == "send" and e[2] == "c"]
    assert sim.host("c").disk.read("timers") == []  # its 50 ms timer died with it


def test_timers_set_before_a_crash_do_not_fire_after_the_restart():
    sim = counting()
    sim.crash("c", restart_after_ns=40 * MS)  # old "late" due at 50 ms; new one at 60+50 ms
    sim.run(until_ns=100 * MS)
    assert sim.host("c").disk.read("timers") == []
    sim.run(until_ns=200 * MS)
    assert sim.host("c").disk.read("timers") == [b"late"]


def test_unsynced_writes_are_lost_under_the_strict_policy_and_kept_when_kind():
    lose = counting(sync_every=4, unsynced="lose")  # 10 writes: 8 fsynced, 2 pending
    assert lose.host("c").disk.unsynced_count("log") == 2
    assert lose.crash("c") == (2, 0)
    assert lose.host("c").disk.read("log") == [b"msg-%d" % i for i in range(8)]
    keep = counting(sync_every=4, unsynced="keep")
    assert keep.crash("c") == (0, 0)
    assert len(keep.host("c").disk.read("log")) == 10


def test_random_policy_keeps_a_prefix_of_the_unsynced_writes_in_order():
    kept = set()

    def check(seed):
        disk = SimDisk(random.Random(seed), unsynced="random")
        disk.append("f", b"durable")
        disk.fsync("f")
        for i in range(5):
            disk.append("f", b"r%d" % i)
        lost, torn = disk.crash()
        recs = disk.read("f")
        assert recs == [b"durable"] + [b"r%d" % i for i in range(len(recs) - 1)]
        assert lost == 5 - (len(recs) - 1) and torn == 0
        kept.add(len(recs) - 1)
    run_seeds(check, range(200))
    assert kept == set(range(6))  # every prefix length 0..5 happens


def test_torn_write_leaves_a_strict_prefix_of_the_record_being_written():
    torn_seen = 0

    def check(seed):
        nonlocal torn_seen
        disk = SimDisk(random.Random(seed), unsynced="lose", torn_writes=True)
        disk.append("f", encode_record(1))
        disk.fsync()
        disk.append("f", encode_record(2))
        lost, torn = disk.crash()
        recs = disk.read("f")
        assert lost == 1 and recs[0] == encode_record(1)
        if torn:
            torn_seen += 1
            assert len(recs) == 2 and 0 < len(recs[1]) < len(encode_record(2))
            assert encode_record(2).startswith(recs[1])
        else:
            assert len(recs) == 1
        assert recover(recs) == 1  # recovery stops at the torn tail
    run_seeds(check, range(100))
    assert 25 < torn_seen < 75  # torn with probability one half


def test_write_is_append_and_read_sees_pending_writes_before_fsync():
    disk = SimDisk(random.Random(0), unsynced="lose")
    disk.write("f", b"one")
    disk.append("f", b"two")
    assert disk.read("f") == [b"one", b"two"] and disk.unsynced_count("f") == 2
    disk.fsync("f")
    disk.write("g", b"three")
    assert disk.files() == ["f", "g"] and disk.crash() == (1, 0)
    assert disk.read("f") == [b"one", b"two"] and disk.read("g") == []
    disk.delete("f")
    assert disk.read("f") == [] and (disk.writes, disk.fsyncs, disk.crashes) == (3, 1, 1)


def test_disk_refuses_text_and_unknown_policies():
    disk = SimDisk(random.Random(0))
    with pytest.raises(TypeError, match="bytes"):
        disk.append("f", "text")
    with pytest.raises(SimConfigError):
        SimDisk(random.Random(0), unsynced="sometimes")


def test_recover_stops_at_a_bad_checksum():
    bad = bytearray(encode_record(7))
    bad[-1] ^= 1
    assert recover([encode_record(5), bytes(bad), encode_record(9)]) == 5


# -- the replicated counter -----------------------------------------------------------------------
def test_counter_converges_and_loses_nothing_when_replicas_fsync():
    def check(seed):
        run = run_counter(seed)
        assert run.converged, run.summary()
        assert run.lost == 0 and run.acked <= run.applied, run.summary()
        assert run.counts["crash"] == 1 and run.counts["partition"] == 1
    run_seeds(check, range(15))


def test_counter_without_fsync_loses_increments_in_a_crash():
    runs = [run_counter(seed, fsync=False, unsynced="lose") for seed in range(10)]
    assert all(r.converged for r in runs)
    assert any(r.lost > 0 for r in runs)


# -- rpc ------------------------------------------------------------------------------------------
class KV(RpcNode):
    def __init__(self):
        self.data = {}

    def rpc_put(self, src, key, value):
        self.data[key] = value
        return "ok"

    def rpc_get(self, src, key):
        return self.data.get(key)


class Caller(RpcNode):
    def __init__(self):
        self.replies = []

    def on_start(self):
        for i in range(200):
            self.call("kv", "put", (i, i * i), timeout_ns=10 * MS,
                      on_reply=lambda ok, v, i=i: self.replies.append((i, ok, v)))


def test_rpc_calls_reply_or_time_out_exactly_once():
    sim = Simulation(4)
    sim.add_node("kv", KV)
    sim.add_node("cl", Caller)
    sim.net.set_default(latency=1 * MS, loss=0.2, duplicate=0.1)
    sim.run()
    replies = sim.node("cl").replies
    assert sorted(i for i, _, _ in replies) == list(range(200))  # every callback exactly once
    ok = [i for i, good, v in replies if good]
    assert all(v == "ok" for _, good, v in replies if good)
    assert all(v is None for _, good, v in replies if not good)
    assert 0.5 * 200 < len(ok) < 0.8 * 200  # both ways must survive 20 % loss: about 64 %
    assert all(sim.node("kv").data[i] == i * i for i in ok)
    assert sim.node("cl").late_replies > 0  # duplicated replies are ignored, and counted


def test_rpc_to_a_missing_method_is_a_bug_with_a_clear_message():
    class Bad(RpcNode):
        def on_start(self):
            self.call("kv", "nope", (), timeout_ns=MS, on_reply=lambda ok, v: None)
    sim = Simulation(0)
    sim.add_node("kv", KV)
    sim.add_node("b", Bad)
    with pytest.raises(AttributeError, match="rpc_nope"):
        sim.run()
