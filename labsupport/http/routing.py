"""The request object handlers receive, and a router with typed path parameters.

Mirrors Starlette's and Flask's routing: ``/orders/{order_id:int}`` matches ``/orders/42``
and calls the handler with ``request.params == {"order_id": 42}``. Converters: ``str``
(one segment, the default), ``int``, ``float``, ``path`` (the rest, slashes included).

Theory of operation: routes without parameters live in a dict keyed by path, so the common
case is one lookup; routes with parameters are compiled once to anchored regexes and tried
in the order they were added. A path that matches some route but not for this method is a
405 with ``Allow`` listing the methods that would have worked (RFC 9110 section 15.5.6);
a path that matches nothing is a 404. HEAD is served by GET routes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, unquote

from .parser import Request
from .response import Response

__all__ = ["Handler", "HttpRequest", "Router"]

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})


class HttpRequest:
    """One request as a handler sees it: the parsed head, the whole body (or ``stream``),
    route params."""

    __slots__ = ("head", "body", "params", "peer", "stream")

    def __init__(self, head: Request, body: bytes = b"", peer: Any = None) -> None:
        self.head = head
        self.body = body
        self.params: Mapping[str, Any] = _NO_PARAMS  # the router sets a dict when it has some
        self.peer = peer
        # A body read as it arrives (``body.RequestBody``) when the server streams this one
        # (``HttpServer(stream_body=...)``); ``body`` is then empty.
        self.stream: Any = None

    @property
    def method(self) -> str:
        return self.head.method

    @property
    def path(self) -> str:
        return self.head.path

    @property
    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self.head.headers

    def header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        return self.head.header(name, default)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.head.query.decode("latin-1")))

    def __repr__(self) -> str:
        return f"<HttpRequest {self.method} {self.head.target.decode('latin-1')}>"


Handler = Callable[[HttpRequest], "Response | Awaitable[Response] | Any"]

_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": (r"[^/]+", str),
    "int": (r"-?[0-9]+", int),
    "float": (r"-?[0-9]+(?:\.[0-9]+)?", float),
    "path": (r".*", str),
}
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}")


def _compile(pattern: str) -> tuple[re.Pattern[str], dict[str, Callable[[str], Any]]]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern {pattern!r} must start with '/'")
    regex, convert, pos = ["^"], {}, 0
    for m in _PARAM.finditer(pattern):
        name, conv = m.group(1), m.group(2) or "str"
        if conv not in _CONVERTERS:
            raise ValueError(f"unknown converter {conv!r} in {pattern!r} (have {sorted(_CONVERTERS)})")
        regex.append(re.escape(pattern[pos : m.start()]))
        regex.append(f"(?P<{name}>{_CONVERTERS[conv][0]})")
        convert[name] = _CONVERTERS[conv][1]
        pos = m.end()
    regex.append(re.escape(pattern[pos:]) + "$")
    return re.compile("".join(regex)), convert


class Router:
    """Maps (method, path) to a handler; itself a handler, so it can be served directly."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Handler]] = {}
        self._dynamic: list[tuple[re.Pattern[str], dict[str, Callable[[str], Any]], dict[str, Handler]]] = []

    def add(self, methods: str | list[str], pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``methods`` (e.g. ``"GET"`` or ``["GET", "POST"]``)."""
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern {pattern!r} must start with '/'")
        methods = [methods] if isinstance(methods, str) else list(methods)
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")
        if "{" not in pattern:
            table = self._static.setdefault(pattern, {})
        else:
            regex, convert = _compile(pattern)
            for r, _c, t in self._dynamic:
                if r.pattern == regex.pattern:
                    table = t
                    break
            else:
                table = {}
                self._dynamic.append((regex, convert, table))
        for m in methods:
            table[m.upper()] = handler

    def route(self, pattern: str, methods: str | list[str] = "GET") -> Callable[[Handler], Handler]:
        """Decorator form of ``add``."""
        def deco(fn: Handler) -> Handler:
            self.add(methods, pattern, fn)
            return fn
        return deco

    def resolve(self, method: str, path: str) -> tuple[Handler | None, dict[str, Any], list[str]]:
        """(handler, params, allowed methods); handler is None for 404 / 405."""
        table = self._static.get(path)
        if table is not None:
            h = table.get(method)
            if h is not None:
                return h, {}, []
            return None, {}, sorted(table)
        allowed: list[str] = []
        for regex, convert, table in self._dynamic:
            m = regex.match(path)
            if m is None:
                continue
            h = table.get(method)
            if h is None:
                allowed.extend(table)
                continue
            params = {k: convert[k](unquote(v)) for k, v in m.groupdict().items()}
            return h, params, []
        return None, {}, sorted(set(allowed))

    def __call__(self, request: HttpRequest):
        table = self._static.get(request.head.path)
        if table is not None:  # hot path: a fixed route
            h = table.get(request.head.method)
            if h is not None:
                return h(request)
        handler, params, allowed = self.resolve(request.method, request.path)
        if handler is None:
            if allowed:
                return Response(f"method {request.method} not allowed", 405,
                                headers=[("allow", ", ".join(allowed))])
            return Response(f"no route for {request.path}", 404)
        request.params = params
        return handler(request)
