"""A MoldUDP64 feed written as a pcap file, and tcpreplay replaying it into our receiver.

What it mirrors: the usual way a recorded feed is replayed on a test network, a capture file
and ``tcpreplay``. The packets are the same MoldUDP64 datagrams :class:`~.sinks.UdpSink` sends,
each wrapped in Ethernet (zero MAC addresses, as on the loopback), IPv4 (127.0.0.1 to
127.0.0.1, header checksum computed) and UDP (checksum 0: "not computed", allowed on IPv4)
headers, stamped with the message schedule in a classic microsecond pcap (magic 0xa1b2c3d4).

:func:`tcpreplay_compare` needs the Debian ``tcpreplay`` binary and the right to inject on the
loopback (root or CAP_NET_RAW); without either it returns a line saying what was missing.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

from .receiver import FeedReceiver, listen, open_socket
from .sinks import MOLD_HEADER

__all__ = ["write_pcap", "mold_packets", "tcpreplay_compare"]

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path: str | Path, packets: list[tuple[int, bytes]], port: int) -> None:
    """``packets`` as (time in ns, UDP payload) to 127.0.0.1:``port``, one pcap record each."""
    lo = bytes([127, 0, 0, 1])
    out = bytearray(_PCAP_HEADER)
    for i, (t_ns, payload) in enumerate(packets):
        udp = struct.pack(">HHHH", 40000, port, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x4000, 64, 17, 0, lo, lo)
        ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
        frame = bytes(12) + b"\x08\x00" + ip + udp
        out += struct.pack("<IIII", t_ns // 10**9, t_ns % 10**9 // 1000, len(frame), len(frame)) + frame
    Path(path).write_bytes(out)


def mold_packets(n: int, gap_ns: int, session: str = "PCAP") -> list[tuple[int, bytes]]:
    """``n`` one-message MoldUDP64 packets (Order Delete messages) ``gap_ns`` apart."""
    from ..protocols.itch.encode import encode

    base = 34_200 * 10**9
    out = []
    for i in range(n):
        ts = base + i * gap_ns
        msg = encode("D", stock_locate=1, timestamp=ts, order_reference_number=i + 1)
        out.append((ts, MOLD_HEADER.pack(session.encode().ljust(10), i + 1, 1) + len(msg).to_bytes(2, "big") + msg))
    return out


def tcpreplay_compare(n: int = 2_000, gap_ns: int = 100_000) -> str:
    """Replay ``n`` packets ``gap_ns`` apart with tcpreplay on ``lo``; the receiver's summary, or why not."""
    exe = shutil.which("tcpreplay")
    if exe is None:
        return "tcpreplay skipped: not installed (Debian package tcpreplay)"
    sock, kernel = open_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    rec = FeedReceiver(keep=False)
    thread = threading.Thread(target=listen, args=(sock, rec), kwargs={"kernel": kernel, "count": n,
                                                                     "idle_timeout_s": 2}, daemon=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "feed.pcap"
            write_pcap(path, mold_packets(n, gap_ns), port)
            thread.start()
            done = subprocess.run([exe, "-i", "lo", "-q", str(path)], capture_output=True, text=True, timeout=120)
            thread.join(timeout=10)
    finally:
        sock.close()
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"tcpreplay skipped: it failed here (exit {done.returncode}: {last[0]})"
    if not rec.messages and not len(rec.ts):
        return "tcpreplay skipped: its packets did not reach a socket on this loopback"
    s = rec.summary()
    return f"tcpreplay, {n} packets {gap_ns / 1e3:.0f} µs apart, as received:\n  " + "\n  ".join(s.lines())
