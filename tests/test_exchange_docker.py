"""The exchange in containers (host networking), traded by a FIX client: on the machine's Docker
daemon, or on one the test starts itself (Debian's docker.io, as root, no bridge, no iptables);
skipped with the reason where neither can be had."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from labsupport.exchange.client import FixClient
from labsupport.services.dockerd import DockerUnavailable, docker_daemon

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker" / "exchange" / "compose.yaml"


def _run(env: dict[str, str], image: str, run_dir: Path, *args: str) -> str:
    """One service container, as compose.yaml defines it: host network, the shared volume."""
    res = subprocess.run(["docker", "run", "-d", "--network", "host", "--user", str(os.getuid()),
                          "-v", f"{run_dir}:/run/labx", image, *args], capture_output=True,
                         text=True, check=True, env=env)
    return res.stdout.strip()


def test_dockerfile_and_compose_use_the_required_base_and_host_network() -> None:
    dockerfile = (ROOT / "docker" / "exchange" / "Dockerfile").read_text()
    froms = [line for line in dockerfile.splitlines() if line.startswith("FROM")]
    assert froms == ["FROM python:3.11-slim"]
    # the build installs from the wheels in its context only: no index, no network
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and all("--no-index --find-links" in line for line in installs)
    assert "!build/docker-wheels" in (ROOT / ".dockerignore").read_text()
    compose = COMPOSE.read_text()
    assert compose.count("network_mode: host") == 1 and "networks:" not in compose  # one anchor
    for role in ("md", "dropcopy", "match-0", "risk", "gateway"):
        assert f'["serve", "{role}"' in compose


@pytest.mark.timeout(1800)
def test_containers_trade_with_a_fix_client(tmp_path) -> None:
    try:
        daemon = docker_daemon()
    except DockerUnavailable as exc:
        pytest.skip(f"container test skipped: {exc}")
    with daemon:
        _trade_in_containers(daemon.env, tmp_path)


def _trade_in_containers(env: dict[str, str], tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "docker" / "exchange" / "build-base-image.sh")], check=True,
                   env=env)
    subprocess.run([str(ROOT / "docker" / "exchange" / "fetch-wheels.sh")], check=True, env=env)
    build = subprocess.run(["docker", "build", "--network", "host", "-f",
                            "docker/exchange/Dockerfile", "-t", "labx-exchange", "."], cwd=ROOT,
                           capture_output=True, text=True, env=env)
    assert build.returncode == 0, f"the image does not build: {build.stdout[-2000:]}" \
                                  f"{build.stderr[-2000:]}"
    subprocess.run(["docker", "run", "--rm", "--network", "host", "--user", str(os.getuid()),
                    "-v", f"{tmp_path}:/run/labx", "labx-exchange", "plan", "--dir", "/run/labx",
                    "--symbols", "AAPL"], check=True, capture_output=True, env=env)
    containers = []
    try:
        for role in ("md", "dropcopy", "match-0", "risk", "gateway"):
            containers.append(_run(env, "labx-exchange", tmp_path, "serve", role,
                                   "--dir", "/run/labx"))
        ports = json.loads((tmp_path / "ports.json").read_text())
        deadline = time.monotonic() + 120
        while True:
            try:
                c = FixClient("127.0.0.1", ports["fix"], "DOCK", timeout_s=15)
                break
            except OSError:
                assert time.monotonic() < deadline, "the gateway container never listened"
                time.sleep(1)
        c.logon()
        c.new_order("d1", "AAPL", "2", 10, "10.00")
        c.new_order("d2", "AAPL", "1", 4, "10.00")
        reps = c.reports(4)
        assert sorted(m[150] for m in reps) == ["0", "0", "F", "F"]
        c.logout()
    finally:
        if containers:
            subprocess.run(["docker", "rm", "-f", *containers], capture_output=True, env=env)
