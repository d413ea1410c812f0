"""The fault proxy as a process under the supervisor, reconfigured by its control commands."""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labsupport.faults import READY_LINE, ControlClient, ControlError, proxy_service
from labsupport.measure import free_port
from labsupport.services import ServiceSpec, Supervisor

CLI = [sys.executable, "-m", "labsupport.faults"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    echo = ServiceSpec.python("echo", "labsupport.services.demo", "echo", "--port", "{port}",
                              port="auto")
    proxy = proxy_service("proxy", "{host}:{echo.port}", "--direction", "downstream",
                          "--latency-ms", "25", "--seed", "3", depends_on=("echo",))
    with Supervisor([echo, proxy], run_dir=tmp_path_factory.mktemp("faults")) as sup:
        m = re.search(READY_LINE, sup.logs("proxy"))
        assert m is not None
        yield sup, int(m.group("control"))


def median_rtt_ms(port: int, n: int = 9) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rwb")
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            f.write(b"tick %d\n" % i)
            f.flush()
            assert f.readline() == b"tick %d\n" % i
            samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def test_proxy_process_adds_its_latency_and_obeys_set(system) -> None:
    sup, control = system
    assert median_rtt_ms(sup.port("proxy")) >= 25
    res = run("set", "--control", str(control), "--direction", "downstream", "latency_ms=0",
              "jitter_ms=0")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["downstream"]["latency_ms"] == 0
    assert median_rtt_ms(sup.port("proxy")) < 25 + 200  # does not hang
    res = run("stats", "--control", str(control))
    assert res.returncode == 0
    stats = dict(line.split() for line in res.stdout.splitlines())
    assert int(stats["connections_accepted"]) >= 2
    assert int(stats["upstream_bytes_forwarded"]) == int(stats["downstream_bytes_forwarded"])


def test_refuse_through_the_command_line(system) -> None:
    sup, control = system
    assert run("set", "--control", str(control), "--refuse", "on").returncode == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sup.port("proxy")), timeout=5)
    assert run("clear", "--control", str(control)).stdout.strip() == "all faults off"
    assert median_rtt_ms(sup.port("proxy"), 1) >= 0


@pytest.mark.parametrize("setting, message", [
    ("bogus=1", "unknown fault setting(s) bogus"),
    ("latency_ms=abc", "latency_ms: 'abc' is not a number"),
    ("latency_ms", "is not NAME=VALUE"),
    ("drop_probability=2", "drop_probability must be in [0, 1]"),
])
def test_bad_settings_are_one_line_exit_2(system, setting: str, message: str) -> None:
    _, control = system
    res = run("set", "--control", str(control), setting)
    assert res.returncode == 2 and message in res.stderr and res.stderr.count("\n") == 1


def test_control_protocol_answers_bad_requests(system) -> None:
    _, control = system
    with ControlClient(control) as client:
        for bad, message in ((b"not json", "not JSON"), (b"[1]", "a request is a JSON object"),
                             (b'{"op": "explode"}', "unknown op 'explode'")):
            client._file.write(bad + b"\n")
            client._file.flush()
            reply = json.loads(client._file.readline())
            assert reply["ok"] is False and message in reply["error"]
        with pytest.raises(ControlError, match="changes must be an object"):
            client.request({"op": "set", "changes": [1]})
        assert client.get()["refuse"] is False


def test_non_loopback_upstream_and_missing_control_are_input_errors(tmp_path: Path) -> None:
    res = run("proxy", "--upstream", "10.1.2.3:80")
    assert res.returncode == 2 and "not a loopback address" in res.stderr
    res = run("stats", "--control", str(free_port()))
    assert res.returncode == 2 and "no fault proxy control on 127.0.0.1:" in res.stderr
    res = run("proxy", "--upstream", "nohostport")
    assert res.returncode == 2 and "is not HOST:PORT" in res.stderr
