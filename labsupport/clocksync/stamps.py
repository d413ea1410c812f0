"""Where a real datagram is stamped: in the kernel both ways, or in the kernel on receipt only.

What linuxptp's ``ptp4l -S`` (software timestamping) does, on a UDP socket on 127.0.0.1:
``SO_TIMESTAMPING`` with ``SOF_TIMESTAMPING_TX_SOFTWARE | RX_SOFTWARE | SOFTWARE`` asks the
kernel to stamp every datagram as the device sends it (``skb_tx_timestamp`` in the driver's
transmit routine; on loopback, ``loopback_xmit``) and as it is received, both on
``CLOCK_REALTIME``. A receive stamp comes with the datagram (``SCM_TIMESTAMPING``: three
timespecs, the first the software stamp); a transmit stamp is looped back on the socket's error
queue (``recvmsg(..., MSG_ERRQUEUE)``) with an ``IP_RECVERR`` record whose ``ee_data`` is the
datagram's number (``SOF_TIMESTAMPING_OPT_ID``) and, with ``OPT_TSONLY``, without the payload.

Why both ends must stamp in the same place: a transmit stamp read in the program just before
``sendto`` misses the time the kernel takes to get the datagram to the device, and that time is
not the same for every send: tens of µs after a timer wakeup (the master's Sync), a few µs right
after a receive (the slave's Delay_Req). The offset formula reads half the difference as offset.
Stamped at the device both ways, what is left is the kernel's own path from the transmit stamp
to the receive stamp, and that too is slower for the first datagram after a sleep (cold caches,
most likely):
:meth:`StampedSocket.warm_up` sends a byte to a sink socket of its own just before a stamped
datagram, so both directions leave on a warm path.

:class:`StampedSocket` picks the best mode the kernel grants (``"kernel"``, ``"rx"``: the
receive stamp only, ``SO_TIMESTAMPNS``, transmit stamps read before ``sendto``; ``"user"``: no
kernel stamps) and says which one it got; a transmit stamp that does not come back within
``tx_timeout_s`` falls back to the program's own reading for that datagram (counted in
``tx_fallbacks``). Every stamp is converted to ``CLOCK_MONOTONIC_RAW`` by its age, read on
``CLOCK_REALTIME`` between two raw readings (the tightest pair of a few), so a slew of
``CLOCK_REALTIME`` does not enter.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

from .errors import ClockConfigError

__all__ = ["StampedSocket", "MODES", "software_stamp", "tx_report"]

_RAW, _REAL = time.CLOCK_MONOTONIC_RAW, time.CLOCK_REALTIME
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_TIMESTAMPING = getattr(socket, "SO_TIMESTAMPING", 37)  # also SCM_TIMESTAMPING
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_ID = 1 << 7
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11
KERNEL_FLAGS = (SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE
                | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID
                | SOF_TIMESTAMPING_OPT_TSONLY)
SO_EE_ORIGIN_TIMESTAMPING = 4
SCM_TSTAMP_SND = 0  # ee_info of a transmit stamp taken as the device sends

_TIMESPEC = struct.Struct("@qq")
_EXTENDED_ERR = struct.Struct("@IBBBBII")  # struct sock_extended_err (its first 16 bytes)
_ANC = 256
MODES = ("kernel", "rx", "user")


def software_stamp(payload: bytes) -> int | None:
    """The software stamp (ns on ``CLOCK_REALTIME``) of a ``SCM_TIMESTAMPING`` payload (struct
    scm_timestamping: three timespecs, software, deprecated, hardware) or of a
    ``SO_TIMESTAMPNS`` one (one timespec); None when short or zero (no software stamp)."""
    if len(payload) < _TIMESPEC.size:
        return None
    sec, nsec = _TIMESPEC.unpack_from(payload)
    if sec <= 0 or not 0 <= nsec < 1_000_000_000:
        return None
    return sec * 1_000_000_000 + nsec


def tx_report(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, int] | None:
    """(datagram number, software stamp ns) of one error-queue message, if it is a transmit
    stamp: an ``IP_RECVERR`` record of origin ``SO_EE_ORIGIN_TIMESTAMPING`` and kind
    ``SCM_TSTAMP_SND`` next to a ``SCM_TIMESTAMPING`` with a software stamp; None otherwise."""
    stamp = number = None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING:
            stamp = software_stamp(payload)
        elif level == socket.IPPROTO_IP and kind == IP_RECVERR \
                and len(payload) >= _EXTENDED_ERR.size:
            _errno, origin, _type, _code, _pad, info, data = _EXTENDED_ERR.unpack_from(payload)
            if origin == SO_EE_ORIGIN_TIMESTAMPING and info == SCM_TSTAMP_SND:
                number = data
    if stamp is None or number is None:
        return None
    return number, stamp


def realtime_to_raw(real_ns: int, tries: int = 3) -> int | None:
    """A ``CLOCK_REALTIME`` stamp on ``CLOCK_MONOTONIC_RAW``, by its age now; None for an age
    that is negative or over a second (``CLOCK_REALTIME`` was stepped in between).

    The age is read on ``CLOCK_REALTIME`` between two raw readings; a process preempted in
    between would pair the two clocks milliseconds apart, so the tightest of ``tries`` is used."""
    best = None
    for _ in range(tries):
        before = time.clock_gettime_ns(_RAW)
        real_now = time.clock_gettime_ns(_REAL)
        after = time.clock_gettime_ns(_RAW)
        if best is None or after - before < best[0]:
            best = (after - before, (before + after) // 2, real_now)
        if after - before < 2_000:  # as tight as these reads get: no need to try again
            break
    _width, raw_now, real_now = best
    age = real_now - real_ns
    return raw_now - age if 0 <= age < 1_000_000_000 else None


class StampedSocket:
    """A UDP socket on 127.0.0.1 whose datagrams are stamped as well as this kernel allows."""

    tx_timeout_s = 0.002

    def __init__(self, port: int = 0, mode: str = "auto") -> None:
        if mode != "auto" and mode not in MODES:
            raise ClockConfigError(f"timestamps {mode!r}: auto or one of {', '.join(MODES)}")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind(("127.0.0.1", port))
            self.mode = self._enable(mode)
        except BaseException:
            self.sock.close()
            raise
        self._sent = 0  # datagrams sent since stamping was enabled (the kernel's OPT_ID count)
        self.tx_fallbacks = 0
        self._sink: socket.socket | None = None

    def _enable(self, mode: str) -> str:
        wanted = MODES if mode == "auto" else (mode,)
        for m in wanted:
            try:
                if m == "kernel":
                    self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, KERNEL_FLAGS)
                elif m == "rx":
                    self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                return m
            except OSError:
                continue
        raise ClockConfigError(f"timestamps {mode!r}: not supported by this kernel")

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
        self.sock.close()

    def warm_up(self) -> None:
        """Send one byte to a sink socket of our own and read it back: the next datagram then
        takes the kernel's path as one sent right after a receive does."""
        if self._sink is None:
            self._sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sink.bind(("127.0.0.1", 0))
            self._sink.setblocking(False)
        self.send(b"\0", self._sink.getsockname())
        with contextlib.suppress(BlockingIOError):  # not there yet: it goes with the sink
            self._sink.recv(16)

    def send(self, data: bytes, addr: tuple) -> int:
        """Send one datagram; its departure stamp on ``CLOCK_MONOTONIC_RAW``."""
        user = time.clock_gettime_ns(_RAW)  # the packet leaves the program now
        self.sock.sendto(data, addr)
        if self.mode != "kernel":
            return user
        number, self._sent = self._sent, (self._sent + 1) & 0xFFFFFFFF
        stamp = self._tx_stamp(number)
        if stamp is None:
            self.tx_fallbacks += 1
            return user
        return stamp

    def _tx_stamp(self, number: int) -> int | None:
        """The kernel's transmit stamp of datagram ``number`` from the error queue (older ones
        are dropped), or None after ``tx_timeout_s``."""
        deadline = time.monotonic() + self.tx_timeout_s
        while True:
            try:
                _data, anc, _flags, _addr = self.sock.recvmsg(
                    0, _ANC, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return None
                continue
            report = tx_report(anc)
            if report is not None and report[0] == number:
                return realtime_to_raw(report[1])  # None (a stepped clock): the fallback

    def receive(self) -> tuple[bytes, tuple, int] | None:
        """(datagram, sender, arrival stamp on ``CLOCK_MONOTONIC_RAW``), or None if only stale
        error-queue entries were waiting."""
        try:
            data, anc, _flags, addr = self.sock.recvmsg(2048, _ANC, socket.MSG_DONTWAIT)
        except BlockingIOError:
            self._drain()
            return None
        kind = SO_TIMESTAMPING if self.mode == "kernel" else SO_TIMESTAMPNS
        for level, k, payload in anc:
            if level == socket.SOL_SOCKET and k == kind:
                stamp = software_stamp(payload)
                raw = realtime_to_raw(stamp) if stamp is not None else None
                if raw is not None:
                    return data, addr, raw
        return data, addr, time.clock_gettime_ns(_RAW)

    def _drain(self) -> None:
        while True:
            try:
                self.sock.recvmsg(0, _ANC, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
