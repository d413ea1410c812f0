"""The gateway: route, limit, cache, balance, forward with retries, answer. An app for Lab 01's
``HttpServer`` (``HttpRequest -> Response | StreamingResponse``).

The request path, in order (each step can answer on its own)::

    /__gateway/metrics          -> Prometheus text
    route (longest prefix, Host) -> 404 when none
    rate limit (GCRA per key)    -> 429 + Retry-After
    cache (GET on a caching route): HIT -> answer; MISS -> coalesce, fetch, maybe store
    forward: pick a server (balancer over available ones; none -> 503), pooled connection,
             send, read the head within read_timeout_s
             failure before any response byte went to the client (refused, reset, timeout,
             garbage): retry on another server if the method is idempotent, retries are
             left and the retry budget allows; else 502 (504 for a timeout)
    answer: a body of at most ``buffer_bytes`` with a Content-Length is read whole (so it can
            be cached and retried); a larger or unframed one is streamed piece by piece
            (with its Content-Length when it has one, else chunked), never held whole; a
            HEAD answer keeps the backend's Content-Length and has no body.

Request bodies over ``STREAM_BODY_ABOVE`` and chunked ones come through Lab 01's streaming
hook (``HttpRequest.stream``) and go to the backend piece by piece as the client sends them,
with backpressure both ways; such a request is retried only while none of its body was read.

Every outcome feeds the server's passive health (``ServerState``) and the metrics. The clock
(``clock``) and randomness (``seed``) are injected; ``reload(config)`` swaps routes and pools
while requests run: a server present before and after keeps its pool and health state.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from labsupport.http import HttpRequest, Response, StreamingResponse

from .balance import make_balancer
from .cache import Coalescer, ResponseCache, cache_key, ttl_for
from .config import Config, RouteSpec, UpstreamSpec
from .errors import ClientAborted, PoolBusy, UpstreamClosed, UpstreamError
from .forward import VIA, client_response, field, request_head, response_fields
from .health import RetryBudget, ServerState
from .metrics import Metrics
from .pool import ConnectionPool, UpstreamConnection
from .ratelimit import KeyedLimiter, retry_after_header
from .upstream import ResponseHead

__all__ = ["METRICS_PATH", "Gateway", "Upstream"]

METRICS_PATH = "/__gateway/metrics"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: Request bodies above this (and every chunked one) are streamed to the backend as they
#: arrive; smaller ones are taken whole, so that the request can be retried on another server.
STREAM_BODY_ABOVE = 64 * 1024


@dataclass(slots=True)
class Buffered:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    server: str


class Upstream:
    """A pool of servers with its balancer, retry budget and connection pools."""

    def __init__(self, spec: UpstreamSpec, rng: random.Random, clock: Callable[[], float],
                 previous: Upstream | None = None) -> None:
        self.spec = spec
        self.clock = clock
        self.balancer = make_balancer(spec.balance, rng)
        self.budget = previous.budget if previous else RetryBudget(spec.retry_budget, now_s=clock())
        old = {s.name: (s, previous.pools[s.name]) for s in previous.servers} if previous else {}
        self.servers: list[ServerState] = []
        self.pools: dict[str, ConnectionPool] = {}
        for host, port in spec.servers:
            name = f"{host}:{port}"
            if name in old:
                state, pool = old.pop(name)
            else:
                state = ServerState(host, port, spec.eject_after, spec.eject_s,
                                    spec.health_threshold)
                pool = ConnectionPool(host, port, max_connections=spec.max_connections,
                                      connect_timeout_s=spec.connect_timeout_s,
                                      queue_timeout_s=spec.queue_timeout_s)
            self.servers.append(state)
            self.pools[name] = pool
        self.retired = [pool for _, pool in old.values()]

    def choose(self, key: bytes | None, tried: set[str]) -> ServerState | None:
        now = self.clock()
        ready = [s for s in self.servers if s.available(now)]
        if tried:  # a retry goes to a server not tried yet when there is one
            ready = [s for s in ready if s.name not in tried] or ready
        return self.balancer.pick(ready, key)

    @property
    def ejections(self) -> int:
        return sum(s.ejections for s in self.servers)

    def close(self) -> None:
        for pool in (*self.pools.values(), *self.retired):
            pool.close()


class Route:
    def __init__(self, spec: RouteSpec, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.name = spec.prefix
        rl = spec.rate_limit
        self.limiter = KeyedLimiter(rl.rate_per_s, rl.burst, clock=clock) if rl else None
        self.caches = spec.cache_ttl_s > 0
        self.cache_fields = tuple(h.encode() for h in spec.cache_headers)

    def matches(self, path: str) -> bool:
        p = self.spec.prefix
        return path.startswith(p) and (len(path) == len(p) or p.endswith("/") or path[len(p)] == "/")


def _client_key(request: HttpRequest, key: str) -> bytes:
    if key == "ip":
        return request.peer[0].encode() if request.peer else b"-"
    return request.header(key[7:].encode(), b"") or b""


class Gateway:
    """See the module docstring. ``handle`` is the app to give ``HttpServer``."""

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic,
                 seed: int = 0, buffer_bytes: int = 256 * 1024) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.buffer_bytes = buffer_bytes
        self.metrics = Metrics()
        self.cache = ResponseCache(config.cache_max_bytes, clock=clock)
        self.coalescer = Coalescer()
        # Request ids: 64 random bits per gateway run, then a counter (unique across restarts,
        # a fraction of the cost of 128 random bits per request).
        self._id_prefix = b"%016x" % self.rng.getrandbits(64)
        self._ids = itertools.count()
        self.upstreams: dict[str, Upstream] = {}
        self.routes: list[Route] = []
        self.reload(config)

    # -- configuration -------------------------------------------------------------------
    def reload(self, config: Config) -> None:
        """Swap in a new config; requests in flight finish on what they started with."""
        old = self.upstreams
        self.upstreams = {u.name: Upstream(u, self.rng, self.clock, old.get(u.name))
                          for u in config.upstreams}
        old_routes = {r.spec: r for r in self.routes}
        # Longest prefix first; at equal length a route bound to a Host comes first.
        specs = sorted(config.routes, key=lambda r: (-len(r.prefix), r.host is None))
        self.routes = [old_routes.get(s) or Route(s, self.clock) for s in specs]
        self._by_host = any(r.spec.host is not None for r in self.routes)
        self.config = config
        for name, up in old.items():
            if name not in self.upstreams:
                up.close()

    def match(self, host: bytes | None, path: str) -> Route | None:
        hostname = (host or b"").split(b":", 1)[0].decode("latin-1").lower() if self._by_host else ""
        for route in self.routes:
            if route.spec.host is not None and route.spec.host.lower() != hostname:
                continue
            if route.matches(path):
                return route
        return None

    @property
    def ejections(self) -> int:
        return sum(u.ejections for u in self.upstreams.values())

    def close(self) -> None:
        for up in self.upstreams.values():
            up.close()

    @staticmethod
    def streams_body(head: Any) -> bool:
        """Lab 01's streaming-body hook: which request bodies are forwarded as they arrive."""
        return head.chunked or head.content_length > STREAM_BODY_ABOVE

    # -- the request path ----------------------------------------------------------------
    def handle(self, request: HttpRequest) -> Any:
        """The app: a ``Response`` when the gateway can answer at once (metrics, 404, 429, a
        cache hit: written by the server inside its read callback, no Task), else a coroutine
        (forwarding) that the server runs as a Task."""
        start = perf_counter()
        head = request.head
        path = head.path
        if path == METRICS_PATH:
            return Response(self.metrics.render(self.ejections),
                            content_type=b"text/plain; version=0.0.4")
        route = self.match(head.header(b"host") if self._by_host else None, path)
        if route is None:
            self.metrics.observe("-", 404, "-", perf_counter() - start)
            return Response("no route for this path\n", 404)
        if route.limiter is not None:
            decision = route.limiter.allow(_client_key(request, route.spec.rate_limit.key))
            if not decision.allowed:
                self.metrics.counters["rate_limited"] += 1
                self.metrics.observe(route.name, 429, "-", perf_counter() - start)
                return Response("rate limit exceeded\n", 429, headers=[
                    ("retry-after", retry_after_header(decision))])
        key = None
        method = head.method
        if route.caches and (method == "GET" or method == "HEAD"):
            values = tuple(head.header(h, b"") for h in route.cache_fields) if route.cache_fields else ()
            key = cache_key("GET", path, head.query, values)  # HEAD is answered as GET
            entry = self.cache.get(key)
            if entry is not None:  # the prepared Response's fields, plus this request's id
                self.metrics.counters["cache_hits"] += 1
                self.metrics.observe(route.name, 200, "cache", perf_counter() - start)
                prepared = entry.response
                hit = Response(prepared.body, prepared.status, content_type=prepared.content_type)
                hit.headers = [*prepared.headers, (b"x-request-id", head.header(b"x-request-id")
                                                   or self._new_request_id())]
                return hit
            self.metrics.counters["cache_misses"] += 1
            if method == "HEAD":
                key = None  # a HEAD miss is forwarded as HEAD and not stored
        request_id = head.header(b"x-request-id") or self._new_request_id()
        return self._proxied(request, route, request_id, key, start)

    def _new_request_id(self) -> bytes:
        """32 hex digits: this gateway's random prefix and a counter (unique, no syscall)."""
        return b"%s%016x" % (self._id_prefix, next(self._ids))

    async def _proxied(self, request: HttpRequest, route: Route, request_id: bytes,
                       key: Any, start: float) -> Any:
        upstream = self.upstreams[route.spec.upstream]
        self.metrics.in_flight += 1
        try:
            if key is None:
                result = await self.forward(request, upstream, request_id, buffer=False)
                response = self._answer(result, request_id, None, request.method)
            else:
                response, result = await self._cached(request, route, upstream, request_id, key)
        except ClientAborted as exc:  # the connection is closed already: this is not sent
            result, response = None, Response(f"{exc}\n", 400)
        finally:
            self.metrics.in_flight -= 1
        self.metrics.observe(route.name, response.status, getattr(result, "server", "-"),
                             perf_counter() - start)
        return response

    async def _cached(self, request: HttpRequest, route: Route, upstream: Upstream,
                      request_id: bytes, key: Any) -> tuple[Any, Any]:
        async def fetch() -> Any:
            result = await self.forward(request, upstream, request_id, buffer=True)
            if isinstance(result, Buffered):
                ttl = ttl_for(route.spec.cache_ttl_s, field(result.headers, b"cache-control"))
                self.store(key, result.status, result.headers, result.body, ttl)
            return result

        result, led = await self.coalescer.run(key, fetch)
        if not led:
            self.metrics.counters["coalesced"] += 1
            if not isinstance(result, Buffered):  # a stream cannot be shared: fetch our own
                result = await self.forward(request, upstream, request_id, buffer=False)
        return self._answer(result, request_id, b"MISS"), result

    def store(self, key: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes,
              ttl_s: float) -> bool:
        """Cache a backend's answer with the ``Response`` every hit on it will be: built once
        here, so a hit only adds its ``X-Request-Id``."""
        hit = client_response(status, headers, body, [(b"via", VIA), (b"x-cache", b"HIT")])
        return self.cache.put(key, status, tuple(headers), body, ttl_s, response=hit)

    def _answer(self, result: Any, request_id: bytes, cache: bytes | None,
                method: str = "GET") -> Any:
        if isinstance(result, Response):  # an error the gateway made itself
            return result
        extra = [(b"via", VIA), (b"x-request-id", request_id)]
        if cache is not None:
            extra.append((b"x-cache", cache))
        if isinstance(result, Buffered):
            if method == "HEAD":  # no body, but the length the GET would have had
                ctype = field(result.headers, b"content-type") or b"application/octet-stream"
                declared = field(result.headers, b"content-length")
                return StreamingResponse((), result.status, content_type=ctype,
                                         headers=[*response_fields(result.headers), *extra],
                                         content_length=int(declared) if declared else None)
            return client_response(result.status, result.headers, result.body, extra)
        head, chunks = result
        ctype = head.header(b"content-type") or b"application/octet-stream"
        return StreamingResponse(chunks, head.status, content_type=ctype,
                                 headers=[*response_fields(head.headers), *extra],
                                 content_length=head.content_length)

    # -- forwarding ----------------------------------------------------------------------
    async def forward(self, request: HttpRequest, upstream: Upstream, request_id: bytes,
                      buffer: bool) -> Any:
        """``Buffered``, ``(ResponseHead, body iterator)`` or an error ``Response``."""
        spec = upstream.spec
        head = request.head
        idempotent = head.method in IDEMPOTENT
        target = head.target if head.target[:1] == b"/" else (
            head.path.encode() + (b"?" + head.query if head.query else b""))
        ip = request.peer[0] if request.peer else "-"
        stream = request.stream  # a large or chunked body, read as it arrives (never whole)
        body_len = len(request.body) if stream is None else head.content_length  # None: chunked
        raw = request_head(head.method, target, head.headers, body_len, ip, request_id)
        hash_key = _client_key(request, spec.hash_key) if spec.balance == "hash" else None
        upstream.budget.deposit(self.clock())
        tried: set[str] = set()
        retries = 0
        while True:
            server = upstream.choose(hash_key, tried)
            if server is None:
                return Response("no healthy server for this route\n", 503)
            tried.add(server.name)
            server.begin()
            try:
                return await self._exchange(server, upstream, raw, request, buffer)
            except ClientAborted:
                server.end()
                raise
            except UpstreamError as exc:
                server.end()
                if not isinstance(exc, PoolBusy):
                    server.record_failure(self.clock())
                if stream is not None and stream.received:
                    return _error_response(exc)  # body bytes are gone: cannot be sent again
                if not (idempotent and retries < spec.retries):
                    return _error_response(exc)
                if not upstream.budget.try_spend():
                    self.metrics.counters["retries_denied"] += 1
                    return _error_response(exc)
                retries += 1
                self.metrics.counters["retries"] += 1

    async def _exchange(self, server: ServerState, upstream: Upstream, raw: bytes,
                        request: HttpRequest, buffer: bool) -> Any:
        pool = upstream.pools[server.name]
        spec = upstream.spec
        head_only = request.method == "HEAD"
        for fresh_try in (False, True):
            conn = await pool.acquire()
            try:
                if request.stream is None:
                    await conn.send(raw, request.body, head_only)
                else:
                    await conn.send_stream(raw, request.stream, request.head.chunked)
                head = await conn.read_head(spec.read_timeout_s)
                break
            except ClientAborted:
                pool.release(conn, reuse=False)
                raise
            except (UpstreamError, ConnectionError) as exc:
                pool.release(conn, reuse=False)
                if (conn.reused and not fresh_try and isinstance(exc, (UpstreamClosed, ConnectionError))
                        and not (request.stream is not None and request.stream.received)):
                    continue  # a stale keep-alive connection: the backend never saw the request
                if isinstance(exc, UpstreamError):
                    raise
                raise UpstreamClosed(f"{server.name}: {exc}") from None
        if head.status >= 500:
            server.record_failure(self.clock())
        else:
            server.record_success()
        length = head.content_length
        if length is not None and (length <= self.buffer_bytes or buffer and
                                   length <= self.cache.max_entry_bytes):
            try:
                body = await conn.read_body(spec.read_timeout_s)
            except UpstreamError:
                pool.release(conn, reuse=False)
                raise
            pool.release(conn, reuse=True)
            server.end()
            return Buffered(head.status, list(head.headers), body, server.name)
        return head, self._stream(conn, pool, server, head, spec.read_timeout_s)

    async def _stream(self, conn: UpstreamConnection, pool: ConnectionPool, server: ServerState,
                      head: ResponseHead, timeout_s: float) -> AsyncIterator[bytes]:
        done = False
        try:
            async for piece in conn.body(timeout_s):
                yield piece
            done = True
        finally:
            pool.release(conn, reuse=done)
            server.end()




def _error_response(exc: UpstreamError) -> Response:
    status = exc.status_code
    text = "gateway timeout" if status == 504 else "bad gateway"
    return Response(f"{text}: {exc}\n", status)
