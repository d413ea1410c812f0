"""A tiny replicated counter under a partition and a crash: the simulator's worked example.

Three replicas keep a grow-only counter (a G-Counter, the simplest CRDT: one entry per replica,
merged by taking the maximum of each entry, so gossip may be lost, duplicated or reordered
without harm). A client sends ``inc`` requests to random replicas; a replica applies one to its
own entry, appends the new value to its log on disk, fsyncs (unless told not to) and only then
acks. Every ``gossip_ns`` each replica sends its whole vector to the others. The scenario cuts
``r3`` off for a while, then crashes ``r2`` and restarts it; at the end every replica must show
the same total, and no acked increment may be missing from it.

The log's records are ``crc32 (4 bytes) | value (8 bytes)``. Recovery reads them in order and
stops at the first record that is short or fails its checksum: a torn write at the tail is
expected after a crash, anything after it is not trusted. With ``fsync=False`` an acked
increment can be lost with the page cache; the counter then comes back from what peers had
gossiped, minus what they never heard. :func:`run_counter` counts, from the trace, the
increments that reached a live replica (``applied``: each was applied exactly once) and reports
``lost = applied - final total``, which must be 0 when replicas fsync before acking.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from .latency import MS, LogNormal
from .loop import Simulation
from .node import Node

__all__ = ["Replica", "Client", "CounterRun", "run_counter", "same_seed_check", "REPLICAS",
           "applied_increments", "encode_record", "recover"]

REPLICAS = ("r1", "r2", "r3")
LOG = "counter.log"
_REC = struct.Struct(">IQ")  # crc32 of the value bytes, value


def encode_record(value: int) -> bytes:
    body = struct.pack(">Q", value)
    return _REC.pack(zlib.crc32(body), value)


def recover(records: list[bytes]) -> int:
    """The last value whose record is whole and checksums (0 for an empty log)."""
    value = 0
    for rec in records:
        if len(rec) != _REC.size:
            break  # torn tail
        crc, v = _REC.unpack(rec)
        if crc != zlib.crc32(rec[4:]):
            break
        value = v
    return value


class Replica(Node):
    """One replica of the G-Counter; ``fsync`` says whether it fsyncs before acking."""

    def __init__(self, fsync: bool = True, gossip_ns: int = 20 * MS) -> None:
        self.fsync = fsync
        self.gossip_ns = gossip_ns
        self.counts: dict[str, int] = {}

    def on_start(self) -> None:
        self.counts = {name: 0 for name in REPLICAS}
        self.counts[self.name] = recover(self.disk.read(LOG))
        self.set_timer(self.gossip_ns, "gossip")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "inc":
            self.counts[self.name] += 1
            self.disk.append(LOG, encode_record(self.counts[self.name]))
            if self.fsync:
                self.disk.fsync(LOG)
            self.send(src, ("ack", msg[1]))
        elif msg[0] == "gossip":
            for name, value in msg[1]:
                if value > self.counts[name]:
                    self.counts[name] = value

    def on_timer(self, name: Any) -> None:
        vector = tuple(sorted(self.counts.items()))
        for peer in REPLICAS:
            if peer != self.name:
                self.send(peer, ("gossip", vector))
        self.set_timer(self.gossip_ns, "gossip")


class Client(Node):
    """Sends ``n`` increments, one every ``every_ns``, each to a replica its rng picks."""

    def __init__(self, n: int, every_ns: int) -> None:
        self.n, self.every_ns = n, every_ns
        self.sent = 0
        self.acked: set[int] = set()  # ints only: iteration order does not depend on hashing

    def on_start(self) -> None:
        self.set_timer(0, "inc")

    def on_timer(self, name: Any) -> None:
        self.sent += 1
        self.send(self.rng.choice(REPLICAS), ("inc", self.sent))
        if self.sent < self.n:
            self.set_timer(self.every_ns, "inc")

    def on_message(self, src: str, msg: Any) -> None:
        self.acked.add(msg[1])


@dataclass(frozen=True, slots=True)
class CounterRun:
    """What one run of the scenario produced (the simulation itself is kept for plotting)."""

    seed: int
    sent: int
    acked: int
    applied: int
    totals: dict[str, int]
    lost: int
    digest: str
    counts: dict[str, int]
    sim: Simulation

    @property
    def converged(self) -> bool:
        return len(set(self.totals.values())) == 1

    def summary(self) -> str:
        return (f"seed={self.seed}: sent={self.sent} acked={self.acked} totals={self.totals} "
                f"applied={self.applied} converged={self.converged} lost={self.lost}")


def run_counter(seed: int = 1, *, increments: int = 80, fsync: bool = True,
                partition: bool = True, crash: bool = True, unsynced: str = "random",
                torn_writes: bool = True, loss: float = 0.02,
                median_latency_ns: int = 2 * MS) -> CounterRun:
    """Run the scenario: increments every 5 ms, ``r3`` cut off 100-250 ms, ``r2`` crashed at
    300 ms and restarted at 340 ms, then gossip until 700 ms. ``loss`` is the client links'
    loss rate (replica links lose 2.5 times as much); latency is log-normal around
    ``median_latency_ns``."""
    sim = Simulation(seed)
    for name in REPLICAS:
        sim.add_node(name, lambda: Replica(fsync=fsync), unsynced=unsynced, torn_writes=torn_writes)
    sim.add_node("client", lambda: Client(increments, 5 * MS))
    sim.net.set_default(latency=LogNormal(median_latency_ns, 0.4), loss=loss)
    for i, a in enumerate(REPLICAS):  # gossip is idempotent: let its links misbehave more
        for b in REPLICAS[i + 1:]:
            sim.net.set_link(a, b, loss=min(1.0, 2.5 * loss), duplicate=0.05, reorder=0.05)
    if partition:
        sim.at(100 * MS, sim.net.partition, ["r1", "r2", "client"], ["r3"])
        sim.at(250 * MS, sim.net.heal)
    if crash:
        sim.at(300 * MS, sim.crash, "r2")
        sim.at(340 * MS, sim.restart, "r2")
    sim.run(until_ns=700 * MS)
    client: Any = sim.node("client")
    totals = {name: sim.node(name).total for name in REPLICAS}  # type: ignore[union-attr]
    applied = applied_increments(sim)
    return CounterRun(seed=seed, sent=client.sent, acked=len(client.acked), applied=applied,
                      totals=totals, lost=applied - min(totals.values()),
                      digest=sim.trace.digest(), counts=sim.trace.counts(), sim=sim)


def applied_increments(sim: Simulation) -> int:
    """How many ``inc`` requests reached a live replica (each was applied once), from the trace."""
    incs = {mid for _, kind, _, _, mid, msg in sim.trace if kind == "send" and msg[0] == "inc"}
    return sum(1 for _, kind, _, _, mid, _ in sim.trace if kind == "deliver" and mid in incs)


def same_seed_check(seed: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Run the scenario twice with ``seed`` and once with ``seed + 1``: the first two traces
    must be identical, the third must differ. Returns what a notebook prints."""
    first, second = run_counter(seed, **kwargs), run_counter(seed, **kwargs)
    other = run_counter(seed + 1, **kwargs)
    return {"digest": first.digest[:16], "same_seed_same_trace": first.digest == second.digest,
            "other_seed_differs": other.digest != first.digest, "events": len(first.sim.trace),
            "counts": first.counts}
