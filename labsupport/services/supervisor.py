"""A small process supervisor: start a system in dependency order, watch it, stop it for sure.

What it mirrors: the parts of systemd, supervisord and docker-compose a lab needs. Every
service is a :class:`~labsupport.measure.BackgroundProcess` (its own process group, its output
appended to ``RUN_DIR/logs/NAME.log``), so stopping a service also stops whatever it started.

Theory of operation. :meth:`Supervisor.start` launches services one at a time in
:func:`~.spec.start_order`, waiting for each one's readiness probe before the next (so
``{NAME.port}`` of a dependency is known and it answers); a service that exits or is not ready
in time stops everything started so far and raises :class:`~.spec.ServiceStartError` ending
with its log tail. With ``parallel=True`` every service whose dependencies are ready is
launched at once and probed in turn, the same order guarantee at the cost of the slowest chain
rather than the sum. Then one monitor thread ticks every ``tick_s`` and moves each service
through this state machine (all transitions under one lock, so the public calls ``kill``,
``pause``, ``resume``, ``restart`` and ``stop`` from other threads see a consistent state;
``restart(name)`` starts a service again on request, whatever its policy)::

    starting --probe ok--> running --health fails N times--> unhealthy --(killed)--+
       |  ^                 |   ^ pause/resume v                                  |
       |  |                 |   +---------- paused                                |
       |  +--backoff over-- backoff <--exit, policy says restart------------------+
       +--not ready in time: killed, counts as an exit
    exit, policy says no: exited (status 0) | failed (otherwise);  stop(): stopped

:meth:`Supervisor.stop` stops services in reverse start order: SIGTERM to the group (SIGCONT
too, in case it is paused), SIGKILL after the service's ``stop_grace_s``, SIGKILL to any
straggler of the group. It runs on leaving the ``with`` block whatever the reason (an
exception, a failed test, KeyboardInterrupt) and, for a notebook kernel that exits with a
system still up, from an ``atexit`` hook. The state file (:mod:`.state`) is rewritten on every
change, so other processes can read the status.
"""

from __future__ import annotations

import atexit
import itertools
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labsupport.measure.paths import build_dir, display_path
from labsupport.measure.procs import BackgroundProcess, ProcessError, free_port

from .probes import check
from .spec import HOST, ServiceSpec, ServiceStartError, UnknownServiceError, expand, start_order
from .state import COLUMNS, write_state
from .tomlspec import SystemSpec, load_spec

_counter = itertools.count()
_live: weakref.WeakSet[Supervisor] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for sup in list(_live):
        sup.stop()


@dataclass(slots=True)
class Service:
    """The supervisor's record of one service (read it through :meth:`Supervisor.status`)."""

    spec: ServiceSpec
    log_path: Path
    log_shown: str  # display_path(log_path), computed once: it costs a millisecond
    state: str = "pending"
    proc: BackgroundProcess | None = None
    port: int | None = None
    restarts: int = 0
    consecutive: int = 0  # restarts since the last run that stayed up reset_after_s
    health_failures: int = 0  # consecutive failed health checks
    health_failures_total: int = 0
    last_exit: int | None = None
    started_at: float = 0.0
    ready_deadline: float = 0.0
    next_start_at: float = 0.0
    next_health_at: float = 0.0
    paused_from: str = ""
    history: list[str] = field(default_factory=list)


class Supervisor:
    """Start, watch and stop a system of services; a context manager.

    >>> with Supervisor([ServiceSpec.python("web", "http.server", "{port}", port="auto")]) as s:
    ...     s.port("web")
    """

    def __init__(self, services: SystemSpec | Iterable[ServiceSpec], *,
                 run_dir: str | os.PathLike[str] | None = None, name: str | None = None,
                 tick_s: float = 0.02, clock: Callable[[], float] = time.monotonic,
                 parallel: bool = False) -> None:
        if isinstance(services, SystemSpec):
            name = name or services.name
            services = services.services
        self.name = name or "system"
        self._order = start_order(services)
        self.run_dir = Path(run_dir) if run_dir is not None else (
            build_dir() / "services" / f"{self.name}-{os.getpid()}-{next(_counter)}")
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._services: dict[str, Service] = {}
        for s in self._order:
            log = self.run_dir / "logs" / f"{s.name}.log"
            self._services[s.name] = Service(s, log, display_path(log))
        self.tick_s = tick_s
        self.clock = clock
        self.parallel = parallel
        self.state = "created"
        self.events: list[tuple[float, str, str]] = []  # (seconds since start, service, what)
        self._t0 = clock()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._last_written: Any = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Supervisor:
        """Start every service in dependency order, each ready before the next (with
        ``parallel``, every service whose dependencies are ready at once); then watch."""
        if self.state != "created":
            raise ServiceStartError(f"system {self.name} was already started")
        self.state = "starting"
        _live.add(self)
        try:
            if self.parallel:
                self._start_parallel()
            else:
                for svc in self._services.values():
                    with self._lock:
                        self._launch(svc)
                    self._await_ready(svc, block=True)
        except BaseException:
            self.stop()
            raise
        self.state = "running"
        self._write_state(force=True)
        self._monitor = threading.Thread(target=self._watch, name=f"supervisor-{self.name}",
                                         daemon=True)
        self._monitor.start()
        return self

    def _start_parallel(self) -> None:
        """Launch every service whose dependencies are ready, all at once; as each becomes
        ready, launch those waiting on it. A failure stops the whole start (as in sequence)."""
        waiting = list(self._services.values())
        starting: list[Service] = []
        while waiting or starting:
            for svc in [w for w in waiting
                        if all(self._services[d].state == "running" for d in w.spec.depends_on)]:
                waiting.remove(svc)
                with self._lock:
                    self._launch(svc)
                starting.append(svc)
            if not starting:  # cannot happen: start_order rejected cycles and unknown names
                raise ServiceStartError(f"system {self.name}: nothing can start: "
                                        f"{[w.spec.name for w in waiting]}")
            for svc in [s for s in starting if self._await_ready(s, block=False)]:
                starting.remove(svc)
            if starting:
                time.sleep(0.02)

    def _await_ready(self, svc: Service, *, block: bool) -> bool:
        """Wait for (or, unblocked, check once) ``svc``'s readiness; mark it running when ready;
        a start that fails marks it failed and raises :class:`ServiceStartError`."""
        assert svc.proc is not None
        try:
            if block:
                svc.proc.wait_ready()
            elif not svc.proc.poll_ready():
                return False
        except ProcessError as exc:
            svc.state = "failed"
            self._event(svc, f"failed to start: {str(exc).splitlines()[0]}")
            raise ServiceStartError(f"system {self.name}: {exc}") from None
        with self._lock:
            self._became_ready(svc)
        return True

    def stop(self) -> None:
        """Stop every service in reverse start order (SIGTERM, SIGKILL after its grace)."""
        if self.state in ("stopped", "created"):
            return
        self.state = "stopping"
        self._stopping.set()
        if self._monitor is not None and self._monitor is not threading.current_thread():
            self._monitor.join()
        with self._lock:
            running = [s for s in reversed(self._services.values()) if s.proc is not None]
            try:
                for svc in running:
                    svc.last_exit = svc.proc.stop(svc.spec.stop_grace_s)  # type: ignore[union-attr]
                    svc.state = "stopped"
                    self._event(svc, f"stopped (status {svc.last_exit})")
            except BaseException:  # interrupted while stopping: no grace for the rest
                for svc in running:
                    if svc.proc is not None and svc.proc.returncode is None:
                        svc.proc.kill9()
                raise
            finally:
                self.state = "stopped"
                self._write_state(force=True)
                _live.discard(self)

    down = stop

    def __enter__(self) -> Supervisor:
        return self.start() if self.state == "created" else self  # `with up(...)` works too

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and control ----------------------------------------------------------------
    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the service's process group; its restart policy decides what next."""
        with self._lock:
            svc = self._running(name)
            self._event(svc, f"sent {signal.Signals(sig).name}")
            svc.proc.send_signal(sig)  # type: ignore[union-attr]

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Start ``name`` again now, whatever its restart policy: a running one is stopped
        first (SIGTERM, SIGKILL after its grace), a killed or failed one is launched on the same
        port. With ``wait``, returns once it is ready (:class:`ServiceStartError` if not)."""
        if self.state != "running":
            raise ServiceStartError(f"system {self.name} is {self.state}, not running")
        with self._lock:
            svc = self.service(name)
            if svc.proc is not None and svc.proc.proc is not None \
                    and svc.proc.proc.poll() is None:
                svc.last_exit = svc.proc.stop(svc.spec.stop_grace_s)
            elif svc.proc is not None:
                svc.last_exit = svc.proc.stop(0)  # reap an exit the monitor has not seen yet
            svc.restarts += 1
            self._event(svc, "restart requested")
            self._launch(svc)  # state "starting": the monitor probes it from here
        if wait:
            self.wait_state(name, ("running",), timeout_s=svc.spec.ready_timeout_s + 1.0)

    def wait_state(self, name: str, states: Iterable[str], timeout_s: float = 15.0) -> str:
        """Block until ``name`` is in one of ``states``; :class:`ServiceStartError` if it fails
        (or its start gives up) first, or the timeout passes."""
        wanted = set(states)
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.service(name).state
            if state in wanted:
                return state
            if state == "failed" or time.monotonic() > deadline:
                raise ServiceStartError(
                    f"service {name} is {state}, not {'/'.join(sorted(wanted))}; its log:\n"
                    f"{self.logs(name)}")
            time.sleep(self.tick_s)

    def pause(self, name: str) -> None:
        """SIGSTOP the service: it keeps its sockets and answers nothing (no health checks)."""
        with self._lock:
            svc = self._running(name)
            svc.proc.pause()  # type: ignore[union-attr]
            if svc.state != "paused":
                svc.paused_from, svc.state = svc.state, "paused"
            self._event(svc, "paused")

    def resume(self, name: str) -> None:
        """SIGCONT a paused service."""
        with self._lock:
            svc = self._running(name)
            svc.proc.resume()  # type: ignore[union-attr]
            if svc.state == "paused":
                svc.state = svc.paused_from or "running"
            self._event(svc, "resumed")

    def wait_for(self, name: str, predicate: Callable[[dict[str, Any]], bool],
                 timeout_s: float = 10.0) -> dict[str, Any]:
        """Block until ``predicate(row)`` holds for the service's status row; return the row."""
        deadline = time.monotonic() + timeout_s
        while True:
            row = self.row(name)
            if predicate(row):
                return row
            if time.monotonic() > deadline:
                raise TimeoutError(f"service {name}: condition not met within {timeout_s} s "
                                   f"(now {row})")
            time.sleep(self.tick_s)

    # -- introspection ---------------------------------------------------------------------
    def service(self, name: str) -> Service:
        try:
            return self._services[name]
        except KeyError:
            raise UnknownServiceError(f"no service named {name!r} in system {self.name} "
                                      f"(services: {', '.join(self._services)})") from None

    def port(self, name: str) -> int:
        """The port service ``name`` listens on (assigned, or read from its output)."""
        port = self.service(name).port
        if port is None:
            raise UnknownServiceError(f"service {name} has no port")
        return port

    def address(self, name: str) -> tuple[str, int]:
        return HOST, self.port(name)

    def pid(self, name: str) -> int:
        svc = self.service(name)
        if svc.proc is None:
            raise UnknownServiceError(f"service {name} was never started")
        return svc.proc.pid

    def log_path(self, name: str) -> Path:
        return self.service(name).log_path

    def logs(self, name: str, lines: int = 20) -> str:
        """The last ``lines`` lines of the service's log (all its runs)."""
        try:
            text = self.log_path(name).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def row(self, name: str) -> dict[str, Any]:
        with self._lock:
            svc = self.service(name)
            return {"service": name, "state": svc.state,
                    "pid": svc.proc.pid if svc.proc else None, "port": svc.port,
                    "restarts": svc.restarts, "health_failures": svc.health_failures_total,
                    "last_exit": svc.last_exit, "log": svc.log_shown}

    def status(self) -> list[dict[str, Any]]:
        """One row per service, in start order (the columns of :data:`~.state.COLUMNS`)."""
        return [self.row(n) for n in self._services]

    def status_frame(self, columns: Iterable[str] = (*COLUMNS[1:], "log")) -> Any:
        """:meth:`status` as a pandas DataFrame indexed by service."""
        import pandas as pd

        return pd.DataFrame(self.status()).set_index("service")[list(columns)]

    def __repr__(self) -> str:
        states = ", ".join(f"{n}={s.state}" for n, s in self._services.items())
        return f"<Supervisor {self.name}: {self.state}; {states}>"

    # -- internals -------------------------------------------------------------------------
    def _running(self, name: str) -> Service:
        svc = self.service(name)
        if svc.proc is None or svc.proc.returncode is not None:
            raise UnknownServiceError(f"service {name} is not running ({svc.state})")
        return svc

    def _event(self, svc: Service, what: str, at: float | None = None) -> None:
        t = self.clock() if at is None else at
        self.events.append((round(t - self._t0, 3), svc.spec.name, what))

    def _values(self, svc: Service) -> dict[str, str]:
        values = {"host": HOST, "python": sys.executable, "run_dir": str(self.run_dir),
                  "port": "" if svc.port is None else str(svc.port)}
        for other in self._services.values():
            if other.port is not None:
                values[f"{other.spec.name}.port"] = str(other.port)
        return values

    def _launch(self, svc: Service) -> None:
        """Start one run of ``svc`` without waiting (the caller or the monitor probes it)."""
        spec = svc.spec
        if spec.port == "auto" and svc.port is None:
            svc.port = free_port(HOST)  # kept across restarts, so clients can reconnect
        values = self._values(svc)
        argv = [expand(a, values, service=spec.name) for a in spec.command]
        env = {k: expand(v, values, service=spec.name) for k, v in spec.env.items()}
        env.setdefault("PYTHONUNBUFFERED", "1")  # so line probes and logs see output at once
        cwd = expand(spec.cwd, values, service=spec.name) if spec.cwd else None
        proc = BackgroundProcess(
            argv, host=HOST, cpu=spec.cpu, env=env, cwd=cwd, name=spec.name,
            ready_timeout_s=spec.ready_timeout_s, ready=lambda: self._probe_ready(svc),
            log_path=svc.log_path, append_log=True)
        try:
            proc.start(wait_ready=False)
        except OSError as exc:  # the program does not exist, or cannot be executed
            svc.state = "failed"
            svc.proc = None
            raise ServiceStartError(f"service {spec.name}: cannot run {argv[0]}: "
                                    f"{exc.strerror or exc}") from None
        svc.proc = proc
        svc.state = "starting"
        svc.started_at = self.clock()
        svc.ready_deadline = svc.started_at + spec.ready_timeout_s
        self._event(svc, f"started pid {svc.proc.pid}", at=svc.started_at)
        self._write_state()

    def _probe_ready(self, svc: Service) -> bool:
        if svc.spec.ready is None:
            return True
        assert svc.proc is not None
        res = check(svc.spec.ready, port=svc.port, log_text=svc.proc.log_text())
        if res.ok and res.port is not None:
            svc.port = res.port
        return res.ok

    def _became_ready(self, svc: Service) -> None:
        svc.state = "running"
        svc.health_failures = 0
        svc.next_health_at = self.clock() + (svc.spec.health.interval_s if svc.spec.health else 0)
        self._event(svc, "ready" + (f" on port {svc.port}" if svc.port else ""))
        self._write_state()

    def _watch(self) -> None:
        while not self._stopping.wait(self.tick_s):
            with self._lock:
                if self._stopping.is_set():
                    return
                for svc in self._services.values():
                    self._tick(svc, self.clock())
                self._write_state()

    def _tick(self, svc: Service, now: float) -> None:
        proc = svc.proc
        if proc is None or svc.state in ("exited", "failed", "stopped"):
            return
        if svc.state == "backoff":
            if now >= svc.next_start_at:
                try:
                    self._launch(svc)
                except ServiceStartError as exc:
                    self._event(svc, str(exc))
            return
        if proc.returncode is not None:
            self._exited(svc, now)
        elif svc.state == "starting":
            if self._probe_ready(svc):
                self._became_ready(svc)
            elif now > svc.ready_deadline:
                self._event(svc, f"not ready within {svc.spec.ready_timeout_s} s: killed")
                proc.kill9()
                self._exited(svc, now)
        elif svc.state in ("running", "unhealthy") and svc.spec.health is not None \
                and now >= svc.next_health_at:
            self._health_check(svc, now)

    def _health_check(self, svc: Service, now: float) -> None:
        health = svc.spec.health
        assert health is not None and svc.proc is not None
        svc.next_health_at = now + health.interval_s
        if check(health.probe, port=svc.port, log_text=svc.proc.log_text()).ok:
            svc.health_failures = 0
            if svc.state == "unhealthy":
                svc.state = "running"
                self._event(svc, "healthy again")
            return
        svc.health_failures += 1
        svc.health_failures_total += 1
        if svc.health_failures >= health.failures and svc.state != "unhealthy":
            svc.state = "unhealthy"
            self._event(svc, f"unhealthy after {svc.health_failures} failed checks")
            if svc.spec.restart.mode != "never":
                svc.proc.kill9()  # the next tick sees the exit and applies the policy

    def _exited(self, svc: Service, now: float) -> None:
        assert svc.proc is not None
        code = svc.proc.stop(0)  # reaps it, and SIGKILLs any straggler of its group
        now = self.clock()  # the backoff counts from here, when the exit is known and reaped
        svc.last_exit = code
        if now - svc.started_at >= svc.spec.restart.reset_after_s:
            svc.consecutive = 0
        policy = svc.spec.restart
        delay = policy.delay_s(code if code is not None else -1, svc.consecutive)
        if delay is None:
            wanted = policy.mode == "always" or (policy.mode == "on-failure" and code != 0)
            if wanted:  # the policy would restart it, but it has used up max_restarts
                svc.state = "failed"
                self._event(svc, f"exited with status {code}: gave up after "
                                 f"{svc.consecutive} restarts")
            else:
                svc.state = "exited" if code == 0 else "failed"
                self._event(svc, f"exited with status {code}: {svc.state}")
            return
        svc.consecutive += 1
        svc.restarts += 1
        svc.state = "backoff"
        svc.next_start_at = now + delay
        self._event(svc, f"exited with status {code}: restart in {delay:.2f} s", at=now)

    def _write_state(self, force: bool = False) -> None:
        rows = [self.row(n) for n in self._services]
        doc = {"system": self.name, "state": self.state, "supervisor_pid": os.getpid(),
               "run_dir": str(self.run_dir), "services": rows}
        if force or doc != self._last_written:
            write_state(self.run_dir, doc)
            self._last_written = doc


def up(system: SystemSpec | Iterable[ServiceSpec] | str | os.PathLike[str], *,
       run_dir: str | os.PathLike[str] | None = None, name: str | None = None,
       parallel: bool = False) -> Supervisor:
    """Start a whole system with one call (a TOML path, a :class:`SystemSpec` or specs).

    Returns the running :class:`Supervisor`; stop it with ``.down()`` or use it in ``with``.
    """
    if isinstance(system, (str, os.PathLike)):
        system = load_spec(system)
    return Supervisor(system, run_dir=run_dir, name=name, parallel=parallel).start()
