"""The other end of the UDP feed: decode MoldUDP64, find gaps, time every arrival.

What it mirrors: a feed handler's first stage. Each datagram is one MoldUDP64 packet (Lab 13's
:func:`~labsupport.protocols.itch.parse_moldudp64`); a :class:`~labsupport.protocols.itch.MoldSequencer`
releases every message once, in sequence order, and records the sequence ranges that never came
(a real handler would now ask the re-request server for them). A packet that does not decode is
counted by cause in ``errors`` and dropped, as a feed handler must; it never stops the receiver.

Arrival times come from the kernel (``SO_TIMESTAMPNS``: the time the packet reached the socket,
in CLOCK_REALTIME ns, carried as ancillary data of ``recvmsg``) where Linux offers it, otherwise
from ``time.time_ns()`` just after ``recvmsg``. The intended arrival of message i is the first
message's arrival plus ``(ts_i - ts_0) / speed``: the error is measured against the recorded
schedule, relative to the first message (whose own one-way latency cannot be known here).

:class:`FeedReceiver` is the sans-IO core (``feed(packet, arrival_ns)``); :func:`listen` is its
socket loop, stopping at the end-of-session packet, ``count`` messages, or an idle timeout.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..protocols.itch.parser import ItchError, MoldSequencer, parse_moldudp64

__all__ = ["FeedReceiver", "ReceiverSummary", "listen", "SO_TIMESTAMPNS"]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")


@dataclass
class ReceiverSummary:
    packets: int
    messages: int
    gaps: list[tuple[int, int]]
    missing: int
    duplicates: int
    errors: dict[str, int]
    end_of_session: bool
    kernel_timestamps: bool
    p50_ns: float = 0.0
    p99_ns: float = 0.0
    p999_ns: float = 0.0
    max_ns: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        src = "kernel (SO_TIMESTAMPNS)" if self.kernel_timestamps else "user space (time.time_ns)"
        out = [f"packets {self.packets}, messages {self.messages}, gaps {len(self.gaps)} "
               f"({self.missing} messages missing), duplicates {self.duplicates}, "
               f"end of session {'seen' if self.end_of_session else 'not seen'}",
               f"arrival error vs schedule, {src}: p50 {self.p50_ns / 1e3:.1f} µs, p99 "
               f"{self.p99_ns / 1e3:.1f} µs, p99.9 {self.p999_ns / 1e3:.1f} µs, max {self.max_ns / 1e3:.1f} µs"]
        for first, last in self.gaps[:10]:
            out.append(f"gap: sequence {first}..{last}")
        for cause, n in sorted(self.errors.items()):
            out.append(f"error: {n} packet(s): {cause}")
        return out


class FeedReceiver:
    """Sans-IO MoldUDP64 receiver; ``messages`` holds what was released, ``arrivals_ns`` when."""

    def __init__(self, *, speed: float = 1.0, keep: bool = True) -> None:
        self.speed = speed
        self.seq = MoldSequencer()
        self.keep = keep
        self.messages: list[tuple] = []
        self.ts = array("q")
        self.arrivals_ns = array("q")
        self.packets = 0
        self.errors: dict[str, int] = {}
        self.end_of_session = False
        self.kernel_timestamps = False

    def feed(self, packet: bytes, arrival_ns: int) -> list[tuple]:
        """One datagram; returns the messages it released (in sequence order)."""
        self.packets += 1
        try:
            pkt = parse_moldudp64(packet)
            fresh = self.seq.accept(pkt)
        except ItchError as exc:
            cause = f"{type(exc).__name__}: {exc.reason}"
            self.errors[cause] = self.errors.get(cause, 0) + 1
            return []
        if pkt.end_of_session:
            self.end_of_session = True
        for m in fresh:
            self.ts.append(m[3])
            self.arrivals_ns.append(arrival_ns)
        if self.keep:
            self.messages.extend(fresh)
        return fresh

    def errors_ns(self) -> np.ndarray:
        """Arrival minus intended arrival, per message, relative to the first message."""
        if not self.ts:
            return np.zeros(0, dtype=np.int64)
        ts = np.frombuffer(self.ts, dtype=np.int64)
        arr = np.frombuffer(self.arrivals_ns, dtype=np.int64)
        speed = self.speed or 1.0
        return (arr - arr[0]) - np.round((ts - ts[0]) / speed).astype(np.int64)

    def summary(self) -> ReceiverSummary:
        gaps = list(self.seq.gaps)
        s = ReceiverSummary(self.packets, len(self.ts), gaps, sum(b - a + 1 for a, b in gaps),
                            self.seq.duplicates, dict(self.errors), self.end_of_session, self.kernel_timestamps)
        err = self.errors_ns()
        if len(err) and self.speed:
            s.p50_ns, s.p99_ns, s.p999_ns = (float(x) for x in np.percentile(err, [50, 99, 99.9]))
            s.max_ns = float(err.max())
        return s


def open_socket(host: str, port: int) -> tuple[socket.socket, bool]:
    """A bound UDP socket (joined to the group on the loopback for a multicast address) and
    whether kernel receive timestamps are on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    multicast = False
    with contextlib.suppress(ValueError):  # a host name, not an address literal
        multicast = ipaddress.ip_address(host).is_multicast
    if multicast:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        mreq = socket.inet_aton(host) + socket.inet_aton("127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    else:
        sock.bind((host, port))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        kernel = True
    except OSError:
        kernel = False
    return sock, kernel


def listen(sock: socket.socket, receiver: FeedReceiver, *, kernel: bool = True, count: int | None = None,
           idle_timeout_s: float = 5.0, on_packet: Callable[[FeedReceiver], None] | None = None) -> FeedReceiver:
    """Receive until end of session, ``count`` messages, or ``idle_timeout_s`` without a packet."""
    receiver.kernel_timestamps = kernel
    ancsize = socket.CMSG_SPACE(_TIMESPEC.size)
    while not receiver.end_of_session and (count is None or len(receiver.ts) < count):
        ready, _, _ = select.select([sock], [], [], idle_timeout_s)
        if not ready:
            break
        data, anc, _, _ = sock.recvmsg(65535, ancsize)
        arrival = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(payload)
                arrival = sec * 1_000_000_000 + nsec
        if arrival is None:
            arrival = time.time_ns()
            receiver.kernel_timestamps = False
        receiver.feed(data, arrival)
        if on_packet is not None:
            on_packet(receiver)
    return receiver
