"""Faults on real TCP connections: a proxy that delays, throttles, cuts, refuses or swallows.

- :mod:`.shaping`: :class:`Direction`, :class:`Faults` (the settings), :class:`Shaper` (sans-IO)
- :mod:`.proxy`: :class:`FaultProxy`, the asyncio proxy
- :mod:`.threaded`: :func:`start_proxy`, the proxy in a thread of its own (notebooks, tests)
- :mod:`.control`: the line-JSON control protocol, :class:`ControlServer`, :class:`ControlClient`
- :mod:`.probe`: round trips to an echo service, direct and through the proxy, side by side
- :mod:`.explore`: latency and jitter sliders that re-measure for real (ipywidgets)
- ``python -m labsupport.faults proxy --upstream HOST:PORT`` (a process; ``set``/``stats``)
- :func:`proxy_service`: the proxy as a service of a :mod:`labsupport.services` system

::

    with start_proxy(("127.0.0.1", port), seed=1) as proxy:
        proxy.set(direction="downstream", latency_ms=20, jitter_ms=5)
        ...  # connect to proxy.port instead of port
        proxy.stats()
"""

from __future__ import annotations

import sys

from labsupport.services.spec import LineProbe, ServiceSpec

from .control import ControlClient, ControlError, ControlServer
from .proxy import FaultProxy
from .shaping import Direction, FaultConfigError, FaultError, Faults, Plan, Shaper
from .threaded import ThreadedProxy, start_proxy

# The first line `python -m labsupport.faults proxy` prints, with its two ports.
READY_LINE = r"listening on \S+:(?P<port>\d+) -> \S+; control on \S+:(?P<control>\d+)"


def proxy_service(name: str, upstream: str, *args: str, depends_on: tuple[str, ...] = ()
                  ) -> ServiceSpec:
    """A fault proxy in front of ``upstream`` (e.g. ``"{host}:{echo.port}"``) as a service.

    Its port is read from its first line; ``args`` are more ``proxy`` options. Its control port
    is in its log (see :data:`READY_LINE`) for ``python -m labsupport.faults set``.
    """
    return ServiceSpec(name, (sys.executable, "-m", "labsupport.faults", "proxy",
                              "--upstream", upstream, *args),
                       ready=LineProbe(READY_LINE), depends_on=depends_on)


__all__ = [
    "READY_LINE",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "Direction",
    "FaultConfigError",
    "FaultError",
    "FaultProxy",
    "Faults",
    "Plan",
    "Shaper",
    "ThreadedProxy",
    "proxy_service",
    "start_proxy",
]
