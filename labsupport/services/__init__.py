"""Systems of several processes: a supervisor, its command line, and real brokers and servers.

- :mod:`.spec`: :class:`ServiceSpec`, probes (:class:`TcpProbe`, :class:`LineProbe`,
  :class:`HttpProbe`), :class:`RestartPolicy`, :class:`HealthCheck`, :func:`start_order`
- :mod:`.tomlspec`: :func:`load_spec`, the TOML form (its keys are documented there)
- :mod:`.supervisor`: :class:`Supervisor`, :func:`up` (a whole system with one call)
- :mod:`.state`: the run directory and its ``state.json``, read by the command line
- :mod:`.brokers`: redis-server and rabbitmq-server on free ports, with private data directories
  (:func:`~.brokers.redis`, :func:`~.brokers.rabbitmq`); :mod:`.httpproxies`: nginx and haproxy
  in front of a lab's backends; :mod:`.smoke`: one real exchange with each, or why it is skipped
- :mod:`.demo`: a TCP echo server and an HTTP front, the two-process example system
- ``python -m labsupport.services up SPEC.toml | status | logs NAME | down``

A lab's notebook starts and stops its whole system with one call::

    system = services.up("labsupport/services/examples/echo_pair.toml")
    system.status_frame()
    system.down()
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .spec import (
    HealthCheck,
    HttpProbe,
    LineProbe,
    RestartPolicy,
    ServiceError,
    ServiceSpec,
    ServiceStartError,
    SpecError,
    TcpProbe,
    UnknownServiceError,
    start_order,
)
from .tomlspec import SystemSpec, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parent / "examples"
ECHO_PAIR = EXAMPLES / "echo_pair.toml"

# The supervisor needs labsupport.measure (numpy, pandas: a second to import). Services run as
# `python -m labsupport.services.demo` and the like should not pay for it, so those names are
# imported on first use (PEP 562).
_LAZY = {"Supervisor": ".supervisor", "up": ".supervisor", "RunDirError": ".state",
         "read_state": ".state", "brokers": ".brokers", "httpproxies": ".httpproxies",
         "smoke": ".smoke"}
_MODULES = {"brokers", "httpproxies", "smoke"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name], __name__)
        return module if name in _MODULES else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ECHO_PAIR",
    "EXAMPLES",
    "HealthCheck",
    "HttpProbe",
    "LineProbe",
    "RestartPolicy",
    "RunDirError",
    "ServiceError",
    "ServiceSpec",
    "ServiceStartError",
    "SpecError",
    "Supervisor",
    "SystemSpec",
    "TcpProbe",
    "UnknownServiceError",
    "brokers",
    "httpproxies",
    "load_spec",
    "parse_spec",
    "read_state",
    "smoke",
    "start_order",
    "up",
]
