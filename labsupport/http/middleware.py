"""Middleware: functions wrapped around a handler, like Starlette's or aiohttp's.

A middleware is ``mw(request, call_next) -> response`` where ``call_next(request)`` runs the
rest of the chain. Handlers may be plain functions (returning a ``Response``) or coroutines;
``_then`` applies a post-processing step to either without forcing everything async, so a
chain of plain functions stays on the server's no-Task fast path.

Provided: ``access_log`` (timing with an injected ``perf_counter_ns``, one log line per
request and a ``server-timing`` field), ``catch_errors`` (an exception becomes a 500 and the
keep-alive connection survives), ``gzip`` (compresses large compressible bodies when the
client sent ``Accept-Encoding: gzip``, RFC 9110 section 12.5.3, and adds ``Vary``).
"""

from __future__ import annotations

import gzip as _gzip
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from .response import Response
from .routing import HttpRequest

__all__ = ["access_log", "catch_errors", "chain", "gzip"]

Handler = Callable[[HttpRequest], Any]
Middleware = Callable[[HttpRequest, Handler], Any]


def _then(result: Any, step: Callable[[Any], Any]) -> Any:
    """``step(result)``, now if ``result`` is a value, later if it is awaitable."""
    if inspect.isawaitable(result):
        async def later() -> Any:
            return step(await result)
        return later()
    return step(result)


def chain(app: Handler, *middlewares: Middleware) -> Handler:
    """Wrap ``app``; the first middleware listed is the outermost (runs first)."""
    handler = app
    for mw in reversed(middlewares):
        def make(mw: Middleware = mw, inner: Handler = handler) -> Handler:
            return lambda request: mw(request, inner)
        handler = make()
    return handler


def access_log(logger: logging.Logger | None = None,
               clock: Callable[[], int] = time.perf_counter_ns,
               sink: list[tuple[str, str, int, int]] | None = None) -> Middleware:
    """Time each request; log ``METHOD path status duration`` and add ``server-timing``.

    ``sink``, when given, receives ``(method, path, status, duration_ns)`` tuples (tests and
    the notebook read it instead of parsing log text).
    """
    logger = logger or logging.getLogger("labsupport.http.access")

    def mw(request: HttpRequest, call_next: Handler) -> Any:
        start = clock()

        def done(response: Any) -> Any:
            elapsed = clock() - start
            status = getattr(response, "status", 0)
            if sink is not None:
                sink.append((request.method, request.path, status, elapsed))
            logger.info("%s %s %d %.1fus", request.method, request.path, status, elapsed / 1e3)
            headers = getattr(response, "headers", None)
            if isinstance(headers, list):
                headers.append((b"server-timing", b"app;dur=%.3f" % (elapsed / 1e6)))
            return response
        return _then(call_next(request), done)
    return mw


def catch_errors(logger: logging.Logger | None = None, *, expose: bool = False) -> Middleware:
    """Turn any exception of the inner handler into a 500 response (``expose`` shows it)."""
    logger = logger or logging.getLogger("labsupport.http")

    def fail(request: HttpRequest, exc: Exception) -> Response:
        logger.error("error in %r: %r", request, exc)
        text = f"internal server error: {type(exc).__name__}: {exc}" if expose else "internal server error"
        return Response(text, 500)

    def mw(request: HttpRequest, call_next: Handler) -> Any:
        try:
            result = call_next(request)
        except Exception as exc:
            return fail(request, exc)
        if inspect.isawaitable(result):
            async def guarded() -> Any:
                try:
                    return await result
                except Exception as exc:
                    return fail(request, exc)
            return guarded()
        return result
    return mw


_COMPRESSIBLE = (b"text/", b"application/json", b"application/javascript", b"application/xml",
                 b"image/svg+xml")


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    """True when ``Accept-Encoding`` lists gzip (or ``*``) with a q-value above zero."""
    if not accept_encoding:
        return False
    for item in accept_encoding.lower().split(b","):
        coding, _, params = item.strip().partition(b";")
        if coding.strip() in (b"gzip", b"x-gzip", b"*"):
            q = params.strip()
            if q.startswith(b"q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def gzip(min_size: int = 1024, level: int = 6) -> Middleware:
    """Compress ``Response`` bodies of at least ``min_size`` bytes of a text-like type."""

    def compress(request: HttpRequest, response: Any) -> Any:
        if (type(response) is not Response or len(response.body) < min_size
                or response.status != 200 or not response.content_type.startswith(_COMPRESSIBLE)
                or response.header(b"content-encoding") is not None):
            return response
        response.body = _gzip.compress(response.body, compresslevel=level, mtime=0)
        response.headers.append((b"content-encoding", b"gzip"))
        response.headers.append((b"vary", b"accept-encoding"))
        return response

    def mw(request: HttpRequest, call_next: Handler) -> Any:
        result = call_next(request)
        if not accepts_gzip(request.header(b"accept-encoding")):
            return result
        return _then(result, lambda r: compress(request, r))
    return mw
