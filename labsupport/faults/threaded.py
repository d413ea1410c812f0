"""The fault proxy from synchronous code: its own event loop in a thread, a blocking API.

Notebooks and tests are synchronous, so :func:`start_proxy` runs a
:class:`~.proxy.FaultProxy` (and, if asked, its control server) on an event loop in a daemon
thread and hands back a :class:`ThreadedProxy` whose methods submit coroutines to that loop
with ``run_coroutine_threadsafe`` and wait for the answer. Used as a context manager it closes
the proxy and stops the thread on the way out, also when the body raises.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .control import ControlServer
from .proxy import FaultProxy
from .shaping import Faults

T = TypeVar("T")


class ThreadedProxy:
    """A running :class:`~.proxy.FaultProxy` owned by a thread of its own."""

    def __init__(self, proxy: FaultProxy, control: bool = False) -> None:
        self.proxy = proxy
        self.control: ControlServer | None = ControlServer(proxy) if control else None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"fault-proxy-{proxy.upstream[1]}")

    def start(self) -> ThreadedProxy:
        self._thread.start()
        self._call(self.proxy.start())
        if self.control is not None:
            self._call(self.control.start())
        return self

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    @property
    def port(self) -> int:
        """The port clients connect to (OS-assigned)."""
        return self.proxy.port

    @property
    def address(self) -> tuple[str, int]:
        return self.proxy.listen_host, self.proxy.port

    @property
    def control_port(self) -> int | None:
        return None if self.control is None else self.control.port

    @property
    def faults(self) -> Faults:
        return self.proxy.faults

    def set(self, direction: str = "both", refuse: bool | None = None, **changes: Any) -> Faults:
        """Change fault settings at run time, e.g. ``set(latency_ms=20, jitter_ms=5)``."""
        return self._call(self.proxy.update(direction, refuse, **changes))

    def configure(self, faults: Faults) -> Faults:
        return self._call(self.proxy.configure(faults))

    def clear(self) -> Faults:
        """Turn every fault off."""
        return self.configure(Faults())

    def stats(self) -> dict[str, int]:
        return self._call(_value(self.proxy.stats))

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        if self.control is not None:
            self._call(self.control.close())
        self._call(self.proxy.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ThreadedProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        up = self.proxy.upstream
        return f"<ThreadedProxy 127.0.0.1:{self.port} -> {up[0]}:{up[1]}>"


async def _value(fn: Any) -> Any:
    return fn()  # read the counters on the loop's thread, between two of its steps


def start_proxy(upstream: tuple[str, int], *, faults: Faults | None = None, seed: int = 0,
                control: bool = False, listen_port: int = 0) -> ThreadedProxy:
    """A fault proxy in front of ``upstream`` on a free port, running in its own thread."""
    proxy = FaultProxy(upstream, listen=("127.0.0.1", listen_port), faults=faults, seed=seed)
    return ThreadedProxy(proxy, control=control).start()
