"""A MoldUDP64 feed written as a pcap file, and tcpreplay replaying it into our receiver.

What it mirrors: the usual way a recorded feed is replayed on a test network, a capture file
and ``tcpreplay``. The packets are the same MoldUDP64 datagrams :class:`~.sinks.UdpSink` sends,
each wrapped in Ethernet, IPv4 (header checksum computed) and UDP (checksum 0: "not computed",
allowed on IPv4) headers, stamped with the message schedule in a classic microsecond pcap
(magic 0xa1b2c3d4).

tcpreplay injects whole frames through a packet socket, and frames injected on ``lo`` are not
delivered to this machine's own UDP sockets (tried: zero MAC addresses, 127.0.0.1 both ways;
they are counted as sent and never arrive). So :func:`tcpreplay_compare` replays across a veth
pair between two private network namespaces (:class:`labsupport.measure.netns.VethPair`):
tcpreplay on one end, ``python -m labsupport.replay listen`` on the other, the frames addressed
to that end's Ethernet and IP addresses. It needs the Debian ``tcpreplay`` binary, root and
``ip``; without one it returns a line saying what was missing.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from ..measure import netns
from .sinks import MOLD_HEADER

__all__ = ["write_pcap", "mold_packets", "tcpreplay_compare"]

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_pcap(path: str | Path, packets: list[tuple[int, bytes]], port: int, *,
               src: tuple[bytes, str] = (bytes(6), "127.0.0.1"),
               dst: tuple[bytes, str] = (bytes(6), "127.0.0.1")) -> None:
    """``packets`` as (time in ns, UDP payload) to ``dst``'s IP address and ``port``, one pcap
    record each; ``src`` and ``dst`` are (Ethernet address, IPv4 address)."""
    s_ip, d_ip = socket.inet_aton(src[1]), socket.inet_aton(dst[1])
    macs = dst[0] + src[0]
    out = bytearray(_PCAP_HEADER)
    for i, (t_ns, payload) in enumerate(packets):
        udp = struct.pack(">HHHH", 40000, port, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x4000, 64, 17, 0,
                         s_ip, d_ip)
        ip = ip[:10] + struct.pack(">H", _checksum(ip)) + ip[12:]
        frame = macs + b"\x08\x00" + ip + udp
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


def tcpreplay_compare(n: int = 2_000, gap_ns: int = 100_000, port: int = 40_001) -> str:
    """Replay ``n`` packets ``gap_ns`` apart with tcpreplay across a veth pair into our
    receiver; the receiver's summary, or a line saying why it was skipped."""
    exe = shutil.which("tcpreplay")
    if exe is None:
        return "tcpreplay skipped: not installed (Debian package tcpreplay)"
    reason = netns.unavailable()
    if reason:
        return f"tcpreplay skipped: {reason}"
    with tempfile.TemporaryDirectory() as tmp, netns.VethPair("rp") as pair:
        path = Path(tmp) / "feed.pcap"
        write_pcap(path, mold_packets(n, gap_ns), port, src=(pair.a.mac, pair.a.ip),
                   dst=(pair.b.mac, pair.b.ip))
        listener = subprocess.Popen(
            pair.argv(pair.b, [sys.executable, "-m", "labsupport.replay", "listen",
                               f"udp://{pair.b.ip}:{port}", "--count", str(n),
                               "--idle-timeout", "3"]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = listener.stderr.readline()  # "listening on udp://..."
            if not ready.startswith("listening"):
                return f"tcpreplay skipped: the receiver did not start ({ready.strip()})"
            done = subprocess.run(pair.argv(pair.a, [exe, "-i", pair.a.ifname, "-q", str(path)]),
                                  capture_output=True, text=True, timeout=120)
            out, _ = listener.communicate(timeout=60)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"tcpreplay skipped: it failed here (exit {done.returncode}: {last[0]})"
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines:
        return "tcpreplay skipped: the receiver printed no summary"
    return (f"tcpreplay, {n} packets {gap_ns / 1e3:.0f} µs apart across a veth pair, as received:\n  "
            + "\n  ".join(lines))
