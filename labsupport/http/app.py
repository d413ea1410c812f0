"""The demo application the command line serves: /hello, /echo, /static/ and a few more.

Also the raw ASGI "hello" app used by the benchmark to compare this server's ASGI adapter
with uvicorn on exactly the same application code.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from .middleware import catch_errors, chain, gzip
from .response import Response, StreamingResponse
from .routing import HttpRequest, Router
from .static import StaticFiles

HELLO = b"Hello, World!"


def hello(request: HttpRequest) -> Response:
    return Response(HELLO)


def echo(request: HttpRequest) -> Response:
    ctype = request.header(b"content-type", b"application/octet-stream")
    return Response(request.body, content_type=ctype)


def order(request: HttpRequest) -> Response:
    oid = request.params["order_id"]
    return Response(f'{{"order_id": {oid}}}', content_type="application/json")


async def ticks(request: HttpRequest) -> StreamingResponse:
    n = int(request.query.get("n", "3"))

    async def gen():
        for i in range(n):
            yield b"tick %d\n" % i
            await asyncio.sleep(0)
    return StreamingResponse(gen(), content_type="text/plain")


def boom(request: HttpRequest) -> Response:
    raise RuntimeError("this handler always fails")


def demo_app(root: str | os.PathLike[str] | None, *, middleware: bool = True) -> Any:
    """The router of the command line; with ``middleware`` errors become 500s and gzip is on."""
    r = Router()
    r.add("GET", "/hello", hello)
    r.add("POST", "/echo", echo)
    r.add("GET", "/orders/{order_id:int}", order)
    r.add("GET", "/ticks", ticks)
    r.add("GET", "/boom", boom)
    if root is not None:
        r.add("GET", "/static/{path:path}", StaticFiles(root, prefix="/static/"))
    if not middleware:
        return r
    return chain(r, catch_errors(), gzip())


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app answering every request with Hello, World! (no framework)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": HELLO})
