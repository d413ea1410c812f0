"""PTP-lite and the NTP-style client on the frame's deterministic simulator, to the nanosecond.

One master (the reference: its oscillator is perfect unless told otherwise) and one or more
slaves, each with its own :class:`~.clock.Oscillator`, on :class:`labsupport.sim.Simulation`.
The simulation's ``now_ns`` is true time, so the *true* offset of a slave (its virtual clock
minus the master's clock, at the same instant) is known exactly and written next to what the
slave *believes* it is.

The network (:class:`PathModel`, per direction) is what the command line's options mean: a fixed
base delay (5 µs), plus an exponential queueing delay of mean ``jitter_ns`` drawn independently
per packet (the packet delay variation switches produce), plus rare queueing bursts
(``burst_prob`` of packets wait ``burst_ns`` more), plus loss; ``asymmetry_ns`` lengthens the
master-to-slave base. Links are the simulator's FIFO links with their own seeded streams.

Timestamps are taken where the hardware would: the node reads its clock when the message leaves
or arrives and :class:`~.clock.Timestamping` adds the noise of hardware or software stamps.
PTP runs at ``sync_rate_hz`` (16 Hz by default) with packet selection before the servo; NTP
polls at its own adaptive interval (16 s up). Every completed exchange is a :class:`Row`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from ..sim import Simulation
from ..sim.latency import Custom, Exponential, Fixed, Latency
from ..sim.node import Node
from .clock import TIMESTAMPING, Oscillator, Timestamping, VirtualClock
from .codec import DELAY_REQ, DELAY_RESP, FOLLOW_UP, SYNC, Message
from .errors import ClockConfigError
from .ntp import NtpClient
from .ptp import PtpMaster, PtpSlave
from .servo import HW_GAINS, SW_GAINS, Gains, LuckyPacketFilter, MinDelayFilter, PassAll, PIServo

__all__ = ["PathModel", "Scenario", "Row", "run", "write_csv", "make_filter", "FILTERS",
           "CSV_HEADER"]

CSV_HEADER = ["t_s", "true_offset_ns", "estimated_offset_ns", "freq_adj_ppb", "path_delay_ns"]
_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class PathModel:
    """One direction of the path: base + Exp(jitter) + rare bursts, with loss."""

    base_ns: int = 5_000
    jitter_ns: float = 0.0
    burst_prob: float = 0.0
    burst_ns: int = 0
    loss: float = 0.0

    def latency(self) -> Latency:
        if not self.burst_prob:
            return Exponential(int(self.jitter_ns), self.base_ns) if self.jitter_ns >= 1 \
                else Fixed(self.base_ns)
        base, mean, p, burst = self.base_ns, self.jitter_ns, self.burst_prob, self.burst_ns

        def sample(rng) -> float:
            d = base + (rng.expovariate(1.0 / mean) if mean >= 1 else 0.0)
            return d + burst if rng.random() < p else d

        return Custom(sample, base + mean + p * burst)


@dataclass
class Scenario:
    """Everything a run depends on; ``run(Scenario(...))`` is a pure function of it."""

    protocol: str = "ptp"
    seed: int = 1
    duration_s: float = 60.0
    timestamping: str = "hw"
    ppm: float = 20.0
    initial_offset_ns: int = 1_000_000
    wander_ppb_per_sqrt_s: float = 0.0
    temperature: Callable[[float], float] | None = None
    jitter_ns: float = 1_000.0
    asymmetry_ns: int = 0
    base_ns: int = 5_000
    loss: float = 0.0
    burst_prob: float = 0.0
    burst_ns: int = 0
    sync_rate_hz: float = 16.0
    slaves: int = 1
    gains: Gains | tuple[float, float] | None = None  # None: the timestamping's defaults
    step_threshold_ns: float = 20_000.0
    filter: Any = "lucky"  # "lucky" (per direction), "exchange", "none", or a factory
    servo: Callable[[], Any] | None = None  # a factory of servos; None: PIServo(gains)
    filter_window: int | None = None  # exchanges; None: 4 s' worth (lucky), 1 s' (exchange)

    def __post_init__(self) -> None:
        if self.protocol not in ("ptp", "ntp"):
            raise ClockConfigError(f"protocol {self.protocol!r}: ptp or ntp")
        if self.timestamping not in TIMESTAMPING:
            raise ClockConfigError(f"timestamping {self.timestamping!r}: hw or sw")
        if self.duration_s <= 0 or self.sync_rate_hz <= 0 or self.slaves < 1:
            raise ClockConfigError("duration, sync rate and slaves must be positive")
        if self.jitter_ns < 0 or self.base_ns < 0 or self.base_ns + self.asymmetry_ns < 0:
            raise ClockConfigError("delays must not be negative")
        if not 0 <= self.loss <= 1:
            raise ClockConfigError(f"loss {self.loss}: a probability")

    def path(self, master_to_slave: bool) -> PathModel:
        base = self.base_ns + (self.asymmetry_ns if master_to_slave else 0)
        return PathModel(base, self.jitter_ns, self.burst_prob, self.burst_ns, self.loss)


class Row(NamedTuple):
    """One completed exchange: the columns of ``offsets.csv`` (plus the slave's name)."""

    slave: str
    t_s: float
    true_offset_ns: float
    estimated_offset_ns: float
    freq_adj_ppb: float
    path_delay_ns: float


FILTERS = ("lucky", "exchange", "none")


def make_filter(kind: Any, window: int = 16) -> Any:
    """The packet-selection filter named ``kind`` (one of :data:`FILTERS`), or ``kind()``."""
    if callable(kind):
        return kind()
    if kind == "lucky":
        return LuckyPacketFilter(window)
    if kind == "exchange":
        return MinDelayFilter(window)
    if kind == "none":
        return PassAll()
    raise ClockConfigError(f"filter {kind!r}: one of {', '.join(FILTERS)}")


class _Clocked(Node):
    """A node with an oscillator, a virtual clock on it and a timestamping unit."""

    def __init__(self, sim: Simulation, osc: Oscillator, ts: Timestamping, rows: list[Row],
                 reference: Callable[[], int]) -> None:
        self.sim, self.osc, self.ts, self.rows, self.reference = sim, osc, ts, rows, reference

    def on_start(self) -> None:
        sim, read = self.sim, self.osc.read
        self.clock = VirtualClock(lambda: read(sim.now_ns))
        self.ts_rng = sim.stream(f"timestamps/{self.name}")
        # stamp_tx(exact) / stamp_rx(exact): the clock reading with this node's stamp noise
        self.stamp_tx = partial(self.ts.tx, self.ts_rng)
        self.stamp_rx = partial(self.ts.rx, self.ts_rng)

    def true_offset(self) -> int:
        return self.clock.now() - self.reference()


class _PtpMasterNode(_Clocked):
    def on_start(self) -> None:
        _Clocked.on_start(self)
        self.core = PtpMaster()
        self.set_timer(0, "sync")

    def on_timer(self, name) -> None:
        core, send, now = self.core, self.send, self.clock.now
        for slave in self.slaves:
            sync = core.sync()
            send(slave, sync)
            send(slave, core.follow_up(sync.sequence_id, self.stamp_tx(now())))
        self.set_timer(self.interval_ns, "sync")

    def on_message(self, src: str, msg: Message) -> None:
        if msg.msg_type == DELAY_REQ:
            self.send(src, self.core.delay_resp(msg, self.stamp_rx(self.clock.now())))


class _PtpSlaveNode(_Clocked):
    def on_start(self) -> None:
        _Clocked.on_start(self)
        self.core = PtpSlave(self.clock, servo=self.make_servo(), filter=self.make_filter(),
                             identity=self.name.encode().ljust(8, b"\0")[:8])

    def on_message(self, src: str, msg: Message) -> None:
        kind = msg.msg_type
        if kind == SYNC:
            self.core.on_sync(msg, self.stamp_rx(self.clock.now()))
        elif kind == FOLLOW_UP:
            req = self.core.on_follow_up(msg)
            if req is not None:
                self.send(src, req)
                self.core.delay_req_sent(req.sequence_id, self.stamp_tx(self.clock.now()))
        elif kind == DELAY_RESP:
            ex = self.core.on_delay_resp(msg)
            if ex is not None:  # the true offset now, before this exchange's correction
                action = ex.action
                step = action.step_ns if action is not None else 0
                self.rows.append(Row(self.name, self.sim.now_ns / _S,
                                     self.true_offset() - step, ex.offset_ns,
                                     self.clock.freq_ppb, ex.delay_ns))


class _NtpServerNode(_Clocked):
    def on_message(self, src: str, msg: tuple) -> None:
        t2 = self.stamp_rx(self.clock.now())
        t3 = self.stamp_tx(self.clock.now() + 1_000)  # 1 µs of server processing
        self.send(src, ("reply", msg[1], t2, t3))


class _NtpClientNode(_Clocked):
    def on_start(self) -> None:
        _Clocked.on_start(self)
        self.servers = [p for p in self.peers if p.startswith("master")]
        self.core = NtpClient(self.clock, self.servers)
        self.set_timer(0, "poll")

    def on_timer(self, name) -> None:
        for server in self.servers:
            self.send(server, ("request", self.stamp_tx(self.clock.now())))
        self.set_timer(self.core.poll_s * _S, "poll")

    def on_message(self, src: str, msg: tuple) -> None:
        t4 = self.stamp_rx(self.clock.now())
        up = self.core.on_reply(src, msg[1], msg[2], msg[3], t4)
        step = up.action.step_ns if up.action is not None else 0
        self.rows.append(Row(self.name, self.sim.now_ns / _S, self.true_offset() - step,
                             up.offset_ns, self.clock.freq_ppb, up.delay_ns / 2))


def run(sc: Scenario) -> list[Row]:
    """Run the scenario; the rows of every slave, in the order exchanges completed."""
    sim = Simulation(sc.seed, trace=False)
    ts = TIMESTAMPING[sc.timestamping]
    rows: list[Row] = []
    master_osc = Oscillator(rng=sim.stream("osc/master"))
    reference = lambda: master_osc.read(sim.now_ns)  # noqa: E731 - the master's clock, now
    gains = sc.gains if sc.gains is not None else (HW_GAINS if sc.timestamping == "hw"
                                                   else SW_GAINS)

    def oscillator(i: int) -> Oscillator:
        return Oscillator(ppm=sc.ppm, phase_ns=sc.initial_offset_ns,
                          wander_ppb_per_sqrt_s=sc.wander_ppb_per_sqrt_s,
                          temperature=sc.temperature, rng=sim.stream(f"osc/slave{i}"))

    names = [f"slave{i}" for i in range(1, sc.slaves + 1)]
    if sc.protocol == "ptp":
        def master() -> Node:
            node = _PtpMasterNode(sim, master_osc, ts, rows, reference)
            node.interval_ns = round(_S / sc.sync_rate_hz)
            node.slaves = names
            return node

        def slave(i: int) -> Callable[[], Node]:
            def make() -> Node:
                node = _PtpSlaveNode(sim, oscillator(i), ts, rows, reference)
                node.make_servo = sc.servo or (lambda: PIServo(
                    gains, step_threshold_ns=sc.step_threshold_ns))
                seconds = 4 if sc.filter == "lucky" else 1  # the exchange filter passes 1 in window
                window = sc.filter_window or max(1, round(seconds * sc.sync_rate_hz))
                node.make_filter = lambda: make_filter(sc.filter, window)
                return node
            return make
    else:
        def master() -> Node:
            return _NtpServerNode(sim, master_osc, ts, rows, reference)

        def slave(i: int) -> Callable[[], Node]:
            return lambda: _NtpClientNode(sim, oscillator(i), ts, rows, reference)

    sim.add_node("master", master)
    for i, name in enumerate(names, 1):
        sim.add_node(name, slave(i))
        sim.net.set_link("master", name, both_ways=False, latency=sc.path(True).latency(),
                         loss=sc.loss)
        sim.net.set_link(name, "master", both_ways=False, latency=sc.path(False).latency(),
                         loss=sc.loss)
    sim.run(until_ns=round(sc.duration_s * _S))
    return rows


def write_csv(rows: list[Row], path: str | Path, slave: str = "slave1") -> int:
    """Write ``offsets.csv`` for one slave; returns the rows written."""
    n = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for r in rows:
            if r.slave == slave:
                w.writerow([f"{r.t_s:.9f}", f"{r.true_offset_ns:.1f}",
                            f"{r.estimated_offset_ns:.1f}", f"{r.freq_adj_ppb:.3f}",
                            f"{r.path_delay_ns:.1f}"])
                n += 1
    return n
