"""Processes and ports: start a server in the background, wait for it, stop it for sure.

Every lab that serves something (HTTP, RESP, RPC) and every peer it is compared with (uvicorn,
redis-server) runs as a child process started by :class:`BackgroundProcess`: in its own process
group (so stopping it also stops its workers), optionally pinned to one CPU (so a load generator
on the other CPU does not steal its cycles), with its output in a log file under ``build/logs``.
Used as a context manager it is stopped on the way out, also when the body raises.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .paths import build_dir

_counter = itertools.count()


class ProcessError(RuntimeError):
    """Raised when a background process exits early or never opens its port."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS says is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    """Block until ``host:port`` accepts a TCP connection; raise TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepted connections on {host}:{port} "
                                   f"within {timeout_s:.1f} s ({exc})") from None
            time.sleep(0.02)


def pin_to_cpu(cpu: int | Sequence[int], pid: int = 0) -> bool:
    """Restrict ``pid`` (0: this process) to the given CPU(s). False where the OS cannot."""
    cpus = {cpu} if isinstance(cpu, int) else set(cpu)
    try:
        available = os.sched_getaffinity(0)
        cpus &= available
        if not cpus:
            return False
        os.sched_setaffinity(pid, cpus)
        return True
    except (AttributeError, OSError):
        return False


def find_peer(name: str) -> str | None:
    """Path of an executable on PATH, or the module name if it is importable; else None."""
    path = shutil.which(name)
    if path:
        return path
    try:
        if importlib.util.find_spec(name) is not None:
            return name
    except (ImportError, ValueError):
        pass
    return None


class BackgroundProcess:
    """A child process that serves on a TCP port, started and stopped reliably.

    >>> with BackgroundProcess([sys.executable, "-m", "http.server", str(port)], port=port) as p:
    ...     ...  # talk to 127.0.0.1:port
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        cpu: int | Sequence[int] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        ready_timeout_s: float = 15.0,
        name: str | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.port = port
        self.host = host
        self.cpu = cpu
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.ready_timeout_s = ready_timeout_s
        self.name = name or Path(self.argv[0]).name
        self.proc: subprocess.Popen[bytes] | None = None
        log_dir = build_dir() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}-{os.getpid()}-{next(_counter)}.log"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> BackgroundProcess:
        if self.proc is not None:
            raise ProcessError(f"{self.name} already started")
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the child, closed after wait
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, start_new_session=True,
            )
        finally:
            log.close()
        if self.cpu is not None:
            pin_to_cpu(self.cpu, self.proc.pid)
        if self.port is not None:
            try:
                self._wait_ready()
            except BaseException:
                self.stop()
                raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None and self.port is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise ProcessError(
                    f"{self.name} exited with status {self.proc.returncode} before listening on "
                    f"{self.host}:{self.port}; its output:\n{self.log_text()[-2000:]}"
                )
            with contextlib.suppress(OSError), socket.create_connection(
                (self.host, self.port), timeout=0.2
            ):
                return
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"{self.name} did not listen on {self.host}:{self.port} within "
                    f"{self.ready_timeout_s:.0f} s; its output:\n{self.log_text()[-2000:]}"
                )
            time.sleep(0.02)

    def _signal_group(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``timeout_s``; return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        self._signal_group(signal.SIGKILL)  # stragglers of the group, if any
        return self.proc.returncode

    def kill9(self) -> int:
        """Kill the process group at once (SIGKILL), as a crash would; return the exit status."""
        if self.proc is None:
            raise ProcessError(f"{self.name} was never started")
        self._signal_group(signal.SIGKILL)
        return self.proc.wait()

    # -- introspection ---------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ProcessError(f"{self.name} was never started")
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (all threads), from /proc.

        Server CPU per request barely moves when a neighbour steals the core, unlike req/s, so
        the labs compare servers by it. None where /proc is not available or the process is gone.
        """
        if self.proc is None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # the name may contain spaces
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> BackgroundProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self.proc is None else (
            "running" if self.proc.poll() is None else f"exited {self.proc.returncode}")
        where = f" on {self.host}:{self.port}" if self.port else ""
        return f"<BackgroundProcess {self.name}{where}: {state}>"
