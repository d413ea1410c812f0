"""labsupport.sim network: each fault's statistics over many messages, FIFO, partitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labsupport.sim import (
    MS,
    US,
    Custom,
    Exponential,
    Fixed,
    LogNormal,
    Node,
    Normal,
    SimConfigError,
    Simulation,
    Uniform,
)
from labsupport.sim.seeds import run_seeds


class Sink(Node):
    def __init__(self):
        self.got = []

    def on_message(self, src, msg):
        self.got.append(msg)


def blast(seed: int, n: int, **link) -> Simulation:
    """``n`` messages from a to b, one per microsecond, over a link configured by ``link``."""
    sim = Simulation(seed)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.net.set_link("a", "b", **link)
    for i in range(n):
        sim.at(i * US, sim.send, "a", "b", i)
    sim.run()
    return sim


def within_binomial(count: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p))


# -- loss and duplication -------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.01, 0.1, 0.5])
def test_loss_rate_is_within_binomial_tolerance(p):
    n = 20_000

    def check(seed):
        sim = blast(seed, n, loss=p)
        lost = sum(1 for e in sim.trace.of("drop") if e[5] == "loss")
        assert within_binomial(lost, n, p), (lost, n * p)
        assert len(sim.node("b").got) == n - lost
    run_seeds(check, range(3))


def test_duplication_rate_is_within_binomial_tolerance_and_copies_are_identical():
    n, p = 20_000, 0.05

    def check(seed):
        sim = blast(seed, n, duplicate=p)
        dups = len(sim.trace.of("dup"))
        got = sim.node("b").got
        assert within_binomial(dups, n, p), (dups, n * p)
        assert len(got) == n + dups and set(got) == set(range(n))
    run_seeds(check, range(3))


def test_no_fault_configured_means_no_loss_no_duplicate():
    sim = blast(1, 5_000)
    assert sim.node("b").got == list(range(5_000))
    assert sim.trace.counts().keys() == {"start", "send", "deliver"}


# -- latency --------------------------------------------------------------------------------------
DISTRIBUTIONS = [
    Fixed(3 * MS),
    Uniform(1 * MS, 5 * MS),
    Normal(4 * MS, 500 * US),
    LogNormal(2 * MS, 0.5),
    Exponential(1 * MS, min_ns=500 * US),
]


def _raw_delays(seed: int, dist, n: int) -> np.ndarray:
    """Delays with sends far apart, so FIFO never holds a message back."""
    sim = Simulation(seed)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.net.set_link("a", "b", latency=dist)
    for i in range(n):
        sim.at(i * 1000 * MS, sim.send, "a", "b", i)
    sim.run()
    return sim.trace.messages().latency_ns.to_numpy()


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: type(d).__name__)
def test_link_latency_mean_matches_the_distribution(dist):
    n = 20_000

    def check(seed):
        lat = _raw_delays(seed, dist, n)
        assert len(lat) == n and lat.min() >= 0
        tolerance = 6 * lat.std() / math.sqrt(n) + 1  # six standard errors of the mean
        assert abs(lat.mean() - dist.mean_ns) <= tolerance, (lat.mean(), dist.mean_ns)
    run_seeds(check, range(2))


def test_latency_quantiles_match_the_distributions():
    n = 20_000
    u = _raw_delays(1, Uniform(1 * MS, 5 * MS), n)
    assert u.min() >= 1 * MS and u.max() <= 5 * MS
    assert np.quantile(u, 0.25) == pytest.approx(2 * MS, rel=0.03)
    assert np.quantile(u, 0.75) == pytest.approx(4 * MS, rel=0.03)
    ln = _raw_delays(2, LogNormal(2 * MS, 0.5), n)
    assert np.median(ln) == pytest.approx(2 * MS, rel=0.03)
    assert np.quantile(ln, 0.99) == pytest.approx(2 * MS * math.exp(0.5 * 2.3263), rel=0.08)
    ex = _raw_delays(3, Exponential(1 * MS, min_ns=500 * US), n)
    assert ex.min() >= 500 * US
    assert np.median(ex) == pytest.approx(500 * US + 1 * MS * math.log(2), rel=0.04)
    no = _raw_delays(4, Normal(4 * MS, 500 * US), n)
    assert no.std() == pytest.approx(500 * US, rel=0.05)
    cu = _raw_delays(5, Custom(lambda rng: rng.choice((1 * MS, 9 * MS))), 2_000)
    assert set(cu.tolist()) == {1 * MS, 9 * MS}
    assert set(_raw_delays(6, 7 * MS, 100).tolist()) == {7 * MS}  # an int is a fixed delay


def test_jitter_adds_uniform_delay_on_top_of_the_latency():
    sim = Simulation(8)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.net.set_link("a", "b", latency=2 * MS, jitter_ns=1 * MS)
    for i in range(10_000):
        sim.at(i * 100 * MS, sim.send, "a", "b", i)
    sim.run()
    lat = sim.trace.messages().latency_ns.to_numpy()
    assert lat.min() >= 2 * MS and lat.max() <= 3 * MS
    assert lat.mean() == pytest.approx(2.5 * MS, rel=0.01)


# -- reordering -----------------------------------------------------------------------------------
def _inversions(seq: list[int]) -> int:
    return sum(1 for x, y in zip(seq, seq[1:]) if y < x)


def test_links_are_fifo_unless_reordering_is_enabled():
    jittery = dict(latency=Uniform(1 * MS, 10 * MS), jitter_ns=5 * MS)
    fifo = blast(1, 5_000, **jittery)
    assert fifo.node("b").got == list(range(5_000))  # wildly varying delays, still in order
    assert not fifo.trace.of("reorder")
    mixed = blast(1, 5_000, reorder=0.1, **jittery)
    got = mixed.node("b").got
    held = len(mixed.trace.of("reorder"))
    assert within_binomial(held, 5_000, 0.1)
    assert sorted(got) == list(range(5_000)) and _inversions(got) > 0.5 * held


def test_reorder_delay_can_be_chosen():
    sim = blast(2, 2_000, latency=1 * MS, reorder=1.0, reorder_delay=Fixed(7 * MS))
    assert set(sim.trace.messages().latency_ns.tolist()) == {8 * MS}


@pytest.mark.parametrize("params", [lambda: dict(loss=1.5), lambda: dict(duplicate=-0.1),
                                    lambda: dict(jitter_ns=-1), lambda: dict(latency="fast"),
                                    lambda: dict(latency=Uniform(5, 1)),
                                    lambda: dict(latency=LogNormal(0, 1.0))])
def test_bad_link_parameters_are_refused(params):
    sim = Simulation(0)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    with pytest.raises(SimConfigError):
        sim.net.set_link("a", "b", **params())


def test_set_link_overrides_one_pair_and_reset_returns_to_the_default():
    sim = Simulation(0)
    for n in "abc":
        sim.add_node(n, Sink)
    sim.net.set_default(latency=2 * MS)
    sim.net.set_link("a", "b", loss=0.2)
    assert sim.net.config("a", "b").loss == 0.2 and sim.net.config("b", "a").loss == 0.2
    assert sim.net.config("a", "b").latency == Fixed(2 * MS)  # kept from what it had
    assert sim.net.config("a", "c").loss == 0.0
    sim.net.set_link("a", "c", both_ways=False, latency=5 * MS)
    assert sim.net.config("c", "a").latency == Fixed(2 * MS)
    sim.net.reset_link("a", "b")
    assert sim.net.config("a", "b") == sim.net.default


# -- partitions -----------------------------------------------------------------------------------
class Pinger(Node):
    """Sends ``ping`` to every peer each millisecond and counts what it receives."""

    def __init__(self):
        self.heard: dict[str, int] = {}

    def on_start(self):
        self.set_timer(1 * MS, "tick")

    def on_timer(self, name):
        self.broadcast("ping")
        self.set_timer(1 * MS, "tick")

    def on_message(self, src, msg):
        self.heard[src] = self.heard.get(src, 0) + 1


def ping_net(seed: int = 0) -> Simulation:
    sim = Simulation(seed)
    for n in ("a", "b", "c"):
        sim.add_node(n, Pinger)
    sim.net.set_default(latency=100 * US)
    return sim


def heard(sim, node):
    return dict(sim.node(node).heard)


def test_two_way_partition_drops_across_and_heal_restores():
    sim = ping_net()
    sim.run(until_ns=10 * MS)
    sim.net.partition(["a"], ["b", "c"])
    before = {n: heard(sim, n) for n in "abc"}
    sim.run(for_ns=20 * MS)
    mid = {n: heard(sim, n) for n in "abc"}
    # nothing crosses, not even the pings sent at 10 ms and still in flight when the cut came
    assert mid["a"] == before["a"]
    assert mid["b"]["a"] == before["b"]["a"] and mid["c"]["a"] == before["c"]["a"]
    assert mid["b"]["c"] - before["b"]["c"] == 20  # b <-> c unaffected
    drops = [e for e in sim.trace.of("drop") if e[5] == "partition"]
    assert drops and all("a" in (e[2], e[3]) for e in drops)
    sim.net.heal()
    sim.run(for_ns=10 * MS)
    after = {n: heard(sim, n) for n in "abc"}
    # pings sent at 31..39 ms arrive; the 30 ms ones were cut, the 40 ms ones are in flight
    assert after["a"]["b"] - mid["a"]["b"] == 9 and after["b"]["a"] - mid["b"]["a"] == 9


def test_partition_cuts_messages_already_in_flight():
    sim = Simulation(0)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.net.set_default(latency=10 * MS)
    sim.at(0, sim.send, "a", "b", "in flight")
    sim.at(5 * MS, sim.net.partition, ["a"], ["b"])
    sim.run()
    assert sim.node("b").got == []
    (drop,) = sim.trace.of("drop")
    assert drop[0] == 10 * MS and drop[5] == "partition"


def test_one_way_block_drops_one_direction_only():
    sim = ping_net()
    sim.net.block("a", "b")
    sim.run(until_ns=20 * MS)
    assert "a" not in heard(sim, "b")  # a -> b cut
    assert heard(sim, "a")["b"] >= 19  # b -> a flows
    assert heard(sim, "b")["c"] >= 19 and heard(sim, "c")["a"] >= 19
    assert sim.net.connected("b", "a") and not sim.net.connected("a", "b")


def test_isolate_and_heal_one_pair():
    sim = ping_net()
    sim.net.isolate("c")
    sim.run(until_ns=10 * MS)
    assert "c" not in heard(sim, "a") and "c" not in heard(sim, "b") and heard(sim, "c") == {}
    sim.net.heal("a", "c")
    sim.run(for_ns=10 * MS)
    assert heard(sim, "a")["c"] >= 9 and heard(sim, "c")["a"] >= 9 and "c" not in heard(sim, "b")
    partition, heal = sim.trace.of("partition"), sim.trace.of("heal")
    assert len(partition[0][5]) == 4 and heal[0][5] == (("a", "c"), ("c", "a"))


def test_a_crashed_node_sends_nothing():
    sim = Simulation(0)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.run()
    sim.crash("a")
    sim.send("a", "b", "from the grave")
    sim.run()
    assert sim.node("b").got == []
    assert [e[1:] for e in sim.trace if e[1] in ("send", "drop")] == [
        ("send", "a", "b", 3, "from the grave"), ("drop", "a", "b", 3, "sender down")]


def test_a_crashed_node_drops_what_arrives():
    sim = Simulation(0)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.at(0, sim.send, "a", "b", 1)
    sim.at(0, sim.crash, "b")
    sim.run()
    assert [e[5] for e in sim.trace.of("drop")] == ["down"]
