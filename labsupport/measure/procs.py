"""Processes and ports: start a server in the background, wait for it, stop it for sure.

Every lab that serves something (HTTP, RESP, RPC) and every peer it is compared with (uvicorn,
redis-server) runs as a child process started by :class:`BackgroundProcess`: in its own process
group (so stopping it also stops its workers), optionally pinned to one CPU (so a load generator
on the other CPU does not steal its cycles), with its output in a log file under ``build/logs``.
Used as a context manager it is stopped on the way out, also when the body raises.

Readiness is "accepts a TCP connection on ``port``" by default, or any callable given as
``ready`` (``labsupport.services`` passes its probes: a line in the log, an HTTP health call).
Faults for the fault labs act on the whole group: :meth:`BackgroundProcess.send_signal`,
:meth:`~BackgroundProcess.pause` / :meth:`~BackgroundProcess.resume` (SIGSTOP / SIGCONT) and
:meth:`~BackgroundProcess.kill9`. A stopped (paused) group is continued after SIGTERM so that
:meth:`~BackgroundProcess.stop` never waits on a process that cannot run its handler.
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import MeasureError
from .paths import build_dir

_counter = itertools.count()


class ProcessError(MeasureError, RuntimeError):
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


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``, from /proc.

    Where /proc is missing, ``[pgid]`` if the group still has a member (a zombie counts), else [].
    """
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # state, ppid, pgrp, ...
        except OSError:
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


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
        ready: Callable[[], bool] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        append_log: bool = False,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.port = port
        self.host = host
        self.cpu = cpu
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.ready_timeout_s = ready_timeout_s
        self.name = name or Path(self.argv[0]).name
        self.ready = ready
        self.append_log = append_log
        self.proc: subprocess.Popen[bytes] | None = None
        if log_path is None:
            log_dir = build_dir() / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = log_dir / f"{self.name}-{os.getpid()}-{next(_counter)}.log"
        else:
            self.log_path = Path(log_path)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = 0  # where this run's output starts in the log (appended logs)
        self.ready_deadline = 0.0  # monotonic time by which it must be ready (set at start)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, wait_ready: bool = True) -> BackgroundProcess:
        """Start the child; unless ``wait_ready`` is false, wait until it is ready (or raise)."""
        if self.proc is not None:
            raise ProcessError(f"{self.name} already started")
        log = open(self.log_path, "ab" if self.append_log else "wb")  # noqa: SIM115 - the child's
        self.log_offset = log.tell()
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, start_new_session=True,
            )
        finally:
            log.close()
        self.ready_deadline = time.monotonic() + self.ready_timeout_s
        if self.cpu is not None:
            pin_to_cpu(self.cpu, self.proc.pid)
        if wait_ready and (self.port is not None or self.ready is not None):
            try:
                self.wait_ready()
            except BaseException:
                self.stop()
                raise
        return self

    def is_ready(self) -> bool:
        """One readiness check, without waiting: the ``ready`` callable, else a TCP connect."""
        if self.ready is not None:
            return self.ready()
        assert self.port is not None
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def wait_ready(self) -> None:
        """Block until :meth:`is_ready`; :class:`ProcessError` with the log tail if it exits or
        the timeout passes first (counted from the start)."""
        while not self.poll_ready():
            time.sleep(0.02)

    def poll_ready(self) -> bool:
        """One step of :meth:`wait_ready`: true once ready, false while still starting;
        :class:`ProcessError` if it exited first or its ``ready_timeout_s`` has passed."""
        assert self.proc is not None
        what = ("ready" if self.ready is not None
                else f"listening on {self.host}:{self.port}")
        exited = self.proc.poll() is not None
        if self.is_ready():  # checked first: a short job may print its line and exit
            return True
        if exited:
            raise ProcessError(
                f"{self.name} exited with status {self.proc.returncode} before "
                f"{what}; its output:\n{self.log_tail()}"
            )
        if time.monotonic() > self.ready_deadline:
            verb = "was not ready" if self.ready is not None else "did not listen on"
            where = "" if self.ready is not None else f" {self.host}:{self.port}"
            raise ProcessError(
                f"{self.name} {verb}{where} within {self.ready_timeout_s:.0f} s; "
                f"its output:\n{self.log_tail()}"
            )
        return False

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
            self._signal_group(signal.SIGCONT)  # a paused group runs its SIGTERM handler
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        self._signal_group(signal.SIGKILL)  # stragglers of the group, if any
        # kill() returns before the kernel has torn its targets down: wait until no member of
        # the group is left running, so "stopped" means gone (grandchildren included).
        deadline = time.monotonic() + 2.0
        while group_members(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.proc.returncode

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (the child and anything it started)."""
        if self.proc is None:
            raise ProcessError(f"{self.name} was never started")
        self._signal_group(sig)

    def pause(self) -> None:
        """Freeze the group (SIGSTOP): it holds its sockets but answers nothing, as a GC pause."""
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Continue a paused group (SIGCONT)."""
        self.send_signal(signal.SIGCONT)

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
        """This run's output so far (from :attr:`log_offset`, so earlier runs are left out)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, n_chars: int = 2000) -> str:
        """The last ``n_chars`` of this run's output, for error messages."""
        return self.log_text()[-n_chars:]

    def __enter__(self) -> BackgroundProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self.proc is None else (
            "running" if self.proc.poll() is None else f"exited {self.proc.returncode}")
        where = f" on {self.host}:{self.port}" if self.port else ""
        return f"<BackgroundProcess {self.name}{where}: {state}>"
