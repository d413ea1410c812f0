"""PTP-lite for real: a master and slaves as processes over UDP on 127.0.0.1."""

from __future__ import annotations

import csv
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from labsupport.clocksync.real import parse_hostport, run_slave

MODULE = [sys.executable, "-m", "labsupport.clocksync"]


@pytest.fixture
def master() -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen([*MODULE, "master", "--port", "0", "--duration-s", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), (line, proc.stderr.read())
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
