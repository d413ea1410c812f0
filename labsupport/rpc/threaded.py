"""Servers and channels from synchronous code: an event loop in a daemon thread, a blocking API.

Notebooks, tests and grpcio's synchronous client are not asyncio, so :class:`ServerThread`
runs a :class:`~.native.NativeServer` or :class:`~.grpc_server.GrpcServer` on its own loop
(uvloop when installed) and :class:`BlockingChannel` submits a channel's coroutines to such a
loop with ``run_coroutine_threadsafe`` and waits for the answer: the blocking client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .client import Channel
from .errors import RpcError, StatusCode

T = TypeVar("T")


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """An event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self, uv: bool = True) -> None:
        self.loop = new_loop() if uv else asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="rpc-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


class ServerThread(LoopThread):
    """``transport`` is ``native`` or ``grpc``; ``port`` is free when 0."""

    def __init__(self, *servicers: object, transport: str = "native", port: int = 0,
                 uv: bool = True, **options: Any) -> None:
        super().__init__(uv)
        if transport == "native":
            from .native import NativeServer as cls
        elif transport == "grpc":
            from .grpc_server import GrpcServer as cls
        else:
            self.stop()
            raise RpcError(StatusCode.INVALID_ARGUMENT, f"unknown transport {transport!r}")
        self.server = self.run(cls(*servicers, port=port, **options).start())
        self.port = self.server.port

    def close(self) -> None:
        self.run(self.server.close())
        self.stop()

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockingChannel:
    """A :class:`~.client.Channel` with blocking methods, on its own loop thread."""

    def __init__(self, host: str, port: int, **options: Any) -> None:
        self._thread = LoopThread()
        self.channel = Channel(host, port, **options)

    def unary(self, path: str, request: Any, **kw: Any) -> Any:
        return self._thread.run(self.channel.unary(path, request, **kw), None)

    def server_stream(self, path: str, request: Any, **kw: Any) -> list[Any]:
        async def collect() -> list[Any]:
            return [item async for item in await self.channel.server_stream(path, request, **kw)]
        return self._thread.run(collect(), None)

    def client_stream(self, path: str, requests: Any, **kw: Any) -> Any:
        return self._thread.run(self.channel.client_stream(path, list(requests), **kw), None)

    def close(self) -> None:
        self._thread.run(self.channel.close())
        self._thread.stop()

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_forever(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end from synchronous code (on uvloop when installed), also where a
    loop already runs in this thread (Jupyter): then on a loop thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_forever(coro)
    thread = LoopThread()
    try:
        return thread.run(coro, None)
    finally:
        thread.stop()
