"""A demo backend for the gateway: a small quotes/orders service that says who answered.

``python -m labsupport.gateway.backend --port P --name N [--latency-ms L] [--error-rate E]``

Built on Lab 01's server. Every answer carries ``X-Backend: NAME`` and a JSON body naming the
backend, so a test can count which server took each request. Paths:

==================  =============================================================
GET /health         ``ok`` (what the gateway's active checks ask)
GET /quotes/SYM     a quote for SYM, ``Cache-Control: max-age=1``
POST /orders        echoes the order back with an id (a non-idempotent method)
GET /big?bytes=N    N bytes, streamed in 64 KiB pieces (Content-Length set)
GET /private        ``Cache-Control: private`` (a cache must not store it)
anything else       ``{"backend": NAME, "path": PATH}``
==================  =============================================================

``latency_ms`` delays every answer (asyncio.sleep), ``error_rate`` answers that fraction of
requests 500 (a seeded generator: the same seed fails the same requests). ``Backend.hits``
counts requests by path, for the coalescing and failover tests.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import Counter

from labsupport import cli
from labsupport.http import HttpRequest, HttpServer, Limits, Response, run
from labsupport.http.response import serialize_response

__all__ = ["Backend", "BigBody"]

PIECE = 65536
MAX_BODY_BYTES = 16 << 20  # /echo takes bodies this large


class BigBody:
    """A ``Content-Length`` body of ``size`` bytes sent in pieces with backpressure."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name

    async def send(self, proto: object, head: object, keep: bool) -> None:
        """Lab 01's server calls this for a response object that sends itself (as files do)."""
        fields = [(b"content-type", b"application/octet-stream"),
                  (b"x-backend", self.name.encode())]
        proto.transport.write(serialize_response(200, fields, keep_alive=keep,
                                                 date_line=proto.server.date.line,
                                                 content_length=self.size))
        if head.method == "HEAD":
            return
        left = self.size
        block = b"x" * PIECE
        while left:
            n = min(left, PIECE)
            proto.transport.write(block[:n])
            left -= n
            await proto.drain()


class Backend:
    """The demo service as an app for ``HttpServer`` (see the module docstring)."""

    def __init__(self, name: str, *, latency_ms: float = 0.0, error_rate: float = 0.0,
                 seed: int = 0) -> None:
        self.name = name
        self.latency_s = latency_ms / 1000
        self.error_rate = error_rate
        self.rng = random.Random(seed)
        self.hits: Counter[str] = Counter()
        self._tag = [(b"x-backend", name.encode())]
        self._orders = 0
        self.server: HttpServer | None = None

    def __call__(self, request: HttpRequest) -> object:
        self.hits[request.path] += 1
        if request.path == "/health":
            return Response("ok\n", headers=self._tag)
        if self.latency_s > 0:
            return self._later(request)
        return self._answer(request)

    async def _later(self, request: HttpRequest) -> object:
        await asyncio.sleep(self.latency_s)
        return self._answer(request)

    def _answer(self, request: HttpRequest) -> object:
        if self.error_rate and self.rng.random() < self.error_rate:
            return Response(json.dumps({"backend": self.name, "error": "injected"}), 500,
                            content_type="application/json", headers=self._tag)
        path = request.path
        if path.startswith("/quotes/"):
            doc = {"backend": self.name, "symbol": path[8:], "bid": 100.25, "ask": 100.27}
            return self._json(doc, [(b"cache-control", b"max-age=1")])
        if path == "/orders" and request.method == "POST":
            self._orders += 1
            doc = {"backend": self.name, "order_id": self._orders, "bytes": len(request.body)}
            return self._json(doc, [], 201)
        if path == "/big":
            return BigBody(int(request.query.get("bytes", "1048576")), self.name)
        if path == "/private":
            return self._json({"backend": self.name}, [(b"cache-control", b"private")])
        if path == "/echo":
            return Response(request.body, headers=self._tag)
        headers = {k.decode(): v.decode("latin-1") for k, v in request.headers}
        return self._json({"backend": self.name, "path": path, "headers": headers}, [])

    def _json(self, doc: dict, extra: list[tuple[bytes, bytes]], status: int = 200) -> Response:
        return Response(json.dumps(doc), status, content_type="application/json",
                        headers=[*self._tag, *extra])

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self.server = HttpServer(self, keepalive_timeout=30.0,
                                 limits=Limits(max_body_bytes=MAX_BODY_BYTES))
        return await self.server.start(host, port)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown(grace_s=1.0)
            self.server = None


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.gateway.backend",
                           description="A demo quotes/orders backend for the gateway.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: an OS-assigned port (printed)")
    p.add_argument("--name", required=True, help="reported in X-Backend and every body")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 500")
    p.add_argument("--seed", type=int, default=0)
    return p


@cli.entry("python -m labsupport.gateway.backend")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0.0 <= args.error_rate <= 1.0:
        raise cli.InputError(f"{args.error_rate} is not a fraction 0..1", field="--error-rate")
    if args.latency_ms < 0:
        raise cli.InputError("must be >= 0", field="--latency-ms")
    app = Backend(args.name, latency_ms=args.latency_ms, error_rate=args.error_rate,
                  seed=args.seed)

    def ready(host: str, port: int) -> None:
        print(f"backend {args.name} listening on {host}:{port}", flush=True)

    run(app, args.host, args.port, ready=ready, keepalive_timeout=30.0,
        limits=Limits(max_body_bytes=MAX_BODY_BYTES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
