"""The command line (the labsupport.cli convention): help, bad options, a bad --dir, a port in
use and a damaged AOF exit 2 with one line; a real server reachable by redis-cli."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest

from labsupport.kv.launch import kv_process


def _run(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "labsupport.kv", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_help_names_redis_options():
    out = _run("--help")
    assert out.returncode == 0
    for opt in ("--port", "--dir", "--appendonly", "--appendfsync", "--replicaof"):
        assert opt in out.stdout


PROG = "python -m labsupport.kv"


@pytest.mark.parametrize(("args", "line"), [
    (["--appendonly", "maybe"], f"{PROG}: error: argument --appendonly: expected yes or no, "
                                f"got 'maybe' (see {PROG} --help)"),
    (["--port", "sixty"], f"{PROG}: error: argument --port: invalid int value: 'sixty' "
                          f"(see {PROG} --help)"),
    (["--replicaof", "h", "p"], f"{PROG}: error: --replicaof: port must be an integer, "
                                f"got 'p' (see {PROG} --help)"),
    (["--port", "0", "--dir", "/dev/null/kv"], f"{PROG}: error: /dev/null/kv: Not a directory"),
])
def test_bad_argument_or_dir_exits_2_with_one_line(args, line):
    out = _run(*args)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [line]


def test_port_in_use_exits_2_naming_the_address(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = _run("--port", str(port), "--dir", str(tmp_path))
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"{PROG}: error: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in line


def test_damaged_aof_is_one_line_error(tmp_path):
    (tmp_path / "appendonly.aof").write_bytes(b"*1\r\n$4\r\nPING\r\ngarbage")
    out = _run("--port", "0", "--dir", str(tmp_path), "--appendonly", "yes")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"{PROG}: error: appendonly.aof: Protocol error: expected '*', got 'g' at offset 14; "
        "the file is damaged before its tail"]


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")
def test_redis_cli_talks_to_the_server(tmp_path):
    with kv_process(str(tmp_path), appendonly=True) as srv:
        cli = ["redis-cli", "-p", str(srv.port)]
        assert subprocess.run([*cli, "SET", "k", "v w"], capture_output=True, text=True,
                              timeout=10).stdout.strip() == "OK"
        assert subprocess.run([*cli, "GET", "k"], capture_output=True, text=True,
                              timeout=10).stdout.strip() == "v w"
        info = subprocess.run([*cli, "INFO", "replication"], capture_output=True, text=True,
                              timeout=10).stdout
        assert "role:master" in info
