"""Running the exchange: ``up``, ``down`` and ``status`` over a run directory.

``up`` fixes every address first (``DIR/wiring.json``: each service's ZeroMQ input, its RPC
port, the FIX, L2 and UDP feed ports, all free loopback ports chosen by the OS), writes
``DIR/ports.json`` (``fix``, ``md_zmq``, ``md_udp``, ``rpc`` and the RPC port of each
service), then starts the services with the frame's :class:`~labsupport.services.Supervisor`
in dependency order, in parallel where nothing orders them (market data, drop copy and the
matchers at once, then risk, then the gateway), each stage ready (``ready`` on its output)
before the next, logs under ``DIR/logs``. A matcher that dies is
restarted by the supervisor (``on-failure``) and rebuilds its books from its journal.

``up`` then waits in the foreground until SIGTERM (what ``down`` sends it, using
``DIR/exchange.pid``), stops every service (SIGTERM to each process group, SIGKILL after a
grace period) and removes the pid file. ``down`` also kills the process groups named in the
supervisor's ``state.json`` if ``up`` itself was killed, so nothing is left either way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from labsupport.services import LineProbe, RestartPolicy, ServiceSpec

from .matching import DEFAULT_ENGINE, ENGINES
from .node import roles
from .services import DEFAULT_LIMITS
from .session import ExchangeError

__all__ = ["Cluster", "down", "plan", "status", "up"]

PID_FILE = "exchange.pid"


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plan(run_dir: Path, symbols: list[str], matchers: int, mode: str = "services",
         limits: str = DEFAULT_LIMITS, faults: dict[str, dict] | None = None,
         engine: str = DEFAULT_ENGINE) -> tuple[dict[str, Any], list[ServiceSpec]]:
    """Write ``wiring.json`` and ``ports.json``; return the wiring and the service specs.
    ``engine`` is the matchers' engine (:data:`.matching.ENGINES`).
    ``faults`` injects failures for tests and demonstrations, by service: ``{"match-0":
    {"kill_after_journal": N}}`` makes that matcher kill itself with SIGKILL once input N is
    journaled and before its outputs are published."""
    if matchers < 1 or matchers > len(symbols):
        raise ExchangeError(f"--matchers {matchers}: must be between 1 and the number of "
                            f"symbols ({len(symbols)})")
    if len(set(symbols)) != len(symbols) or not all(s.isalnum() and len(s) <= 8 for s in symbols):
        raise ExchangeError(f"--symbols {','.join(symbols)}: distinct names of 1-8 letters or digits")
    if engine not in ENGINES:
        raise ExchangeError(f"--engine {engine}: not one of {', '.join(ENGINES)}")
    wiring: dict[str, Any] = {"symbols": symbols, "matchers": matchers, "mode": mode,
                              "engine": engine,
                              "limits": limits, "fix": _tcp_port(), "md_zmq": _tcp_port(),
                              "md_udp": _udp_port(), "faults": faults or {}}
    names = roles(wiring)
    wiring["ports"] = {n.replace("match-", "match."): _tcp_port() for n in names}
    wiring["rpc"] = {n: _tcp_port() for n in names}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "wiring.json").write_text(json.dumps(wiring, indent=1), encoding="utf-8")
    ports = {"fix": wiring["fix"], "md_zmq": wiring["md_zmq"], "md_udp": wiring["md_udp"],
             "rpc": wiring["rpc"]["md"],
             "services": wiring["rpc"] if mode == "services" else {"monolith": wiring["rpc"]["md"]}}
    (run_dir / "ports.json").write_text(json.dumps(ports, indent=1), encoding="utf-8")
    cmd = ("serve", "--dir", str(run_dir))
    ready = LineProbe(r"^ready")
    if mode == "monolith":
        return wiring, [ServiceSpec.python("monolith", "labsupport.exchange", *cmd[:1], "monolith",
                                           *cmd[1:], ready=ready, stop_grace_s=5.0)]
    matchers_ = tuple(n for n in names if n.startswith("match-"))
    needs = {"risk": matchers_, "gateway": ("md", "dropcopy", "risk")}  # what each one feeds
    specs = []
    for name in names:
        restart = RestartPolicy("on-failure", max_restarts=5) if name.startswith("match-") \
            else RestartPolicy()
        specs.append(ServiceSpec.python(name, "labsupport.exchange", "serve", name, *cmd[1:],
                                        ready=ready, depends_on=needs.get(name, ()),
                                        restart=restart, stop_grace_s=5.0))
    return wiring, specs


def up(run_dir: Path, symbols: list[str], matchers: int = 1, mode: str = "services",
       *, stop: threading.Event | None = None, limits: str = DEFAULT_LIMITS,
       engine: str = DEFAULT_ENGINE) -> int:
    """Start the exchange and wait until SIGTERM (or ``stop`` is set); then stop it all."""
    from labsupport.services import Supervisor

    run_dir = run_dir.resolve()
    pid_file = run_dir / PID_FILE
    if pid_file.exists() and _alive(int(pid_file.read_text() or 0)):
        raise ExchangeError(f"{pid_file}: an exchange is already running in this directory")
    _wiring, specs = plan(run_dir, symbols, matchers, mode, limits, engine=engine)
    stop = stop or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) \
        if threading.current_thread() is threading.main_thread() else None
    sup = Supervisor(specs, run_dir=run_dir, name="exchange", parallel=True)
    try:
        sup.start()
        pid_file.write_text(str(os.getpid()), encoding="utf-8")
        print(f"exchange up: {(run_dir / 'ports.json').read_text(encoding='utf-8')}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sup.stop()
        pid_file.unlink(missing_ok=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _alive(pid: int) -> bool:
    from labsupport.services.state import pid_alive
    return pid_alive(pid)


def _service_pids(run_dir: Path) -> list[int]:
    from labsupport.services import RunDirError, read_state
    try:
        doc = read_state(run_dir)
    except RunDirError:  # nothing was ever started here
        return []
    return [r["pid"] for r in doc.get("services", []) if r.get("pid")]


def down(run_dir: Path, timeout_s: float = 20.0) -> int:
    """Stop the exchange running in ``run_dir``; returns the number of processes stopped."""
    pid_file = run_dir / PID_FILE
    if not pid_file.exists():
        raise ExchangeError(f"{pid_file}: no exchange is running in {run_dir} (no pid file)")
    pid = int(pid_file.read_text(encoding="utf-8") or 0)
    stopped = 0
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        stopped += 1
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    for spid in _service_pids(run_dir):  # `up` killed hard: its services' groups remain
        if _alive(spid):
            try:
                os.killpg(spid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            stopped += 1
    pid_file.unlink(missing_ok=True)
    return stopped


def status(run_dir: Path) -> list[dict[str, Any]]:
    """One row per service: supervisor state, pid, restarts, and its RPC Status summary."""
    from labsupport.rpc.threaded import BlockingChannel
    from labsupport.services import read_state

    from .control import PATH

    doc = read_state(run_dir)
    ports = json.loads((run_dir / "ports.json").read_text(encoding="utf-8"))
    rows = []
    for r in doc.get("services", []):
        row = {k: r.get(k) for k in ("service", "state", "pid", "restarts")}
        port = ports["services"].get(r["service"])
        if port and r.get("state") == "running":
            with BlockingChannel("127.0.0.1", port) as ch:
                row["status"] = ch.unary(PATH + "Status", {}, timeout=2.0)["parts"]
        rows.append(row)
    return rows


class Cluster:
    """The services of ``up`` as processes under the frame's
    :class:`~labsupport.services.Supervisor` (the same specs, started in parallel in
    dependency order), for the tests, the benchmark and the notebook. Restarts are the
    caller's (:meth:`kill`, :meth:`restart`), so a run decides when a killed service comes
    back. A context manager: leaving it stops every process group."""

    def __init__(self, run_dir: Path, symbols: list[str], matchers: int = 1, *,
                 mode: str = "services", limits: str = DEFAULT_LIMITS,
                 ready_timeout_s: float = 90.0, remove: Path | None = None,
                 faults: dict[str, dict] | None = None, engine: str = DEFAULT_ENGINE) -> None:
        from labsupport.services import Supervisor

        self.remove = remove  # a directory to delete on close (a temporary run directory)
        self.run_dir = run_dir.resolve()
        self.mode = mode
        _wiring, specs = plan(self.run_dir, symbols, matchers, mode, limits, faults, engine)
        specs = [replace(s, restart=RestartPolicy(), ready_timeout_s=ready_timeout_s)
                 for s in specs]
        self.names = [s.name for s in specs]
        self.supervisor = Supervisor(specs, run_dir=self.run_dir, name="exchange", parallel=True)
        try:
            self.supervisor.start()
        except BaseException:
            self.close()
            raise
        self.ports = json.loads((self.run_dir / "ports.json").read_text(encoding="utf-8"))

    def pids(self) -> dict[str, int]:
        """The process id of each service's current run."""
        return {name: self.supervisor.pid(name) for name in self.names}

    def alive(self, name: str) -> bool:
        """True while service ``name`` has not exited (running, starting or stopped by a signal)."""
        return self.supervisor.row(name)["state"] in ("starting", "running", "unhealthy")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the service's process group; after SIGKILL, wait until it is gone."""
        self.supervisor.kill(name, sig)
        if sig == signal.SIGKILL:
            self.supervisor.wait_state(name, ("failed", "exited"))

    def restart(self, name: str) -> None:
        """Start service ``name`` again (after :meth:`kill`, or after it died) and wait until
        it is ready."""
        self.supervisor.restart(name, wait=True)

    def close(self) -> None:
        self.supervisor.stop()
        if self.remove is not None:
            import shutil

            shutil.rmtree(self.remove, ignore_errors=True)
            self.remove = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
