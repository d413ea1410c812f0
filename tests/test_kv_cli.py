"""The command line: help, option errors in one line, a real server reachable by redis-cli."""

from __future__ import annotations

import shutil
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


def test_bad_option_value_exits_nonzero():
    out = _run("--appendonly", "maybe")
    assert out.returncode != 0 and "expected yes or no" in out.stderr


def test_damaged_aof_is_one_line_error(tmp_path):
    (tmp_path / "appendonly.aof").write_bytes(b"*1\r\n$4\r\nPING\r\ngarbage")
    out = _run("--port", "0", "--dir", str(tmp_path), "--appendonly", "yes")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "kv: error: appendonly.aof: Protocol error: expected '*', got 'g' at offset 14; "
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
