"""labsupport.sim event loop: determinism, ordering, the clock, timers and random streams."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from labsupport.sim import (
    MS,
    LogNormal,
    Node,
    S,
    SimConfigError,
    Simulation,
    UnknownNode,
    derive_seed,
)
from labsupport.sim.demo import run_counter
from labsupport.sim.seeds import run_seeds


class Echo(Node):
    def on_message(self, src, msg):
        if msg < 50:
            self.send(src, msg + 1)


class Recorder(Node):
    def __init__(self):
        self.got = []
        self.fired = []

    def on_message(self, src, msg):
        self.got.append((self.now_ns, src, msg))

    def on_timer(self, name):
        self.fired.append((self.now_ns, name))


def faulty_echo(seed: int) -> Simulation:
    sim = Simulation(seed)
    for name in "abcd":
        sim.add_node(name, Echo)
    sim.net.set_default(latency=LogNormal(2 * MS, 0.6), jitter_ns=MS, loss=0.05, duplicate=0.05,
                        reorder=0.05)
    sim.at(0, sim.send, "a", "b", 0)
    sim.at(0, sim.send, "c", "d", 0)
    sim.at(30 * MS, sim.net.partition, ["a", "c"], ["b", "d"])
    sim.at(60 * MS, sim.net.heal)
    sim.at(40 * MS, sim.crash, "d", restart_after_ns=10 * MS)
    sim.run(until_ns=S)
    return sim


# -- determinism ----------------------------------------------------------------------------------
def test_same_seed_gives_the_same_trace_bit_for_bit():
    def check(seed):
        one, two = faulty_echo(seed), faulty_echo(seed)
        assert one.trace.entries == two.trace.entries
        assert one.trace.digest() == two.trace.digest()
        assert one.events == two.events and one.now_ns == two.now_ns
    run_seeds(check, range(10))


def test_different_seeds_give_different_traces():
    digests = {faulty_echo(seed).trace.digest() for seed in range(10)}
    assert len(digests) == 10


def test_the_demo_scenario_is_deterministic_and_seed_sensitive():
    a, b, c = run_counter(3), run_counter(3), run_counter(4)
    assert a.digest == b.digest and a.totals == b.totals
    assert c.digest != a.digest


def test_digest_is_the_same_in_another_process_with_another_hash_seed():
    code = ("from labsupport.sim.demo import run_counter; print(run_counter(5).digest)")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(h), "PATH": ""}).stdout.strip()
            for h in (1, 2)}
    assert outs == {run_counter(5).digest}


# -- ordering and the clock -----------------------------------------------------------------------
def test_events_at_the_same_time_run_in_the_order_they_were_scheduled():
    sim = Simulation(0)
    order = []
    for i in range(20):
        sim.at(5 * MS, order.append, i)
    sim.at(1 * MS, order.append, "early")
    sim.run()
    assert order == ["early", *range(20)]
    assert sim.now_ns == 5 * MS


def test_time_jumps_to_the_next_event_and_nothing_sleeps():
    sim = Simulation(0)
    seen = []
    sim.at(3600 * S, lambda: seen.append(sim.now_ns))
    t0 = time.monotonic()
    sim.run()
    assert seen == [3600 * S]
    assert time.monotonic() - t0 < 5  # a simulated hour, no wall-clock wait (generous bound)


def test_run_until_leaves_the_clock_at_the_limit_and_keeps_later_events():
    sim = Simulation(0)
    seen = []
    sim.at(10, seen.append, 1)
    sim.at(30, seen.append, 2)
    assert sim.run(until_ns=20) == 1
    assert sim.now_ns == 20 and seen == [1] and sim.pending == 1
    sim.run(for_ns=100)
    assert seen == [1, 2] and sim.now_ns == 120


def test_max_events_and_stop_end_a_run_early():
    sim = Simulation(0)
    seen = []
    for i in range(10):
        sim.at(i, seen.append, i)
    sim.at(5, sim.stop)
    assert sim.run(max_events=3) == 3
    assert seen == [0, 1, 2]
    sim.run()
    assert seen == [0, 1, 2, 3, 4, 5]  # stop() ran after 5 (scheduled later at the same time)
    sim.run()
    assert seen == list(range(10))


@pytest.mark.parametrize("call", [lambda s: s.at(-1, print), lambda s: s.after(-5, print)])
def test_scheduling_in_the_past_is_refused(call):
    with pytest.raises(SimConfigError):
        call(Simulation(0))


def test_unknown_and_duplicate_node_names_are_refused():
    sim = Simulation(0)
    sim.add_node("a", Recorder)
    with pytest.raises(SimConfigError, match="already exists"):
        sim.add_node("a", Recorder)
    with pytest.raises(UnknownNode, match="'zz'"):
        sim.send("a", "zz", 1)
    with pytest.raises(UnknownNode):
        sim.crash("zz")


# -- timers ---------------------------------------------------------------------------------------
class TimerNode(Recorder):
    def on_start(self):
        self.set_timer(10 * MS, "a")
        self.set_timer(20 * MS, "b")
        self.set_timer(5 * MS, "c")
        self.set_timer(30 * MS, "b")  # replaces the pending "b"
        assert self.cancel_timer("c") and not self.cancel_timer("nope")


def test_timers_fire_at_their_time_replace_and_cancel():
    sim = Simulation(0)
    sim.add_node("n", TimerNode)
    sim.run()
    assert sim.node("n").fired == [(10 * MS, "a"), (30 * MS, "b")]
    assert [e[5] for e in sim.trace.of("timer")] == ["a", "b"]


def test_negative_timer_delay_is_an_error():
    class Bad(Node):
        def on_start(self):
            self.set_timer(-1, "x")
    sim = Simulation(0)
    sim.add_node("n", Bad)
    with pytest.raises(ValueError, match="negative"):
        sim.run()


# -- random streams -------------------------------------------------------------------------------
def test_streams_are_derived_from_seed_and_name_only():
    assert derive_seed(1, "link/a->b") == derive_seed(1, "link/a->b")
    assert derive_seed(1, "link/a->b") != derive_seed(2, "link/a->b")
    assert derive_seed(1, "link/a->b") != derive_seed(1, "link/b->a")
    assert Simulation(9).stream("x").random() == Simulation(9).stream("x").random()


def _delays_a_to_b(extra_faulty_link: bool) -> list[int]:
    sim = Simulation(11)
    for name in "abc":
        sim.add_node(name, Recorder)
    sim.net.set_default(latency=LogNormal(MS, 0.5))
    if extra_faulty_link:  # a fault elsewhere must not shift the a -> b draws
        sim.net.set_link("a", "c", loss=0.5, jitter_ns=MS)
        for i in range(30):
            sim.at(i, sim.send, "a", "c", i)
    for i in range(30):
        sim.at(i, sim.send, "a", "b", i)
    sim.run()
    frame = sim.trace.messages()
    return frame[frame.dst == "b"].latency_ns.tolist()


def test_a_fault_on_one_link_does_not_change_another_links_delays():
    assert _delays_a_to_b(False) == _delays_a_to_b(True)
