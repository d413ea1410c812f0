"""PTP-lite for real: a master and slaves as processes exchanging UDP datagrams on loopback.

The same sans-IO cores as the simulation (:class:`~.ptp.PtpMaster`, :class:`~.ptp.PtpSlave`)
behind a blocking socket and ``select``. The master's clock is ``CLOCK_MONOTONIC_RAW``; each slave
steers a :class:`~.clock.VirtualClock` on a :class:`~.clock.RawClock` (``CLOCK_MONOTONIC_RAW``
with the offset and frequency error it was started with), never the machine's clock. Since both
ends read one machine's counter, the slave knows its *true* error exactly and reports it next
to its estimate.

Timestamps: receive stamps are the kernel's (``SO_TIMESTAMPNS``, taken when the packet reached
the socket, in ``CLOCK_REALTIME``; converted to the raw counter by the age of the stamp, so
the conversion does not depend on how ``CLOCK_REALTIME`` is being slewed); transmit stamps are
read just before ``sendto`` (on loopback the receiver's kernel stamp is taken inside the
sender's ``sendto``, so a stamp read after it returns would be later than the arrival).
A unicast slave subscribes by sending a Signaling message once a second; the master sends
Sync and Follow_Up to every subscriber heard from in the last 5 s. Undecodable datagrams are
counted and dropped: a stray packet must not stop a clock.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .clock import RawClock, VirtualClock
from .codec import DELAY_REQ, DELAY_RESP, FOLLOW_UP, SIGNALING, SYNC, Message, decode, encode
from .errors import ClockConfigError, CodecError
from .ptp import PtpMaster, PtpSlave
from .servo import HW_GAINS, MinDelayFilter, PIServo

__all__ = ["serve_master", "run_slave", "parse_hostport", "SlaveRow", "RealStats"]

_RAW, _REAL = time.CLOCK_MONOTONIC_RAW, time.CLOCK_REALTIME
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
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


def _socket(port: int = 0) -> tuple[socket.socket, bool]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        kernel = True
    except OSError:
        kernel = False
    return sock, kernel


def _receive(sock: socket.socket) -> tuple[bytes, tuple, int]:
    """(datagram, sender, receive stamp on CLOCK_MONOTONIC_RAW)."""
    data, anc, _flags, addr = sock.recvmsg(2048, 64)
    raw_now, real_now = time.clock_gettime_ns(_RAW), time.clock_gettime_ns(_REAL)
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(payload)
            age = real_now - (sec * 1_000_000_000 + nsec)
            if 0 <= age < 1_000_000_000:
                return data, addr, raw_now - age
    return data, addr, raw_now


@dataclass
class RealStats:
    sent: int = 0
    received: int = 0
    bad: int = 0
    subscribers: dict = field(default_factory=dict)


def serve_master(port: int = 0, *, sync_rate_hz: float = 16.0, duration_s: float | None = None,
                 on_ready: Callable[[int], None] | None = None) -> RealStats:
    """Serve Sync/Follow_Up/Delay_Resp on 127.0.0.1:``port`` until ``duration_s`` passes."""
    sock, _ = _socket(port)
    core, stats = PtpMaster(), RealStats()
    interval = 1.0 / sync_rate_hz
    if on_ready is not None:
        on_ready(sock.getsockname()[1])
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
                    data = encode(sync)
                    t1 = time.clock_gettime_ns(_RAW)  # stamped as the packet leaves the program
                    sock.sendto(data, addr)
                    sock.sendto(encode(core.follow_up(sync.sequence_id, t1)), addr)
                    stats.sent += 2
            ready, _, _ = select.select([sock], [], [], max(0.0, next_sync - time.monotonic()))
            if not ready:
                continue
            data, addr, t4 = _receive(sock)
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
                sock.sendto(encode(core.delay_resp(msg, t4)), addr)
                stats.sent += 1
    finally:
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
              duration_s: float = 10.0, filter_window: int = 4,
              on_row: Callable[[SlaveRow], None] | None = None) -> list[SlaveRow]:
    """Synchronise a virtual clock to ``master`` for ``duration_s``; the rows, one per exchange."""
    raw = RawClock(ppm=ppm, offset_ns=offset_ns)
    clock = VirtualClock(raw)
    # a scheduler's hiccup delays a packet by tens of µs here: keep the least-delayed exchange
    # of the last few
    core = PtpSlave(clock, servo=PIServo(HW_GAINS), filter=MinDelayFilter(filter_window))
    sock, _ = _socket()
    rows: list[SlaveRow] = []
    start = time.monotonic()
    next_hello = start
    try:
        while (now := time.monotonic()) < start + duration_s:
            if now >= next_hello:
                sock.sendto(encode(Message(SIGNALING, 0, clock_identity=core.identity)), master)
                next_hello = now + 1.0
            ready, _, _ = select.select([sock], [], [], min(0.2, start + duration_s - now))
            if not ready:
                continue
            data, addr, stamp = _receive(sock)
            try:
                msg = decode(data)
            except CodecError:
                continue
            if msg.msg_type == SYNC:
                core.on_sync(msg, clock.to_virtual(raw.from_reference(stamp)))
            elif msg.msg_type == FOLLOW_UP:
                req = core.on_follow_up(msg)
                if req is not None:
                    data = encode(req)
                    t3 = clock.now()
                    sock.sendto(data, master)
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
        sock.close()
    return rows
