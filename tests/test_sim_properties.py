"""labsupport.sim invariants over arbitrary fault schedules (hypothesis).

Whatever the schedule of sends, partitions, heals, crashes and restarts, on links with every
fault enabled: each copy of a message ends exactly once (delivered or dropped), never before it
was sent; nothing is delivered to a node that is down or across a pair that is cut at that
moment; a FIFO link delivers in send order; and replaying the schedule gives the same trace.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.sim import MS, LogNormal, Node, Simulation

NODES = ("a", "b", "c")


class Sink(Node):
    def on_message(self, src, msg):
        pass


op = st.one_of(
    st.tuples(st.just("send"), st.sampled_from(NODES), st.sampled_from(NODES)),
    st.tuples(st.just("partition"), st.sampled_from(NODES)),
    st.tuples(st.just("block"), st.sampled_from(NODES), st.sampled_from(NODES)),
    st.tuples(st.just("heal")),
    st.tuples(st.just("crash"), st.sampled_from(NODES)),
    st.tuples(st.just("restart"), st.sampled_from(NODES)),
)
schedule = st.lists(st.tuples(st.integers(0, 50 * MS), op), max_size=60)


def play(seed: int, plan: list, reorder: float) -> Simulation:
    sim = Simulation(seed)
    for n in NODES:
        sim.add_node(n, Sink)
    sim.net.set_default(latency=LogNormal(2 * MS, 0.8), jitter_ns=MS, loss=0.1, duplicate=0.1,
                        reorder=reorder)
    for i, (t, (kind, *args)) in enumerate(plan):
        if kind == "send":
            sim.at(t, sim.send, args[0], args[1], i)
        elif kind == "partition":
            sim.at(t, sim.net.partition, [args[0]], [n for n in NODES if n != args[0]])
        elif kind == "block":
            sim.at(t, sim.net.block, *args)
        elif kind == "heal":
            sim.at(t, sim.net.heal)
        else:
            sim.at(t, getattr(sim, kind), args[0])
    sim.run()
    return sim


def check_invariants(sim: Simulation, fifo: bool) -> None:
    blocked: set = set()
    up = {n: False for n in NODES}
    sent: dict = {}
    copies: dict = {}
    ends: dict = {}
    last_delivered: dict = {}
    sends_on: dict = {}  # per directed link: how many sent so far (the send order)
    for t, kind, node, peer, mid, detail in sim.trace:
        if kind in ("start", "restart"):
            up[node] = True
        elif kind == "crash":
            up[node] = False
        elif kind == "partition":
            blocked |= set(detail)
        elif kind == "heal":
            blocked -= set(detail)
        elif kind == "send":
            order = sends_on[(node, peer)] = sends_on.get((node, peer), 0) + 1
            sent[mid] = (t, node, peer, order)
            copies[mid] = 1
        elif kind == "dup":
            copies[mid] += 1
        elif kind in ("deliver", "drop"):
            t0, src, dst, index = sent[mid]
            assert t >= t0
            if kind == "drop" and detail == "sender down":
                assert not up[src] and t == t0, "only a node that is down fails to send"
            if kind == "drop" and detail == "down":
                assert not up[dst], "dropped as down, but the receiver was up"
            ends[mid] = ends.get(mid, 0) + 1
            if kind == "deliver":
                assert (node, peer) == (dst, src)
                assert up[dst], f"delivered to {dst} while it was down"
                assert (src, dst) not in blocked, f"delivered across a cut {src}->{dst}"
                if fifo:
                    # a duplicate may arrive right after its twin, never before an earlier send
                    assert index >= last_delivered.get((src, dst), 0), "FIFO link reordered"
                    last_delivered[(src, dst)] = index
    assert ends == copies, "every copy of every message ends exactly once"


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), plan=schedule)
def test_invariants_hold_on_fifo_links_under_any_schedule(seed, plan):
    sim = play(seed, plan, reorder=0.0)
    check_invariants(sim, fifo=True)
    assert play(seed, plan, reorder=0.0).trace.digest() == sim.trace.digest()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), plan=schedule)
def test_invariants_hold_with_reordering_under_any_schedule(seed, plan):
    check_invariants(play(seed, plan, reorder=0.3), fifo=False)
