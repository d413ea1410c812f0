"""The exchange in containers (host networking), traded by a FIX client: run only where a
Docker daemon answers; skipped with the reason otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from labsupport.exchange.client import FixClient

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker" / "exchange" / "compose.yaml"


def _docker_ready() -> str:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    res = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker daemon answers `docker info` ({tail})"
    return ""


def _run(image: str, run_dir: Path, *args: str) -> str:
    """One service container, as compose.yaml defines it: host network, the shared volume."""
    res = subprocess.run(["docker", "run", "-d", "--network", "host", "--user", str(os.getuid()),
                          "-v", f"{run_dir}:/run/labx", image, *args], capture_output=True,
                         text=True, check=True)
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
    why = _docker_ready()
    if why:
        pytest.skip(f"container test skipped: {why}")
    subprocess.run([str(ROOT / "docker" / "exchange" / "build-base-image.sh")], check=True)
    subprocess.run([str(ROOT / "docker" / "exchange" / "fetch-wheels.sh")], check=True)
    build = subprocess.run(["docker", "build", "--network", "host", "-f",
                            "docker/exchange/Dockerfile", "-t", "labx-exchange", "."], cwd=ROOT,
                           capture_output=True, text=True)
    if build.returncode != 0:
        errors = [line for line in build.stdout.splitlines() if "ERROR" in line] or ["?"]
        pytest.skip(f"container test skipped: the image does not build here: {errors[0].strip()}")
    subprocess.run(["docker", "run", "--rm", "--network", "host", "--user", str(os.getuid()),
                    "-v", f"{tmp_path}:/run/labx", "labx-exchange", "plan", "--dir", "/run/labx",
                    "--symbols", "AAPL"], check=True, capture_output=True)
    containers = []
    try:
        for role in ("md", "dropcopy", "match-0", "risk", "gateway"):
            containers.append(_run("labx-exchange", tmp_path, "serve", role, "--dir", "/run/labx"))
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
            subprocess.run(["docker", "rm", "-f", *containers], capture_output=True)
