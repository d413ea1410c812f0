"""A Docker daemon for the labs' container tests: the machine's if one answers, else a private one.

What it mirrors: what a CI runner does before a container job (start ``dockerd``, wait for
``docker info``, stop it after), with the two settings these machines need: no bridge network
and no iptables rules (``--bridge=none --iptables=false``), so containers use host networking
only and nothing of the host's firewall is touched.

Theory of operation. :func:`docker_daemon` first asks ``docker info`` with the environment as
it is: a daemon that answers is used and left alone. Otherwise it starts Debian's ``dockerd``
(package ``docker.io``; it needs root) as a :class:`~labsupport.measure.BackgroundProcess` in its
own process group: its socket and run state in a fresh short directory (a unix socket path is
limited to 108 bytes), its images under ``build/docker/`` so a second run reuses what the first
built. It is ready when ``docker info`` answers on that socket; the returned
:class:`DockerDaemon` carries the ``DOCKER_HOST`` to give every ``docker`` command, and stopping
it sends SIGTERM (dockerd stops its containers and its own containerd) and removes the socket
directory. A daemon that cannot be had raises :class:`DockerUnavailable` saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from labsupport.measure.paths import build_dir
from labsupport.measure.procs import BackgroundProcess, ProcessError

from .spec import ServiceError


class DockerUnavailable(ServiceError):
    """No Docker daemon answers and none can be started here; the message says why."""


def _info(env: dict[str, str]) -> tuple[bool, str]:
    """Whether ``docker info`` answers with ``env``, and the last line it printed if not."""
    try:
        res = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                             capture_output=True, text=True, timeout=20, env=env)
    except subprocess.TimeoutExpired:
        return False, "docker info did not answer within 20 s"
    tail = (res.stderr.strip().splitlines() or ["no answer"])[-1]
    return res.returncode == 0, tail


def _unmount_under(root: Path) -> None:
    """Unmount whatever is mounted below ``root``, deepest first."""
    prefix = str(root) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


class DockerDaemon:
    """A daemon the caller may use: ``env`` for subprocesses, ``stop()`` (or ``with``) after."""

    def __init__(self, env: dict[str, str], proc: BackgroundProcess | None = None,
                 sock_dir: Path | None = None) -> None:
        self.env = env
        self.proc = proc  # None: the machine's own daemon, which is left running
        self.sock_dir = sock_dir

    @property
    def started_here(self) -> bool:
        return self.proc is not None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout_s=30)
            self.proc = None
        if self.sock_dir is not None:
            _unmount_under(self.sock_dir)  # dockerd leaves its default netns bind-mounted
            shutil.rmtree(self.sock_dir, ignore_errors=True)
            self.sock_dir = None

    def __enter__(self) -> DockerDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def docker_daemon(*, data_root: str | os.PathLike[str] | None = None,
                  ready_timeout_s: float = 90.0) -> DockerDaemon:
    """The machine's daemon if it answers, else a private ``dockerd`` started for the caller."""
    if shutil.which("docker") is None:
        raise DockerUnavailable("no docker client on PATH (Debian package docker.io)")
    env = dict(os.environ)
    ok, why = _info(env)
    if ok:
        return DockerDaemon(env)
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/sbin")
    if dockerd is None:
        raise DockerUnavailable(f"no Docker daemon answers ({why}) and dockerd is not "
                                "installed (Debian package docker.io)")
    if os.geteuid() != 0:
        raise DockerUnavailable(f"no Docker daemon answers ({why}) and dockerd needs root")
    data = Path(data_root) if data_root is not None else build_dir() / "docker" / "data"
    data.mkdir(parents=True, exist_ok=True)
    sock_dir = Path(tempfile.mkdtemp(prefix="labdk-"))
    env["DOCKER_HOST"] = f"unix://{sock_dir / 'docker.sock'}"
    proc = BackgroundProcess(
        [dockerd, "--bridge=none", "--iptables=false", "--host", env["DOCKER_HOST"],
         "--data-root", str(data), "--exec-root", str(sock_dir / "exec"),
         "--pidfile", str(sock_dir / "dockerd.pid")],
        name="dockerd", ready=lambda: _info(env)[0], ready_timeout_s=ready_timeout_s)
    try:
        proc.start()
    except ProcessError as exc:
        shutil.rmtree(sock_dir, ignore_errors=True)
        raise DockerUnavailable(f"dockerd did not start: {exc}") from None
    return DockerDaemon(env, proc, sock_dir)
