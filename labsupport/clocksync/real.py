"""PTP-lite for real: a master and slaves as processes exchanging UDP datagrams on loopback.

The same sans-IO cores as the simulation (:class:`~.ptp.PtpMaster`, :class:`~.ptp.PtpSlave`)
behind a socket and ``select``. The master's clock is ``CLOCK_MONOTONIC_RAW``; each slave
steers a :class:`~.clock.VirtualClock` on a :class:`~.clock.RawClock` (``CLOCK_MONOTONIC_RAW``
with the offset and frequency error it was started with), never the machine's clock. Since both
ends read one machine's counter, the slave knows its *true* error exactly and reports it next
to its estimate.

Timestamps (:mod:`.stamps`): both ends stamp in the kernel, transmit and receive, as ``ptp4l -S``
does (``SO_TIMESTAMPING``, transmit stamps from the socket's error queue); where the kernel
grants less, receive stamps only (``SO_TIMESTAMPNS``) with transmit stamps read just before
``sendto``, or no kernel stamps at all. Which mode ran is in :class:`RealStats` and the
slave's summary: program-side transmit stamps bias the offset by tens of µs here. Both ends
send a warm-up datagram to a sink of their own just before each stamped one (Sync, Delay_Req):
the first datagram after a sleep takes the kernel's path slowly even between the two stamps.

A unicast slave subscribes by sending a Signaling message once a second; the master sends
Sync and Follow_Up to every subscriber heard from in the last 5 s. Undecodable datagrams are
counted and dropped: a stray packet must not stop a clock.
"""

from __future__ import annotations

import ipaddress
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .clock import RawClock, VirtualClock
from .codec import DELAY_REQ, DELAY_RESP, FOLLOW_UP, SIGNALING, SYNC, Message, decode, encode
from .errors import ClockConfigError, CodecError
from .ptp import PtpMaster, PtpSlave
from .servo import HW_GAINS, MinDelayFilter, PIServo
from .stamps import StampedSocket

__all__ = ["serve_master", "run_slave", "parse_hostport", "SlaveRow", "RealStats"]

_RAW = time.CLOCK_MONOTONIC_RAW
SUBSCRIPTION_S = 5.0


def parse_hostport(text: str) -> tuple[str, int]:
    """``127.0.0.1:PORT`` -> (host, port); only loopback addresses are accepted."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClockConfigError(f"--master {text!r}: expected HOST:PORT")
    try:
        addr = ipaddress.ip_address(host or "127.0.0.1")
    except ValueError:
        raise ClockConfigError(f"--master {text!r}: {host!r} is not an IP address") from None
    if not addr.is_loopback:
        raise ClockConfigError(f"--master {text!r}: not a loopback address")
    return str(addr), int(port)


@dataclass
class RealStats:
    """What one end did: datagrams, undecodable ones, the timestamping mode it ran with and how
    many transmit stamps fell back to the program's reading."""

    sent: int = 0
    received: int = 0
    bad: int = 0
    timestamps: str = ""
    tx_fallbacks: int = 0
    subscribers: dict = field(default_factory=dict)


def serve_master(port: int = 0, *, sync_rate_hz: float = 16.0, duration_s: float | None = None,
                 timestamps: str = "auto", warm_up: bool = True,
                 on_ready: Callable[[int, str], None] | None = None,
                 stats: RealStats | None = None) -> RealStats:
    """Serve Sync/Follow_Up/Delay_Resp on 127.0.0.1:``port`` until ``duration_s`` passes;
    ``on_ready(port, timestamping mode)`` once bound. ``warm_up``: a datagram to a sink just
    before each Sync, so the Sync leaves as fast as the slave's Delay_Req does."""
    sock = StampedSocket(port, timestamps)
    core, stats = PtpMaster(), stats if stats is not None else RealStats()
    stats.timestamps = sock.mode
    interval = 1.0 / sync_rate_hz
    if on_ready is not None:
        on_ready(sock.port, sock.mode)
    end = None if duration_s is None else time.monotonic() + duration_s
    next_sync = time.monotonic()
    try:
        while end is None or time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sync:
                next_sync += interval
                for addr, seen in list(stats.subscribers.items()):
                    if now - seen > SUBSCRIPTION_S:
                        del stats.subscribers[addr]
                        continue
                    sync = core.sync()
                    if warm_up:
                        sock.warm_up()
                    t1 = sock.send(encode(sync), addr)
                    sock.send(encode(core.follow_up(sync.sequence_id, t1)), addr)
                    stats.sent += 2
            ready, _, _ = select.select([sock], [], [], max(0.0, next_sync - time.monotonic()))
            got = sock.receive() if ready else None
            if got is None:
                continue
            data, addr, t4 = got
            stats.received += 1
            try:
                msg = decode(data)
            except CodecError:
                stats.bad += 1
                continue
            if msg.msg_type == SIGNALING:
                stats.subscribers[addr] = time.monotonic()
            elif msg.msg_type == DELAY_REQ:
                stats.subscribers[addr] = time.monotonic()
                sock.send(encode(core.delay_resp(msg, t4)), addr)
                stats.sent += 1
    finally:
        stats.tx_fallbacks = sock.tx_fallbacks
        sock.close()
    return stats


@dataclass(frozen=True, slots=True)
class SlaveRow:
    t_s: float
    true_offset_ns: float
    estimated_offset_ns: float
    freq_adj_ppb: float
    path_delay_ns: float


def run_slave(master: tuple[str, int], *, ppm: float = 50.0, offset_ns: int = 1_000_000,
              duration_s: float = 10.0, filter_window: int = 4, timestamps: str = "auto",
              warm_up: bool = True, on_row: Callable[[SlaveRow], None] | None = None,
              stats: RealStats | None = None) -> list[SlaveRow]:
    """Synchronise a virtual clock to ``master`` for ``duration_s``; the rows, one per exchange
    (``stats``, if given, says what was sent and how it was stamped)."""
    raw = RawClock(ppm=ppm, offset_ns=offset_ns)
    clock = VirtualClock(raw)
    # a scheduler's hiccup delays a packet by tens of µs here: keep the least-delayed exchange
    # of the last few
    core = PtpSlave(clock, servo=PIServo(HW_GAINS), filter=MinDelayFilter(filter_window))
    sock = StampedSocket(0, timestamps)
    stats = stats if stats is not None else RealStats()
    stats.timestamps = sock.mode
    rows: list[SlaveRow] = []
    start = time.monotonic()
    next_hello = start
    try:
        while (now := time.monotonic()) < start + duration_s:
            if now >= next_hello:
                sock.send(encode(Message(SIGNALING, 0, clock_identity=core.identity)), master)
                stats.sent += 1
                next_hello = now + 1.0
            ready, _, _ = select.select([sock], [], [], min(0.2, start + duration_s - now))
            got = sock.receive() if ready else None
            if got is None:
                continue
            data, _addr, stamp = got
            stats.received += 1
            try:
                msg = decode(data)
            except CodecError:
                stats.bad += 1
                continue
            if msg.msg_type == SYNC:
                core.on_sync(msg, clock.to_virtual(raw.from_reference(stamp)))
            elif msg.msg_type == FOLLOW_UP:
                req = core.on_follow_up(msg)
                if req is not None:
                    if warm_up:
                        sock.warm_up()
                    t3 = clock.to_virtual(raw.from_reference(sock.send(encode(req), master)))
                    stats.sent += 1
                    core.delay_req_sent(req.sequence_id, t3)
            elif msg.msg_type == DELAY_RESP:
                ex = core.on_delay_resp(msg)
                if ex is None:
                    continue
                ref = time.clock_gettime_ns(_RAW)
                row = SlaveRow(time.monotonic() - start,
                               clock.to_virtual(raw.from_reference(ref)) - ref,
                               ex.offset_ns, clock.freq_ppb, ex.delay_ns)
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    finally:
        stats.tx_fallbacks = sock.tx_fallbacks
        sock.close()
    return rows
