"""The notebook's scenarios, each one call: a demo, a failover timeline, a crowd, a limiter
trace, hash remapping, the "break it" table. Everything runs on 127.0.0.1 and stops what it
started before returning.

The asyncio scenarios run in a thread of their own (``run_sync``), so a notebook cell, whose
kernel already has a running loop, calls them like plain functions.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd

from .app import GatewayServer
from .backend import Backend
from .balance import ConsistentHash, ring_hash
from .client import AsyncClient, crowd
from .config import parse_config
from .ratelimit import KeyedLimiter, TokenBucket

__all__ = ["break_it", "cache_hits", "crowd_run", "demo_config", "demo_requests", "failover_timeline",
           "hash_remap", "limiter_trace", "run_sync"]


def run_sync(fn: Callable[..., Awaitable[Any]], *args: Any, timeout_s: float = 120.0) -> Any:
    """``asyncio.run(fn(*args))`` in a new thread; its result (or its exception)."""
    out: dict[str, Any] = {}

    def main() -> None:
        try:
            out["value"] = asyncio.run(asyncio.wait_for(fn(*args), timeout_s))
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            out["error"] = exc

    t = threading.Thread(target=main, name="gateway-lab")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def demo_config(ports: list[int], *, balance: str = "round_robin", extra: str = "") -> str:
    """The TOML of the notebook's gateway: quotes cached, orders rate limited."""
    servers = ", ".join(f'"127.0.0.1:{p}"' for p in ports)
    return f"""[listen]
port = 0

[[upstream]]
name = "desk"
servers = [{servers}]
balance = "{balance}"
health_path = "/health"
health_interval_s = 0.2
read_timeout_s = 0.5
retries = 2
eject_after = 2
eject_s = 1.0
{extra}
[[route]]
prefix = "/quotes"
upstream = "desk"
cache_ttl_s = 5

[[route]]
prefix = "/orders"
upstream = "desk"
rate_limit = {{ rate_per_s = 5, burst = 2, key = "header:x-client" }}

[[route]]
prefix = "/"
upstream = "desk"
"""


async def _with_stack(n_backends: int, body: Callable[..., Awaitable[Any]],
                      make_config: Callable[[list[int]], str] = demo_config) -> Any:
    backends = [Backend(f"backend-{chr(97 + i)}") for i in range(n_backends)]
    ports = [(await b.start())[1] for b in backends]
    try:
        async with GatewayServer(parse_config(make_config(ports))) as gw:
            return await body(gw, backends, ports)
    finally:
        for b in backends:
            await b.stop()


def demo_requests() -> pd.DataFrame:
    """A few requests through a gateway over two backends: who answered, from cache or not."""
    plan = [("GET", "/book/1", ()), ("GET", "/book/2", ()), ("GET", "/quotes/AAPL", ()),
            ("GET", "/quotes/AAPL", ()), ("GET", "/nowhere", ())]
    plan += [("POST", "/orders", (("x-client", "desk-7"),))] * 4

    async def body(gw: GatewayServer, backends: list[Backend], ports: list[int]) -> list:
        c = await AsyncClient.connect(gw.address[1])
        rows = []
        for method, path, headers in plan:
            r = await c.request(method, path, headers, body=b"{}" if method == "POST" else b"")
            rows.append({"request": f"{method} {path}", "status": r.status,
                         "backend": r.headers.get("x-backend", "-"),
                         "x-cache": r.headers.get("x-cache", "-"),
                         "retry-after": r.headers.get("retry-after", "-")})
        await c.close()
        return rows

    return pd.DataFrame(run_sync(_with_stack, 2, body))


def failover_timeline(duration_s: float = 3.0, kill_at_s: float = 1.0, back_at_s: float = 2.0,
                      clients: int = 4) -> pd.DataFrame:
    """Clients loop on GET while backend-b is killed at ``kill_at_s`` and restarted at
    ``back_at_s``: one row per response (t_s, status, backend)."""
    async def body(gw: GatewayServer, backends: list[Backend], ports: list[int]) -> list:
        rows: list[dict] = []
        t0 = time.monotonic()

        async def client() -> None:
            c = await AsyncClient.connect(gw.address[1])
            while (t := time.monotonic() - t0) < duration_s:
                r = await c.request("GET", "/book/1")
                rows.append({"t_s": t, "status": r.status, "backend": r.headers.get("x-backend", "-")})
                await asyncio.sleep(0.005)
            await c.close()

        async def chaos() -> None:
            await asyncio.sleep(kill_at_s)
            await backends[1].stop()
            await asyncio.sleep(back_at_s - kill_at_s)
            await backends[1].start(port=ports[1])

        await asyncio.gather(chaos(), *(client() for _ in range(clients)))
        return rows

    return pd.DataFrame(run_sync(_with_stack, 3, body)).sort_values("t_s", ignore_index=True)


def crowd_run(connections: int, requests_each: int = 2) -> dict[str, Any]:
    """``connections`` clients held open at once through the gateway: statuses and time.

    The gateway and backends run as processes (``bench.stack``): the clients' descriptors are
    in this process, the gateway's (one per client plus its pools) in its own, so 10,000
    clients fit under a 20,000 descriptor limit.
    """
    from .bench import stack

    with stack(demo=True) as st:
        t0 = time.perf_counter()
        statuses = run_sync(crowd, st["gateway"], connections, requests_each, "/book/1")
        elapsed = time.perf_counter() - t0
    total = sum(statuses.values())
    return {"connections": connections, "requests": total, "ok": statuses.get(200, 0),
            "errors": total - statuses.get(200, 0), "elapsed_s": round(elapsed, 2)}


def limiter_trace(rate_per_s: float = 5.0, burst: int = 3, seed: int = 1, n: int = 200,
                  bucket_capacity: float | None = None) -> pd.DataFrame:
    """A bursty arrival trace (seeded) and what GCRA and a token bucket allow of it.

    ``bucket_capacity`` defaults to ``burst + 1``, where the two agree; set it to ``burst`` to
    see the off-by-one that trips people porting a limiter from one model to the other.
    """
    rng = random.Random(seed)
    t, times = 0.0, []
    while len(times) < n:
        if rng.random() < 0.15:  # a burst of back-to-back requests
            times += [t] * rng.randint(3, 10)
        t += rng.expovariate(rate_per_s * 1.2) if rng.random() < 0.8 else rng.uniform(1, 3)
        times.append(round(t, 3))
    times = times[:n]
    gcra = KeyedLimiter(rate_per_s, burst, clock=lambda: 0.0)
    bucket = TokenBucket(rate_per_s, burst + 1 if bucket_capacity is None else bucket_capacity)
    rows = [{"t_s": x, "gcra": gcra.allow(b"k", x).allowed, "token_bucket": bucket.allow(x).allowed}
            for x in times]
    return pd.DataFrame(rows)


def hash_remap(n_servers: int = 5, n_keys: int = 20000) -> pd.DataFrame:
    """Fraction of keys that change server when one of ``n_servers`` leaves: modulo vs ring."""
    names = [f"10.0.0.{i}:8080" for i in range(n_servers)]
    keys = [f"client-{i}".encode() for i in range(n_keys)]
    ring = ConsistentHash()
    for name in names:
        ring.add(name)
    rest = set(names[1:])
    ring_moved = sum(ring.owner(k) != ring.owner(k, rest) for k in keys)
    mod_moved = sum(names[ring_hash(k) % n_servers] != names[1:][ring_hash(k) % (n_servers - 1)]
                    for k in keys)
    return pd.DataFrame([
        {"policy": "hash(key) % N", "keys_moved": mod_moved, "fraction": round(mod_moved / n_keys, 3)},
        {"policy": "consistent hash ring", "keys_moved": ring_moved,
         "fraction": round(ring_moved / n_keys, 3)},
        {"policy": "ideal (the leaver's share)", "keys_moved": n_keys // n_servers,
         "fraction": round(1 / n_servers, 3)}])


async def _garbage() -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def break_it() -> pd.DataFrame:
    """Bad backends, one at a time: garbage bytes, silence, refusal; what the client gets."""
    async def main() -> list[dict]:
        garbage = await _garbage()
        silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        refused = closed.sockets[0].getsockname()[1]
        closed.close()
        await closed.wait_closed()
        cases = [("garbage instead of HTTP", garbage.sockets[0].getsockname()[1]),
                 ("accepts, never answers", silent.sockets[0].getsockname()[1]),
                 ("connection refused", refused)]
        rows = []
        for name, port in cases:
            text = (f'[listen]\nport = 0\n[[upstream]]\nname = "u"\nservers = ["127.0.0.1:{port}"]\n'
                    'read_timeout_s = 0.3\nretries = 0\neject_after = 2\neject_s = 30\n'
                    '[[route]]\nprefix = "/"\nupstream = "u"\n')
            async with GatewayServer(parse_config(text)) as gw:
                c = await AsyncClient.connect(gw.address[1])
                statuses = [(await c.request("GET", "/x")).status for _ in range(3)]
                await c.close()
                state = gw.gateway.upstreams["u"].servers[0].breaker
            rows.append({"backend": name, "statuses": statuses, "circuit after": state})
        garbage.close()
        silent.close()
        return rows

    return pd.DataFrame(run_sync(main))


def cache_hits(n: int) -> int:
    """``n`` requests answered from the cache by ``Gateway.handle``, no sockets (to profile)."""
    from labsupport.http import HttpRequest
    from labsupport.http.parser import RequestParser

    from .proxy import Gateway

    gw = Gateway(parse_config(demo_config([9])))
    parser = RequestParser()
    parser.feed(b"GET /quotes/AAPL HTTP/1.1\r\nhost: desk\r\naccept: */*\r\n\r\n")
    request = HttpRequest(parser.next_event(), b"", ("127.0.0.1", 50000))
    gw.store(("GET", "/quotes/AAPL", b"", ()), 200,
             [(b"content-type", b"application/json")], b'{"bid": 100.25}', 3600)
    served = 0
    for _ in range(n):
        served += gw.handle(request).status == 200
    return served
