"""The supervisor's TOML spec and its command line, driven from other processes as a shell would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labsupport.services import ECHO_PAIR, LineProbe, SpecError, TcpProbe, load_spec, parse_spec
from labsupport.services.state import pid_alive

CLI = [sys.executable, "-m", "labsupport.services"]


def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


# -- the TOML form ---------------------------------------------------------------------------
def test_example_spec_parses() -> None:
    system = load_spec(ECHO_PAIR)
    assert system.name == "echo-pair" and [s.name for s in system.services] == ["echo", "front"]
    echo, front = system.services
    assert echo.command[:3] == ("{python}", "-m", "labsupport.services.demo")
    assert echo.port == "auto" and echo.ready == TcpProbe()
    assert front.depends_on == ("echo",) and isinstance(front.ready, LineProbe)
    assert front.health is not None and front.health.failures == 3
    assert front.restart.mode == "on-failure"


@pytest.mark.parametrize("doc, message", [
    ({}, "no \\[services.NAME\\] tables"),
    ({"services": {"a": {"command": ["x"]}}, "extra": 1}, "unknown top-level key"),
    ({"services": {"a": {}}}, "service a: exactly one of module, command, entry"),
    ({"services": {"a": {"command": "x"}}}, "service a: field command must be a list"),
    ({"services": {"a": {"command": ["x"], "colour": "red"}}}, "service a: unknown key.*colour"),
    ({"services": {"a": {"command": ["x"], "port": 80}}}, "service a: field port: .*never fixed"),
    ({"services": {"a": {"command": ["x"], "ready": {"smoke": 1}}}},
     "service a: field ready: one of tcp"),
    ({"services": {"a": {"command": ["x"], "restart": {"policy": "sometimes"}}}},
     "service a: restart policy 'sometimes'"),
    ({"services": {"a": {"command": ["x"], "depends_on": ["b"]}}}, "no service named 'b'"),
    ({"services": {"a": {"entry": "not an entry"}}}, "is not 'package.module:function'"),
    ({"services": {"a": {"command": ["x"], "ready": {"line": "("}}}}, "bad regex"),
])
def test_bad_specs_name_the_service_and_field(doc, message) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(doc, where="sys.toml")


def test_bad_spec_on_the_command_line_is_one_line_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('[services.web]\ncommand = ["x"]\nport = 8080\n')
    res = run("--run-dir", str(tmp_path / "run"), "up", str(spec))
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and "bad.toml: service web: field port" in res.stderr
    spec.write_text("[services.web\n")
    res = run("--run-dir", str(tmp_path / "run"), "up", str(spec))
    assert res.returncode == 2 and "bad.toml" in res.stderr and "line 1" in res.stderr


def test_status_of_an_empty_run_dir_is_an_input_error(tmp_path: Path) -> None:
    res = run("status", "--run-dir", str(tmp_path))
    assert res.returncode == 2 and "no supervised system was started" in res.stderr


# -- up / status / logs / down from separate processes ---------------------------------------
def test_up_detached_status_logs_down(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    res = run("--run-dir", str(run_dir), "up", str(ECHO_PAIR), "--detach")
    assert res.returncode == 0, res.stderr + res.stdout
    try:
        state = json.loads((run_dir / "state.json").read_text())
        rows = {r["service"]: r for r in state["services"]}
        assert state["state"] == "running" and set(rows) == {"echo", "front"}
        url = f"http://127.0.0.1:{rows['front']['port']}/echo/from-the-shell"
        assert urllib.request.urlopen(url, timeout=5).read() == b"from-the-shell\n"

        res = run("status", "--run-dir", str(run_dir))
        assert res.returncode == 0
        lines = res.stdout.splitlines()
        assert lines[0].split()[:3] == ["service", "state", "pid"]
        assert [ln.split()[:2] for ln in lines[1:3]] == [["echo", "running"], ["front", "running"]]
        assert "supervisor pid" in lines[-1] and "running" in lines[-1]

        res = run("logs", "front", "--run-dir", str(run_dir))
        assert res.returncode == 0 and "listening on 127.0.0.1:" in res.stdout
        res = run("logs", "nope", "--run-dir", str(run_dir))
        assert res.returncode == 2 and "services: echo, front" in res.stderr

        res = run("--run-dir", str(run_dir), "up", str(ECHO_PAIR), "--detach")
        assert res.returncode == 2 and "already running" in res.stderr
    finally:
        res = run("down", "--run-dir", str(run_dir))
    assert res.returncode == 0 and "is down" in res.stdout
    assert not pid_alive(state["supervisor_pid"])
    assert not any(pid_alive(r["pid"]) for r in rows.values())
    assert json.loads((run_dir / "state.json").read_text())["state"] == "stopped"


def test_foreground_up_stops_everything_on_sigterm(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "up", str(ECHO_PAIR), "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        state: dict = {}
        while time.monotonic() < deadline and state.get("state") != "running":
            time.sleep(0.1)
            if (run_dir / "state.json").exists():
                state = json.loads((run_dir / "state.json").read_text())
        assert state.get("state") == "running"
        pids = [r["pid"] for r in state["services"]]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "echo-pair is up" in out and "echo-pair stopped" in out
    assert not any(pid_alive(p) for p in pids)


def test_down_kills_services_by_pid_when_the_supervisor_is_gone(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    res = run("--run-dir", str(run_dir), "up", str(ECHO_PAIR), "--detach")
    assert res.returncode == 0, res.stderr
    state = json.loads((run_dir / "state.json").read_text())
    pids = [r["pid"] for r in state["services"]]
    try:
        import os
        os.kill(state["supervisor_pid"], signal.SIGKILL)  # the supervisor crashes
        deadline = time.monotonic() + 10
        while pid_alive(state["supervisor_pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        res = run("status", "--run-dir", str(run_dir))
        assert "not running" in res.stdout and "running?" in res.stdout
    finally:
        res = run("down", "--run-dir", str(run_dir))
    assert res.returncode == 0 and "2 killed by pid" in res.stdout
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in pids)
