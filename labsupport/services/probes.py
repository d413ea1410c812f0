"""Running a probe once: is the service ready (or still healthy) right now?

Each check is quick and never waits for long (a connect or an HTTP call with a sub-second
timeout, or a regex over the log written so far), so the supervisor can poll many services
from one thread. A :class:`~.spec.LineProbe` reads the service's own log file (the supervisor
streams every service's output there), from the offset where the current run started, so a
line printed by a previous incarnation does not make a restarted service look ready.
"""

from __future__ import annotations

import http.client
import re
import socket
from dataclasses import dataclass

from .spec import HOST, HttpProbe, LineProbe, Probe, TcpProbe

PROBE_TIMEOUT_S = 0.5


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one check; ``port`` is set when a line probe read the service's port."""

    ok: bool
    detail: str = ""
    port: int | None = None


def check(probe: Probe, *, port: int | None, log_text: str = "", host: str = HOST,
          timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Run ``probe`` once against a service on ``host:port`` whose output so far is ``log_text``."""
    if isinstance(probe, LineProbe):
        m = re.search(probe.pattern, log_text, re.MULTILINE)
        if m is None:
            return ProbeResult(False, f"no line matching {probe.pattern!r} yet")
        got = m.groupdict().get("port")
        return ProbeResult(True, m.group(0), int(got) if got else None)
    if port is None:
        return ProbeResult(False, "no port known yet")
    if isinstance(probe, TcpProbe):
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return ProbeResult(True, f"{host}:{port} accepts")
        except OSError as exc:
            return ProbeResult(False, f"{host}:{port}: {exc.strerror or exc}")
    if isinstance(probe, HttpProbe):
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            conn.request("GET", probe.path)
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(False, f"GET {probe.path}: {exc}")
        finally:
            conn.close()
        if status != probe.status:
            return ProbeResult(False, f"GET {probe.path}: status {status}, not {probe.status}")
        return ProbeResult(True, f"GET {probe.path}: {status}")
    raise TypeError(f"not a probe: {probe!r}")
