"""The frame's Docker daemon helper: the reasons it gives when no daemon can be had. (The
container test of the exchange lab uses it for real, starting a private dockerd.)"""

from __future__ import annotations

import pytest

from labsupport.services import dockerd


def test_no_client_names_the_package(monkeypatch) -> None:
    monkeypatch.setattr(dockerd.shutil, "which", lambda *a, **k: None)
    with pytest.raises(dockerd.DockerUnavailable, match="no docker client.*docker.io"):
        dockerd.docker_daemon()


def test_a_daemon_that_answers_is_used_and_left_alone(monkeypatch) -> None:
    monkeypatch.setattr(dockerd.shutil, "which", lambda *a, **k: "/usr/bin/docker")
    monkeypatch.setattr(dockerd, "_info", lambda env: (True, ""))
    d = dockerd.docker_daemon()
    assert not d.started_here and d.proc is None
    d.stop()  # nothing to stop


@pytest.mark.parametrize(("dockerd_path", "euid", "message"), [
    (None, 0, r"no Docker daemon answers \(refused\) and dockerd is not installed"),
    ("/usr/sbin/dockerd", 1000, r"no Docker daemon answers \(refused\) and dockerd needs root"),
])
def test_reasons_when_none_can_be_started(monkeypatch, dockerd_path, euid, message) -> None:
    monkeypatch.setattr(dockerd.shutil, "which",
                        lambda prog, **k: "/usr/bin/docker" if prog == "docker" else dockerd_path)
    monkeypatch.setattr(dockerd, "_info", lambda env: (False, "refused"))
    monkeypatch.setattr(dockerd.os, "geteuid", lambda: euid)
    with pytest.raises(dockerd.DockerUnavailable, match=message):
        dockerd.docker_daemon()
