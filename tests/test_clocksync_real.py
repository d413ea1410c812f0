"""PTP-lite for real: a master and slaves as processes over UDP on 127.0.0.1."""

from __future__ import annotations

import csv
import select
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labsupport.clocksync import stamps
from labsupport.clocksync.errors import ClockConfigError
from labsupport.clocksync.real import RealStats, parse_hostport, run_slave

MODULE = [sys.executable, "-m", "labsupport.clocksync"]


@pytest.fixture
def master() -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen([*MODULE, "master", "--port", "0", "--duration-s", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), (line, proc.stderr.read())
        assert proc.stdout.readline().split()[-1] in stamps.MODES
        yield parse_hostport(line.split()[-1])
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _rows(path: Path) -> list[dict[str, float]]:
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)
                if not row["t_s"].startswith("#")]


def test_slave_process_converges_from_1_ms_and_50_ppm(master, tmp_path: Path) -> None:
    out = tmp_path / "slave.csv"
    proc = subprocess.run([*MODULE, "slave", "--master", f"{master[0]}:{master[1]}", "--ppm",
                           "50", "--offset-ns", "1000000", "--duration-s", "8", "--out",
                           str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    assert len(rows) > 60  # 16 Hz for 8 s, minus what a busy machine drops
    assert abs(rows[0]["true_offset_ns"]) > 900_000
    tail = [r["true_offset_ns"] for r in rows if r["t_s"] > 5]
    print("true offset after 5 s: mean", statistics.mean(tail), "sd", statistics.pstdev(tail))
    assert max(abs(x) for x in tail) < 100_000  # within RTS 25, from 1 ms away
    freq = rows[-1]["freq_adj_ppb"]
    assert -60_000 < freq < -40_000  # it found the 50 ppm it was started with
    assert "# MiFID II RTS 25" in proc.stdout
    assert "# timestamps: kernel" in proc.stdout or "# timestamps: rx" in proc.stdout


def test_an_in_process_slave_syncs_after_a_stray_datagram_reached_the_master(master) -> None:
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk.sendto(b"\x00\x02garbage", master)
    junk.close()
    rows = run_slave(master, ppm=-30.0, offset_ns=-500_000, duration_s=4.0)
    assert len(rows) > 30
    tail = [r.true_offset_ns for r in rows if r.t_s > 2.5]
    assert tail and max(abs(x) for x in tail) < 100_000


def test_parse_hostport_accepts_only_loopback() -> None:
    assert parse_hostport("127.0.0.1:319") == ("127.0.0.1", 319)
    for bad in ("10.0.0.1:319", "127.0.0.1", "127.0.0.1:0", "host:319"):
        with pytest.raises(ValueError):
            parse_hostport(bad)


def test_software_stamp_takes_the_first_of_scm_timestampings_three_timespecs() -> None:
    ns = 1_700_000_000 * 1_000_000_000 + 123_456_789
    three = struct.pack("@6q", 1_700_000_000, 123_456_789, 0, 0, 5, 6)
    assert stamps.software_stamp(three) == ns
    assert stamps.software_stamp(struct.pack("@qq", 1_700_000_000, 123_456_789)) == ns
    assert stamps.software_stamp(bytes(48)) is None  # hardware only: no software stamp
    assert stamps.software_stamp(three[:12]) is None
    assert stamps.software_stamp(struct.pack("@qq", 1, 1_000_000_000)) is None


def _ee(origin: int, info: int, number: int) -> bytes:  # struct sock_extended_err + an address
    return struct.pack("@IBBBBII", 42, origin, 0, 0, 0, info, number) + bytes(16)


def test_tx_report_pairs_the_stamp_with_its_datagram_number() -> None:
    stamp = (socket.SOL_SOCKET, stamps.SO_TIMESTAMPING, struct.pack("@6q", 10, 5, 0, 0, 0, 0))
    record = (socket.IPPROTO_IP, stamps.IP_RECVERR, _ee(stamps.SO_EE_ORIGIN_TIMESTAMPING, 0, 7))
    assert stamps.tx_report([stamp, record]) == (7, 10_000_000_005)
    assert stamps.tx_report([record, stamp]) == (7, 10_000_000_005)
    icmp = (socket.IPPROTO_IP, stamps.IP_RECVERR, _ee(2, 0, 7))  # an ICMP error, not a stamp
    acked = (socket.IPPROTO_IP, stamps.IP_RECVERR, _ee(4, 2, 7))  # SCM_TSTAMP_ACK, not sent
    for anc in ([stamp, icmp], [stamp, acked], [record], [stamp], []):
        assert stamps.tx_report(anc) is None


def test_kernel_stamps_of_one_datagram_bracket_the_send_and_the_receive() -> None:
    a, b = stamps.StampedSocket(), stamps.StampedSocket()
    try:
        if a.mode != "kernel":
            pytest.skip(f"SO_TIMESTAMPING not granted here (mode {a.mode})")
        for i in range(6):
            if i % 2:
                a.warm_up()  # its own datagram's stamp must not be taken for the next one's
            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)
            tx = a.send(b"ping", ("127.0.0.1", b.port))
            after = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)
            select.select([b], [], [], 5.0)
            got = b.receive()
            done = time.clock_gettime_ns(time.CLOCK_MONOTONIC_RAW)
            assert got is not None and got[0] == b"ping"
            # converted from CLOCK_REALTIME: allow the conversion a few µs either way
            assert before - 5_000 <= tx <= after + 5_000
            assert tx - 5_000 <= got[2] <= done + 5_000
        assert a.tx_fallbacks == 0
    finally:
        a.close()
        b.close()


def test_a_timestamping_mode_not_offered_is_a_config_error() -> None:
    with pytest.raises(ClockConfigError):
        stamps.StampedSocket(mode="hardware")


def test_program_side_transmit_stamps_run_as_the_fallback(master) -> None:
    stats = RealStats()
    rows = run_slave(master, ppm=10.0, offset_ns=200_000, duration_s=2.5, timestamps="rx",
                     stats=stats)
    assert stats.timestamps == "rx" and stats.tx_fallbacks == 0
    assert len(rows) > 15 and stats.sent > len(rows)
