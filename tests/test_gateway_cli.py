"""The gateway's command lines: config errors exit 2 naming the key, SIGHUP reload under load."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labsupport.http.client import RawClient

PY = sys.executable


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "labsupport.gateway", *args], capture_output=True,
                          text=True, timeout=60)


def _spawn(args: list[str], pattern: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([PY, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    m = re.search(pattern, line)
    if not m:
        proc.kill()
        raise AssertionError(f"no ready line: {line!r} {proc.stderr.read()}")
    return proc, int(m.group(1))


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _config(path: Path, port: int) -> None:
    path.write_text(f'[listen]\nport = 0\n[[upstream]]\nname = "u"\nservers = ["127.0.0.1:{port}"]\n'
                    '[[route]]\nprefix = "/"\nupstream = "u"\n')


def test_config_error_exits_2_naming_file_and_key(tmp_path):
    bad = tmp_path / "gw.toml"
    bad.write_text('[[upstream]]\nname = "u"\nservers = ["127.0.0.1:1"]\nbalance = "dice"\n'
                   '[[route]]\nprefix = "/"\nupstream = "u"\n')
    res = _cli("--config", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"python -m labsupport.gateway: error: {bad}: upstream[0].balance: 'dice' is not one "
        "of round_robin, least_conn, p2c, hash"]


def test_missing_config_and_bad_flag_exit_2(tmp_path):
    res = _cli("--config", str(tmp_path / "none.toml"))
    assert res.returncode == 2 and "none.toml: No such file or directory" in res.stderr
    res = _cli("--config", "x", "--port", "eighty")
    assert res.returncode == 2 and "--port" in res.stderr and len(res.stderr.splitlines()) == 1
    res = subprocess.run([PY, "-m", "labsupport.gateway.backend", "--name", "a",
                          "--error-rate", "2"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--error-rate" in res.stderr


def test_check_flag_accepts_a_good_config(tmp_path):
    path = tmp_path / "gw.toml"
    _config(path, 9)
    res = _cli("--config", str(path), "--check")
    assert res.returncode == 0 and "1 upstreams, 1 routes" in res.stdout


@pytest.mark.slow
def test_sighup_reload_under_load_fails_no_request(tmp_path):
    ready = r"listening on 127\.0\.0\.1:(\d+)"
    b0, p0 = _spawn(["labsupport.gateway.backend", "--name", "old", "--port", "0"], ready)
    b1, p1 = _spawn(["labsupport.gateway.backend", "--name", "new", "--port", "0"], ready)
    path = tmp_path / "gw.toml"
    _config(path, p0)
    gw, port = _spawn(["labsupport.gateway", "--config", str(path), "--port", "0"], ready)
    statuses: list[int] = []
    names: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with RawClient(port) as c:  # one keep-alive connection held across the reload
            while not stop.is_set():
                c.send(b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n")
                r = c.read()
                statuses.append(r.status)
                names.append(r.headers.get("x-backend", ""))

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        _config(path, p1)
        os.kill(gw.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not names or names[-1] != "new"):
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        for p in (gw, b0, b1):
            _stop(p)
    assert statuses and set(statuses) == {200}, set(statuses)
    assert names[0] == "old" and names[-1] == "new"
