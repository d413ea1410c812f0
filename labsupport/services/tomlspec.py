"""The TOML form of a system, for ``python -m labsupport.services up SPEC.toml``.

One table per service under ``[services.NAME]``; services start in dependency order, ties in
the order they are written. Every key but the command is optional::

    name = "echo-pair"                    # the system's name (default: the file's stem)

    [services.echo]
    module = "labsupport.services.demo"   # run as `python -m MODULE ARGS...`, or:
    # command = ["redis-server", "--port", "{port}"]   a program and its arguments, or:
    # entry = "package.module:function"   called with ARGS as its argv list
    args = ["echo", "--port", "{port}"]   # arguments after module/entry (command: in the list)
    port = "auto"                         # a free port chosen by the supervisor, as {port}
    ready = { tcp = true }                # ready when the port accepts (default with a port)
    # ready = { line = 'listening on \\S+:(?P<port>\\d+)' }   a line of output (port read from it)
    # ready = { http = "/health", status = 200 }             an HTTP GET answering `status`
    ready_timeout_s = 15
    depends_on = []                       # names of services started (and ready) before this one
    env = { PYTHONUNBUFFERED = "1" }      # added to the supervisor's environment
    cwd = "."                             # relative to the spec file
    stop_grace_s = 5                      # SIGTERM, then SIGKILL after this many seconds
    restart = { policy = "on-failure", backoff_s = 0.1, backoff_max_s = 5, max_restarts = 10,
                reset_after_s = 10 }      # policy: never | on-failure | always
    health = { tcp = true, interval_s = 1, failures = 3 }   # or http = "/health"
    cpu = 0                               # pin to this CPU

Placeholders (``{port}``, ``{NAME.port}``, ``{python}``, ``{run_dir}``, ``{host}``) are those of
:mod:`.spec`. Errors name the file, the service and the key (:class:`~.spec.SpecError`).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import (
    HealthCheck,
    HttpProbe,
    LineProbe,
    Probe,
    RestartPolicy,
    ServiceSpec,
    SpecError,
    TcpProbe,
    _entry_command,
    start_order,
)

_SERVICE_KEYS = {"module", "command", "entry", "args", "port", "ready", "ready_timeout_s",
                 "depends_on", "env", "cwd", "stop_grace_s", "restart", "health", "cpu"}


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A named set of services, as read from a TOML file."""

    name: str
    services: tuple[ServiceSpec, ...]
    path: Path | None = None


def load_spec(path: str | os.PathLike[str]) -> SystemSpec:
    """Read and check a system's TOML file (see the module docstring for its keys)."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{path}: {exc}") from None
    system = parse_spec(doc, name=path.stem, base_dir=path.resolve().parent, where=str(path))
    return dataclasses.replace(system, path=path)


def parse_spec(doc: Mapping[str, Any], *, name: str = "system", base_dir: Path | None = None,
               where: str = "spec") -> SystemSpec:
    """A :class:`SystemSpec` from the decoded TOML document ``doc``."""
    unknown = set(doc) - {"name", "services"}
    if unknown:
        raise SpecError(f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    services = doc.get("services")
    if not isinstance(services, Mapping) or not services:
        raise SpecError(f"{where}: no [services.NAME] tables")
    specs = []
    for sname, table in services.items():
        ctx = f"{where}: service {sname}"
        if not isinstance(table, Mapping):
            raise SpecError(f"{ctx}: must be a table")
        try:
            specs.append(_service(sname, table, base_dir, ctx))
        except SpecError as exc:
            msg = str(exc)
            if msg.startswith(f"service {sname}:"):  # raised by ServiceSpec itself
                msg = f"{where}: {msg}"
            elif not msg.startswith(where):
                msg = f"{ctx}: {msg}"
            raise SpecError(msg) from None
    start_order(specs)  # cycles and unknown dependencies are errors now, not at start
    return SystemSpec(str(doc.get("name", name)), tuple(specs), None)


def _service(name: str, t: Mapping[str, Any], base_dir: Path | None, ctx: str) -> ServiceSpec:
    unknown = set(t) - _SERVICE_KEYS
    if unknown:
        raise SpecError(f"{ctx}: unknown key(s) {', '.join(sorted(unknown))}")
    args = [str(a) for a in _typed(t, "args", list, ctx, [])]
    given = [k for k in ("module", "command", "entry") if k in t]
    if len(given) != 1:
        raise SpecError(f"{ctx}: exactly one of module, command, entry is needed")
    if "module" in t:
        command: tuple[str, ...] = ("{python}", "-m", _typed(t, "module", str, ctx), *args)
    elif "entry" in t:
        command = _entry_command(name, _typed(t, "entry", str, ctx), args)
    else:
        cmd = _typed(t, "command", list, ctx)
        command = tuple(str(c) for c in cmd) + tuple(args)
    cwd = t.get("cwd")
    if cwd is not None:
        cwd = str(Path(base_dir or ".") / str(cwd)) if not os.path.isabs(str(cwd)) else str(cwd)
    restart_t = _typed(t, "restart", dict, ctx, {})
    extra = set(restart_t) - {"policy", "backoff_s", "backoff_max_s", "max_restarts",
                              "reset_after_s"}
    if extra:
        raise SpecError(f"{ctx}: field restart: unknown key(s) {', '.join(sorted(extra))}")
    restart = RestartPolicy(
        mode=restart_t.get("policy", "never"),
        backoff_s=float(restart_t.get("backoff_s", 0.1)),
        backoff_max_s=float(restart_t.get("backoff_max_s", 5.0)),
        max_restarts=int(restart_t.get("max_restarts", 10)),
        reset_after_s=float(restart_t.get("reset_after_s", 10.0)),
    )
    health = None
    if "health" in t:
        h = dict(_typed(t, "health", dict, ctx))
        interval = float(h.pop("interval_s", 1.0))
        failures = int(h.pop("failures", 3))
        health = HealthCheck(_probe(h, f"{ctx}: field health"), interval, failures)
    ready = _probe(_typed(t, "ready", dict, ctx), f"{ctx}: field ready") if "ready" in t else None
    return ServiceSpec(
        name=name,
        command=command,
        env={str(k): str(v) for k, v in _typed(t, "env", dict, ctx, {}).items()},
        cwd=cwd,
        port=t.get("port"),
        ready=ready,
        ready_timeout_s=float(t.get("ready_timeout_s", 15.0)),
        depends_on=tuple(str(d) for d in _typed(t, "depends_on", list, ctx, [])),
        restart=restart,
        health=health,
        stop_grace_s=float(t.get("stop_grace_s", 5.0)),
        cpu=t.get("cpu"),
    )


def _probe(t: Mapping[str, Any], ctx: str) -> Probe:
    kinds = [k for k in ("tcp", "line", "http") if k in t]
    extra = set(t) - {"tcp", "line", "http", "status"}
    if len(kinds) != 1 or extra:
        raise SpecError(f"{ctx}: one of tcp = true, line = REGEX, http = PATH is needed")
    if "tcp" in t:
        return TcpProbe()
    if "line" in t:
        return LineProbe(str(t["line"]))
    return HttpProbe(str(t["http"]), int(t.get("status", 200)))


def _typed(t: Mapping[str, Any], key: str, kind: type, ctx: str, default: Any = None) -> Any:
    if key not in t:
        if default is None:
            raise SpecError(f"{ctx}: field {key} is missing")
        return default
    value = t[key]
    if not isinstance(value, kind):
        raise SpecError(f"{ctx}: field {key} must be a {kind.__name__}, not {value!r}")
    return value
