"""What a supervised system is made of: services, probes, restart policies, and the TOML form.

A :class:`ServiceSpec` is declarative and immutable, like a unit file of systemd or a service of
docker-compose: the command (or a Python module or ``module:function`` entry point), its
environment and working directory, how to tell it is ready (:class:`TcpProbe`,
:class:`LineProbe`, :class:`HttpProbe`), what it depends on, what to do when it exits
(:class:`RestartPolicy`) and how to check it is still healthy (:class:`HealthCheck`). The
supervisor (:mod:`.supervisor`) turns specs into processes; nothing here starts anything.

Ports are never fixed in a spec. ``port = "auto"`` asks the supervisor for a free port, passed
to the command as ``{port}``; or the service binds port 0 and prints the port it got, and a
:class:`LineProbe` whose regex has a named group ``port`` reads it from the log. Placeholders
expanded in ``command``, ``env`` values and ``cwd`` at start time:

``{port}`` the service's own port, ``{host}`` 127.0.0.1, ``{python}`` this interpreter,
``{run_dir}`` the supervisor's run directory, ``{NAME.port}`` the port of service NAME (which
must be among its dependencies, so it is known by then), ``{{`` and ``}}`` literal braces.

:func:`start_order` sorts services so every one starts after its dependencies (Kahn's
algorithm, ties broken by declaration order so the order is stable); a cycle or an unknown
dependency is a :class:`SpecError` naming the services involved.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

HOST = "127.0.0.1"


class ServiceError(Exception):
    """Base class of every error raised by :mod:`labsupport.services`."""


class SpecError(ServiceError):
    """A service specification is wrong: the message names the service and the field."""


class ServiceStartError(ServiceError):
    """A service exited or was not ready within its timeout; the message ends with its log tail."""


class UnknownServiceError(ServiceError):
    """A name that is not one of the supervisor's services."""


# -- probes: how the supervisor tells that a service is ready, or still healthy ---------------
@dataclass(frozen=True, slots=True)
class TcpProbe:
    """Ready when the service's port accepts a TCP connection."""


@dataclass(frozen=True, slots=True)
class LineProbe:
    """Ready when a line of the service's output matches ``pattern`` (a regex).

    A named group ``port`` in the pattern (``listening on .*:(?P<port>\\d+)``) gives the
    service's port, for services that bind port 0 and report what they got.
    """

    pattern: str

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise SpecError(f"bad regex {self.pattern!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class HttpProbe:
    """Ready when ``GET http://127.0.0.1:{port}{path}`` answers with ``status``."""

    path: str = "/health"
    status: int = 200


Probe = TcpProbe | LineProbe | HttpProbe

RestartMode = Literal["never", "on-failure", "always"]


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When an exited service is started again, and after how long.

    ``on-failure`` restarts after a non-zero exit (a crash, a kill), ``always`` after any exit.
    The delay doubles with each consecutive restart, from ``backoff_s`` up to ``backoff_max_s``
    (exponential backoff, as systemd's ``RestartSec`` with ``RestartSteps``); a run that stayed
    up ``reset_after_s`` counts as a success and resets the doubling. After ``max_restarts``
    consecutive restarts the supervisor gives up and marks the service failed.
    """

    mode: RestartMode = "never"
    backoff_s: float = 0.1
    backoff_max_s: float = 5.0
    max_restarts: int = 10
    reset_after_s: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in ("never", "on-failure", "always"):
            raise SpecError(f"restart policy {self.mode!r} is not never, on-failure or always")
        if self.backoff_s < 0 or self.backoff_max_s < self.backoff_s or self.max_restarts < 0:
            raise SpecError("restart needs 0 <= backoff_s <= backoff_max_s and max_restarts >= 0")

    def delay_s(self, exit_code: int, consecutive: int) -> float | None:
        """Seconds to wait before restart number ``consecutive + 1``, or None: do not restart."""
        if self.mode == "never" or (self.mode == "on-failure" and exit_code == 0):
            return None
        if consecutive >= self.max_restarts:
            return None
        return min(self.backoff_s * (2 ** consecutive), self.backoff_max_s)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A probe run every ``interval_s`` once the service is up; ``failures`` consecutive failed
    checks make it unhealthy, and (unless its restart mode is ``never``) it is killed and
    restarted by its policy, as a liveness probe of Kubernetes would."""

    probe: Probe = field(default_factory=TcpProbe)
    interval_s: float = 1.0
    failures: int = 3


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service of a system: what to run and how to supervise it."""

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    port: Literal["auto"] | None = None
    ready: Probe | None = None
    ready_timeout_s: float = 15.0
    depends_on: tuple[str, ...] = ()
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    health: HealthCheck | None = None
    stop_grace_s: float = 5.0
    cpu: int | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][\w-]*", self.name):
            raise SpecError(f"service name {self.name!r}: letters, digits, _ and - only")
        if not self.command:
            raise SpecError(f"service {self.name}: empty command")
        if self.port not in (None, "auto"):
            raise SpecError(f"service {self.name}: field port: ports are assigned, never fixed: "
                            f"use port = \"auto\" (passed as {{port}}) or report it on stdout")
        if self.ready is None and self.port == "auto":
            object.__setattr__(self, "ready", TcpProbe())
        if isinstance(self.ready, (TcpProbe, HttpProbe)) and self.port is None:
            raise SpecError(f"service {self.name}: a TCP or HTTP probe needs port = \"auto\"")
        if self.ready_timeout_s <= 0 or self.stop_grace_s < 0:
            raise SpecError(f"service {self.name}: timeouts must be positive")

    @classmethod
    def python(cls, name: str, module: str, *args: str, **kw: object) -> ServiceSpec:
        """A service run as ``python -m module args...`` with this interpreter."""
        return cls(name, (sys.executable, "-m", module, *args), **kw)  # type: ignore[arg-type]

    @classmethod
    def entry_point(cls, name: str, entry: str, *args: str, **kw: object) -> ServiceSpec:
        """A service run as ``module:function`` called with ``args`` as its argv."""
        return cls(name, _entry_command(name, entry, args), **kw)  # type: ignore[arg-type]


def _entry_command(name: str, entry: str, args: Iterable[str]) -> tuple[str, ...]:
    module, sep, func = entry.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module) \
            or not func.isidentifier():
        raise SpecError(f"service {name}: entry {entry!r} is not 'package.module:function'")
    # python -c CODE a b: sys.argv is ['-c', 'a', 'b'], so the function gets ['a', 'b']
    code = (f"import sys, {module} as m; r = m.{func}(sys.argv[1:]); "
            f"sys.exit(r if isinstance(r, int) else 0)")
    return (sys.executable, "-c", code, *args)


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][\w-]*(?:\.port)?)\}")


def expand(text: str, values: Mapping[str, str], *, service: str) -> str:
    """Replace ``{key}`` placeholders from ``values``; an unknown key is a :class:`SpecError`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        key = m.group(1)
        if key not in values:
            raise SpecError(f"service {service}: unknown placeholder {{{key}}} in {text!r} "
                            f"(known: {', '.join('{' + k + '}' for k in sorted(values))})")
        return values[key]

    return _PLACEHOLDER.sub(sub, text)


def start_order(specs: Iterable[ServiceSpec]) -> list[ServiceSpec]:
    """Specs sorted so that each comes after its dependencies (stable, by declaration)."""
    specs = list(specs)
    by_name: dict[str, ServiceSpec] = {}
    for s in specs:
        if s.name in by_name:
            raise SpecError(f"service {s.name} is declared twice")
        by_name[s.name] = s
    for s in specs:
        for d in s.depends_on:
            if d not in by_name:
                raise SpecError(f"service {s.name}: field depends_on: no service named {d!r}")
    done: list[ServiceSpec] = []
    placed: set[str] = set()
    while len(done) < len(specs):
        ready = [s for s in specs if s.name not in placed
                 and all(d in placed for d in s.depends_on)]
        if not ready:
            stuck = sorted(s.name for s in specs if s.name not in placed)
            raise SpecError(f"dependency cycle among services: {', '.join(stuck)}")
        done.append(ready[0])
        placed.add(ready[0].name)
    return done
