"""Running the gateway: Lab 01's server with the gateway as its app, active health checks, and
configuration reload on SIGHUP.

``GatewayServer`` owns the pieces with a lifetime: the ``HttpServer`` listening for clients, one
health-check task per upstream that has a ``health_path``, and the ``Gateway``. ``reload()``
re-reads the file and swaps the config without closing the listening socket or any client
connection (a bad new file is reported and the old config stays).

Active checks are plain GET requests on a fresh connection, read with Lab 01's sans-IO
``ResponseReader``; any 2xx within the connect + read timeouts is a pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from labsupport.http import HttpServer, Limits
from labsupport.http.client import NEED_DATA, ResponseError, ResponseReader

from .config import Config, load_config
from .errors import GatewayError
from .health import ServerState
from .proxy import Gateway, Upstream

__all__ = ["GatewayServer", "check_server"]

log = logging.getLogger("labsupport.gateway")


async def check_server(server: ServerState, path: str, timeout_s: float) -> bool:
    """One active health check: GET ``path``; True for a 2xx answer within ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(server.host, server.port)
            try:
                writer.write(b"GET %s HTTP/1.1\r\nhost: %s\r\nconnection: close\r\n"
                             b"user-agent: labsupport-gateway-health\r\n\r\n"
                             % (path.encode(), server.host.encode()))
                rr = ResponseReader()
                while (resp := rr.next_response()) is NEED_DATA:
                    data = await reader.read(65536)
                    if not data:
                        rr.feed_eof()
                        resp = rr.next_response()
                        break
                    rr.feed(data)
            finally:
                writer.close()
    except (OSError, TimeoutError, ResponseError):
        return False
    return resp is not NEED_DATA and 200 <= resp.status < 300


class GatewayServer:
    """The gateway serving on a socket (see the module docstring)."""

    def __init__(self, config: Config, *, path: str | Path | None = None,
                 clock: Callable[[], float] = time.monotonic, seed: int = 0,
                 max_body_bytes: int = 16 << 20) -> None:
        self.path = path
        self.gateway = Gateway(config, clock=clock, seed=seed)
        self.http = HttpServer(self.gateway.handle, keepalive_timeout=75.0,
                               limits=Limits(max_body_bytes=max_body_bytes), clock=clock,
                               stream_body=self.gateway.streams_body)
        self.address: tuple[str, int] | None = None
        self.reloads = 0
        self._checks: dict[str, asyncio.Task[None]] = {}

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        listen = self.gateway.config.listen
        self.address = await self.http.start(listen.host if host is None else host,
                                             listen.port if port is None else port,
                                             backlog=4096)
        self._start_checks()
        return self.address

    def _start_checks(self) -> None:
        for task in self._checks.values():
            task.cancel()
        self._checks = {name: asyncio.get_running_loop().create_task(self._check_loop(up))
                        for name, up in self.gateway.upstreams.items() if up.spec.health_path}

    async def _check_loop(self, upstream: Upstream) -> None:
        spec = upstream.spec
        timeout = spec.connect_timeout_s + spec.read_timeout_s
        while True:
            results = await asyncio.gather(*(check_server(s, spec.health_path, timeout)
                                             for s in upstream.servers))
            for server, ok in zip(upstream.servers, results, strict=True):
                server.record_check(ok)
            await asyncio.sleep(spec.health_interval_s)

    def reload(self, config: Config | None = None) -> bool:
        """Swap in ``config`` (or re-read the file); False, old config kept, when it is bad."""
        if config is None:
            try:
                config = load_config(self.path)
            except (GatewayError, OSError) as exc:
                log.error("reload refused, keeping the running config: %s", exc)
                return False
        self.gateway.reload(config)
        self._start_checks()
        self.reloads += 1
        log.info("configuration reloaded (%d upstreams, %d routes)",
                 len(config.upstreams), len(config.routes))
        return True

    async def stop(self) -> None:
        for task in self._checks.values():
            task.cancel()
        for task in self._checks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.shutdown(grace_s=2.0)
        self.gateway.close()

    async def __aenter__(self) -> GatewayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
