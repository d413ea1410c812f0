"""A deterministic simulator for distributed systems: simulated clock, seeded network, crashes.

Modelled on FoundationDB's simulation testing and MIT 6.5840's ``labrpc``: nodes are plain
classes that receive messages and timers; one single-threaded event loop runs them on a
simulated clock that jumps from event to event; the network between them has per-link latency
distributions, jitter, loss, duplication, reordering and partitions; a node can crash (its
memory is lost, its disk survives, minus what it never fsynced) and restart. One seed fixes the
whole run, and the trace's digest proves two runs identical::

    from labsupport.sim import MS, LogNormal, Node, Simulation

    class Echo(Node):
        def on_message(self, src, msg):
            self.send(src, msg)

    sim = Simulation(seed=7)
    sim.add_node("a", Echo)
    sim.add_node("b", Echo)
    sim.net.set_default(latency=LogNormal(2 * MS, 0.5), loss=0.01)
    sim.at(0, sim.send, "a", "b", "hello")          # a scenario's first message
    sim.at(300 * MS, sim.net.partition, ["a"], ["b"])
    sim.at(500 * MS, sim.net.heal)
    sim.run(until_ns=1_000 * MS)
    print(sim.trace.counts(), sim.trace.digest())

Modules: :mod:`~.loop` (the event loop), :mod:`~.network` (links, faults, partitions),
:mod:`~.node` (nodes, hosts, timers, crash/restart), :mod:`~.disk` (write/fsync/torn writes),
:mod:`~.latency` (distributions), :mod:`~.trace` (the record and its digest), :mod:`~.rpc`
(labrpc-style calls with timeouts), :mod:`~.aio` (the simulated clock and asyncio loop),
:mod:`~.seeds` (``run_seeds`` and the replay command), :mod:`~.plot` (the timeline),
:mod:`~.demo` (a replicated counter under a partition and a crash), :mod:`~.explore` (its
widget), :mod:`~.bench` (deliveries per CPU second).
"""

from .aio import AsyncNode, SimClock, SimEventLoop, SimEventLoopPolicy
from .disk import SimDisk
from .errors import SimConfigError, SimDeadlock, SimError, TraceDisabled, UnknownNode
from .latency import MS, US, Custom, Exponential, Fixed, Latency, LogNormal, Normal, S, Uniform
from .loop import Simulation, derive_seed
from .network import LinkConfig, Network
from .node import Host, Node
from .plot import plot_timeline
from .rpc import RpcNode, RpcReply, RpcRequest
from .seeds import SeedFailure, replay_command, run_seeds
from .trace import Trace

__all__ = ["Simulation", "derive_seed", "Node", "Host", "Network", "LinkConfig", "SimDisk",
           "Trace", "Latency", "Fixed", "Uniform", "Normal", "LogNormal", "Exponential", "Custom",
           "US", "MS", "S", "SimError", "SimConfigError", "UnknownNode", "SimDeadlock",
           "TraceDisabled", "RpcNode", "RpcRequest", "RpcReply", "SimClock", "SimEventLoop",
           "SimEventLoopPolicy", "AsyncNode", "run_seeds", "replay_command", "SeedFailure",
           "plot_timeline"]
