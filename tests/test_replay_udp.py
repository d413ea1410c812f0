"""Lab 09 network sinks and the receiver, over 127.0.0.1 with OS-assigned ports.

MoldUDP64 packets sent by :class:`UdpSink` and decoded by Lab 13's parser (inside
:class:`FeedReceiver`) give back exactly the file's messages in order with no gaps, for several
speeds and packet sizes; a dropped packet is reported as the gap of exactly its sequence
numbers; the ZeroMQ PUB sink reaches a SUB socket; the ``listen`` command works from outside.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from labsupport.measure.paths import REPO_DIR
from labsupport.protocols.itch import iter_tuples, parse_moldudp64
from labsupport.replay import (
    FakeClock,
    FeedReceiver,
    ItchSource,
    Replayer,
    SinkError,
    UdpSink,
    ZmqSink,
    listen,
    open_socket,
    ordered,
    parse_address,
)

SAMPLE = REPO_DIR / "data" / "protocols" / "sample_day.itch"


class DroppingSocket:
    """A UDP socket that silently loses the datagrams numbered in ``drop`` (0-based)."""

    def __init__(self, drop: set[int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.drop, self.n = drop, 0

    def sendto(self, data: bytes, addr) -> int:
        self.n += 1
        if self.n - 1 in self.drop:
            return len(data)
        return self.sock.sendto(data, addr)

    def close(self) -> None:
        self.sock.close()


def _send_file(port: int, *, speed: float, max_packet: int, sock=None) -> UdpSink:
    clock = FakeClock(read_cost_ns=1_000)  # the schedule is kept on a fake clock: no sleeping
    sink = UdpSink("127.0.0.1", port, max_packet=max_packet, clock=clock, sock=sock, session="TEST01")
    Replayer(ordered(ItchSource(SAMPLE, raw=True), "clamp"), sink, speed=speed, clock=clock,
             freeze_gc=False, batch_window_ns=5_000).run()
    sink.close()
    return sink


@pytest.mark.parametrize("max_packet", [80, 512, 1400, 9000])
@pytest.mark.parametrize("speed", [0, 1, 50])
def test_moldudp64_round_trip_gives_the_files_messages_in_order(speed, max_packet) -> None:
    sock, kernel = open_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    try:
        sink = _send_file(port, speed=speed, max_packet=max_packet)
        rec = listen(sock, FeedReceiver(speed=speed or 1), kernel=kernel, idle_timeout_s=5)
    finally:
        sock.close()
    want = list(iter_tuples(SAMPLE.read_bytes()))
    assert rec.messages == want
    s = rec.summary()
    assert s.gaps == [] and s.duplicates == 0 and s.errors == {} and s.end_of_session
    assert rec.packets == sink.packets + 1 and sink.next_seq == len(want) + 1
    assert rec.seq.session == "TEST01"
    if max_packet == 80:
        assert sink.packets > len(want) // 2  # small packets: one or two messages each


def test_packets_respect_the_size_limit_and_count_their_messages() -> None:
    sent = []

    class Capture:
        def sendto(self, data, addr):
            sent.append(data)

        def close(self):
            pass

    clock = FakeClock()
    sink = UdpSink("127.0.0.1", 9, max_packet=200, clock=clock, sock=Capture())
    Replayer(list(ItchSource(SAMPLE, raw=True))[:500], sink, speed=0, clock=clock, freeze_gc=False).run()
    assert all(len(p) <= 200 for p in sent)
    seq = 1
    for p in sent:
        pkt = parse_moldudp64(p)
        assert pkt.sequence_number == seq
        seq += pkt.message_count
    assert seq == 501
    with pytest.raises(SinkError):
        UdpSink("127.0.0.1", 9, max_packet=20, sock=Capture())


def test_the_receiver_detects_a_dropped_packet() -> None:
    sock, kernel = open_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sent = []

    class Recording(DroppingSocket):
        def sendto(self, data, addr):
            sent.append(data)
            return super().sendto(data, addr)

    try:
        _send_file(port, speed=0, max_packet=300, sock=Recording({5}))
        rec = listen(sock, FeedReceiver(), kernel=kernel, idle_timeout_s=5)
    finally:
        sock.close()
    lost = parse_moldudp64(sent[5])
    first, last = lost.sequence_number, lost.sequence_number + lost.message_count - 1
    s = rec.summary()
    assert s.gaps == [(first, last)] and s.missing == lost.message_count
    want = list(iter_tuples(SAMPLE.read_bytes()))
    assert rec.messages == want[: first - 1] + want[last:]
    assert any(f"gap: sequence {first}..{last}" in line for line in s.lines())


def test_a_bad_packet_is_counted_not_fatal() -> None:
    rec = FeedReceiver()
    rec.feed(b"short", 1)
    rec.feed(b"SESSION   " + (1).to_bytes(8, "big") + (2).to_bytes(2, "big") + b"\x00\x01", 2)
    assert rec.packets == 2 and sum(rec.errors.values()) == 2 and rec.messages == []
    assert any("MoldUDP64Error" in k for k in rec.errors)


def test_zmq_pub_sink_reaches_a_subscriber() -> None:
    zmq = pytest.importorskip("zmq")
    sink = ZmqSink("tcp://127.0.0.1:*", topic=b"itch")
    sub = zmq.Context.instance().socket(zmq.SUB)
    try:
        sub.connect(sink.endpoint)
        sub.setsockopt(zmq.SUBSCRIBE, b"itch")
        events = list(ItchSource(SAMPLE, raw=True))[:200]
        # PUB drops what is sent before the subscription lands: probe until one arrives.
        deadline = time.monotonic() + 10
        while not sub.poll(50):
            sink.sock.send_multipart([b"itch", b"probe"])
            assert time.monotonic() < deadline, "subscriber never connected"
        while sub.poll(50):
            sub.recv_multipart()
        Replayer(events, sink, speed=0, freeze_gc=False).run()
        got = []
        while len(got) < 200 and sub.poll(5_000):
            got.append(sub.recv_multipart())
        assert [g[1] for g in got] == [m for _, m in events] and all(g[0] == b"itch" for g in got)
        assert len(sink.log) == 200
    finally:
        sub.close(linger=0)
        sink.close()


def test_parse_address_names_what_is_wrong() -> None:
    assert parse_address("udp://127.0.0.1:5000") == ("127.0.0.1", 5000)
    for bad in ("127.0.0.1:5000", "udp://127.0.0.1", "udp://:5", "udp://h:99999"):
        with pytest.raises(SinkError, match="HOST:PORT"):
            parse_address(bad)


def test_listen_command_receives_a_replay_from_another_process() -> None:
    lis = subprocess.Popen([sys.executable, "-m", "labsupport.replay", "listen", "udp://127.0.0.1:0",
                            "--idle-timeout", "20", "--speed", "1000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_DIR)
    try:
        line = lis.stderr.readline()
        assert line.startswith("listening on udp://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        send = subprocess.run([sys.executable, "-m", "labsupport.replay", str(SAMPLE), "--to",
                               f"udp://127.0.0.1:{port}", "--speed", "1000", "--start", "09:30:00",
                               "--quiet"], capture_output=True, text=True, timeout=120, cwd=REPO_DIR)
        assert send.returncode == 0, send.stderr
        assert "3075 messages" in send.stdout and "udp:" in send.stdout
        out, err = lis.communicate(timeout=60)
    finally:
        if lis.poll() is None:
            lis.kill()
            lis.wait()
    assert lis.returncode == 0, err
    assert "messages 3075, gaps 0" in out and "end of session seen" in out
    assert "arrival error vs schedule" in out


def test_pcap_file_holds_valid_ipv4_udp_frames_of_the_moldudp64_packets(tmp_path) -> None:
    import struct

    from labsupport.replay.pcap import _checksum, mold_packets, write_pcap

    packets = mold_packets(5, 100_000)
    write_pcap(tmp_path / "f.pcap", packets, 4242)
    data = (tmp_path / "f.pcap").read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    pos, got = 24, []
    while pos < len(data):
        sec, usec, n, _ = struct.unpack_from("<IIII", data, pos)
        frame_ = data[pos + 16:pos + 16 + n]
        ip = frame_[14:34]
        assert frame_[12:14] == b"\x08\x00" and _checksum(ip) == 0  # a valid header sums to 0xffff
        assert struct.unpack_from(">H", frame_, 36)[0] == 4242
        got.append((sec * 10**9 + usec * 1000, frame_[42:]))
        pos += 16 + n
    assert got == packets
    assert [parse_moldudp64(p).sequence_number for _, p in got] == [1, 2, 3, 4, 5]


@pytest.mark.timeout(120)
def test_tcpreplay_replays_the_pcap_across_a_veth_pair_into_the_receiver() -> None:
    import shutil

    from labsupport.measure import netns
    from labsupport.replay.pcap import tcpreplay_compare

    text = tcpreplay_compare(50, 10_000)
    if shutil.which("tcpreplay") is None or netns.unavailable():
        assert text.startswith("tcpreplay skipped:"), text
        pytest.skip(text)
    assert "messages 50, gaps 0" in text, text  # every packet arrived, in order
    tag = f"rp{os.getpid() % 100000}"
    assert not netns.exists(f"{tag}a") and not netns.exists(f"{tag}b")  # both deleted again


@pytest.mark.timeout(60)
def test_veth_pair_joins_two_namespaces_and_leaves_none_behind() -> None:
    from labsupport.measure import netns

    if netns.unavailable():
        pytest.skip(netns.unavailable())
    with netns.VethPair("vt") as pair:
        names = (pair.a.netns, pair.b.netns)
        assert all(netns.exists(n) for n in names) and len(pair.a.mac) == 6
        rx = subprocess.Popen(pair.argv(pair.b, [sys.executable, "-c", (
            "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            f"s.bind(('{pair.b.ip}', 40002)); print('up', flush=True); s.settimeout(20); "
            "print(s.recv(64).decode(), flush=True)")]), stdout=subprocess.PIPE, text=True)
        assert rx.stdout.readline().strip() == "up"
        subprocess.run(pair.argv(pair.a, [sys.executable, "-c", (
            "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
            f".sendto(b'across', ('{pair.b.ip}', 40002))")]), check=True, timeout=30)
        assert rx.communicate(timeout=30)[0].strip() == "across"
    assert not any(netns.exists(n) for n in names)


def test_multicast_group_on_the_loopback() -> None:
    sock, kernel = open_socket("239.9.9.9", 0)  # joined on 127.0.0.1; the sender's TTL is 0
    port = sock.getsockname()[1]
    try:
        sink = UdpSink("239.9.9.9", port)
        events = list(ItchSource(SAMPLE, raw=True))[:300]
        Replayer(events, sink, speed=0, freeze_gc=False).run()
        sink.close()
        rec = listen(sock, FeedReceiver(), kernel=kernel, idle_timeout_s=5)
    finally:
        sock.close()
    assert rec.messages == list(iter_tuples(SAMPLE.read_bytes()))[:300] and rec.summary().gaps == []
