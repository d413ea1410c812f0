"""The gateway over real sockets on 127.0.0.1: backends, gateway and clients in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest

from labsupport.faults import FaultProxy
from labsupport.gateway import Backend, GatewayServer, parse_config
from labsupport.gateway.client import AsyncClient, crowd


def config(upstreams: dict[str, list[int]], routes: str, **up_opts: object) -> str:
    text = "[listen]\nport = 0\n"
    opts = "".join(f"{k} = {json.dumps(v)}\n" for k, v in up_opts.items())
    for name, ports in upstreams.items():
        servers = json.dumps([f"127.0.0.1:{p}" for p in ports])
        text += f'[[upstream]]\nname = "{name}"\nservers = {servers}\n{opts}'
    return text + routes


ROUTE_ALL = '[[route]]\nprefix = "/"\nupstream = "u"\n'


@contextlib.asynccontextmanager
async def backends(n: int, **kw: object):
    started = [Backend(f"b{i}", **kw) for i in range(n)]
    ports = [(await b.start())[1] for b in started]
    try:
        yield started, ports
    finally:
        for b in started:
            await b.stop()


def run(coro) -> object:
    return asyncio.run(asyncio.wait_for(coro, 120))


async def get_many(port: int, paths: list[str], headers=()) -> list:
    c = await AsyncClient.connect(port)
    try:
        return [await c.request("GET", p, headers) for p in paths]
    finally:
        await c.close()


def test_routing_longest_prefix_host_and_proxy_headers():
    async def main():
        async with backends(2) as (bs, ports):
            text = (f'[listen]\nport = 0\n[[upstream]]\nname = "a"\nservers = ["127.0.0.1:{ports[0]}"]\n'
                    f'[[upstream]]\nname = "b"\nservers = ["127.0.0.1:{ports[1]}"]\n'
                    '[[route]]\nprefix = "/api"\nupstream = "a"\n'
                    '[[route]]\nprefix = "/api/orders"\nupstream = "b"\n'
                    '[[route]]\nprefix = "/api"\nupstream = "b"\nhost = "beta.test"\n')
            async with GatewayServer(parse_config(text)) as gw:
                port = gw.address[1]
                r1, r2, r3, r4 = await get_many(port, ["/api/x", "/api/orders/1", "/apix", "/api"])
                c = await AsyncClient.connect(port)
                r5 = await c.request("GET", "/api/x", host="beta.test")
                r6 = await c.request("GET", "/api/x", [("x-request-id", "trace-42"),
                                                       ("x-forwarded-for", "10.1.1.1"),
                                                       ("connection", "keep-alive, x-drop"),
                                                       ("x-drop", "secret")])
                metrics = await c.request("GET", "/__gateway/metrics")
                await c.close()
        return r1, r2, r3, r4, r5, r6, metrics

    r1, r2, r3, r4, r5, r6, metrics = run(main())
    assert r1.headers["x-backend"] == "b0" and r2.headers["x-backend"] == "b1"
    assert r3.status == 404 and r4.headers["x-backend"] == "b0"  # /apix is not under /api
    assert r5.headers["x-backend"] == "b1"  # the Host-bound route
    seen = json.loads(r6.body)["headers"]
    assert seen["x-request-id"] == "trace-42" and r6.headers["x-request-id"] == "trace-42"
    assert seen["x-forwarded-for"] == "10.1.1.1, 127.0.0.1" and seen["via"].endswith("gateway")
    assert "x-drop" not in seen and "connection" not in seen
    assert r1.headers["via"] == "1.1 labsupport-gateway" and len(r1.headers["x-request-id"]) == 32
    text = metrics.body.decode()
    assert 'gateway_requests_total{route="/api",status="200",upstream="127.0.0.1:' in text
    assert 'route="-",status="404"' in text and 'le="+Inf"} ' in text


def test_round_robin_over_sockets_is_exact_and_connections_are_reused():
    async def main():
        async with backends(3) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, ROUTE_ALL))) as gw:
            rs = await get_many(gw.address[1], ["/x"] * 30)
            pools = gw.gateway.upstreams["u"].pools.values()
            return rs, [(p.created, p.reuses) for p in pools]

    rs, pools = run(main())
    assert [r.headers["x-backend"] for r in rs] == ["b0", "b1", "b2"] * 10
    assert pools == [(1, 9)] * 3  # one keep-alive connection per backend, reused


def test_cache_hit_miss_private_and_coalescing_of_100_concurrent_misses():
    route = '[[route]]\nprefix = "/"\nupstream = "u"\ncache_ttl_s = 30\n'

    async def main():
        async with backends(1, latency_ms=100) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, route))) as gw:
            port = gw.address[1]
            first = await get_many(port, ["/x", "/x", "/private", "/private"])
            herd = await asyncio.gather(*(get_many(port, ["/herd"]) for _ in range(100)))
            return first, [h[0] for h in herd], bs[0].hits, gw.gateway

    (a, b, p1, p2), herd, hits, gw = run(main())
    assert (a.headers["x-cache"], b.headers["x-cache"]) == ("MISS", "HIT") and a.body == b.body
    assert hits["/x"] == 1
    assert hits["/private"] == 2 and p2.headers["x-cache"] == "MISS"  # private: never stored
    assert all(r.status == 200 for r in herd) and hits["/herd"] == 1
    assert gw.coalescer.coalesced == 99 and gw.metrics.counters["cache_hits"] == 1


def test_cache_ttl_from_max_age_expires():
    route = '[[route]]\nprefix = "/"\nupstream = "u"\ncache_ttl_s = 60\n'

    async def main():
        async with backends(1) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, route))) as gw:
            port = gw.address[1]
            first = await get_many(port, ["/quotes/X", "/quotes/X"])  # max-age=1
            await asyncio.sleep(1.1)
            later = await get_many(port, ["/quotes/X"])
            return first + later, bs[0].hits["/quotes/X"]

    rs, hits = run(main())
    assert [r.headers["x-cache"] for r in rs] == ["MISS", "HIT", "MISS"] and hits == 2


def test_rate_limit_429_with_retry_after_over_sockets():
    route = ('[[route]]\nprefix = "/"\nupstream = "u"\n'
             'rate_limit = { rate_per_s = 2, burst = 4, key = "header:x-client" }\n')

    async def main():
        async with backends(1) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, route))) as gw:
            port = gw.address[1]
            a = await get_many(port, ["/x"] * 12, [("x-client", "alice")])
            b = await get_many(port, ["/x"] * 3, [("x-client", "bob")])
            return a, b, gw.gateway.metrics.counters["rate_limited"]

    a, b, limited = run(main())
    statuses = [r.status for r in a]
    assert statuses[:5] == [200] * 5  # burst 4: five pass at once
    assert 5 <= statuses.count(200) <= 6 and statuses.count(429) == 12 - statuses.count(200)
    rejected = next(r for r in a if r.status == 429)
    assert rejected.headers["retry-after"] == "1"
    assert [r.status for r in b] == [200] * 3 and limited == statuses.count(429)


def test_backend_killed_under_load_retries_eject_and_readmit():
    async def main():
        async with backends(3) as (bs, ports):
            text = config({"u": ports}, ROUTE_ALL, retries=2, health_path="/health",
                          health_interval_s=0.1, health_threshold=2, eject_after=2, eject_s=0.5)
            async with GatewayServer(parse_config(text)) as gw:
                port = gw.address[1]
                statuses: list[int] = []

                async def client():
                    c = await AsyncClient.connect(port)
                    for _ in range(40):
                        statuses.append((await c.request("GET", "/x")).status)
                        await asyncio.sleep(0.005)
                    await c.close()

                load = asyncio.gather(*(client() for _ in range(10)))
                await asyncio.sleep(0.1)
                await bs[1].stop()  # killed mid-load
                await load
                victim = gw.gateway.upstreams["u"].servers[1]
                down = (victim.active_up, victim.ejections)
                before = bs[1].hits["/x"]
                await bs[1].start(port=ports[1])  # back on its port
                await asyncio.sleep(0.6)
                after = await get_many(port, ["/x"] * 9)
                return statuses, down, before, after, gw.gateway.metrics.counters["retries"]

    statuses, (active_up, ejections), before, after, retries = run(main())
    assert len(statuses) == 400 and set(statuses) == {200}, set(statuses)
    assert retries >= 1 and (not active_up or ejections >= 1)
    assert "b1" in {r.headers["x-backend"] for r in after}  # re-admitted
    assert all(r.status == 200 for r in after)


def test_black_holed_backend_times_out_and_fails_over():
    async def main():
        async with backends(2) as (bs, ports):
            proxy = await FaultProxy(("127.0.0.1", ports[0])).start()
            try:
                text = config({"u": [proxy.port, ports[1]]}, ROUTE_ALL, retries=1,
                              read_timeout_s=0.3, eject_after=100)
                async with GatewayServer(parse_config(text)) as gw:
                    port = gw.address[1]
                    await proxy.update(blackhole=True)
                    t0 = time.monotonic()
                    rs = await get_many(port, ["/x"] * 6)
                    elapsed = time.monotonic() - t0
                    single = GatewayServer(parse_config(config(
                        {"u": [proxy.port]}, ROUTE_ALL, retries=0, read_timeout_s=0.3)))
                    await single.start()
                    t1 = time.monotonic()
                    timeout = (await get_many(single.address[1], ["/y"]))[0]
                    t_504 = time.monotonic() - t1
                    await single.stop()
            finally:
                await proxy.close()
            return rs, elapsed, timeout, t_504

    rs, elapsed, timeout, t_504 = run(main())
    assert [r.status for r in rs] == [200] * 6
    assert {r.headers["x-backend"] for r in rs} == {"b1"}
    assert elapsed < 10  # three 0.3 s timeouts at most: it does not hang
    assert timeout.status == 504 and 0.25 < t_504 < 3.0


def test_slow_backend_504_then_circuit_opens_503():
    async def main():
        async with backends(1, latency_ms=3000) as (bs, ports):
            text = config({"u": ports}, ROUTE_ALL, retries=0, read_timeout_s=0.2,
                          eject_after=2, eject_s=30)
            async with GatewayServer(parse_config(text)) as gw:
                t0 = time.monotonic()
                rs = await get_many(gw.address[1], ["/x"] * 4)
                return rs, time.monotonic() - t0, gw.gateway.upstreams["u"].servers[0].breaker

    rs, elapsed, breaker = run(main())
    assert [r.status for r in rs] == [504, 504, 503, 503] and breaker == "open"
    assert elapsed < 2.5  # two read timeouts, then the open circuit answers at once


async def _garbage_server() -> asyncio.base_events.Server:
    async def handle(reader, writer):
        await reader.read(1000)
        writer.write(b"SPAM SPAM SPAM\r\n\r\n")
        await writer.drain()
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_garbage_and_refused_backends_are_502_and_post_is_not_retried():
    async def main():
        garbage = await _garbage_server()
        gport = garbage.sockets[0].getsockname()[1]
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        dead = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        async with backends(1) as (bs, ports):
            text = config({"u": [gport]}, ROUTE_ALL, retries=0)
            text += f'[[upstream]]\nname = "v"\nservers = ["127.0.0.1:{dead}", "127.0.0.1:{ports[0]}"]\nretries = 2\n'
            text += '[[route]]\nprefix = "/v"\nupstream = "v"\n'
            async with GatewayServer(parse_config(text)) as gw:
                port = gw.address[1]
                c = await AsyncClient.connect(port)
                bad = await c.request("GET", "/x")
                posts = [await c.request("POST", "/v/orders", body=b"{}") for _ in range(2)]
                gets = [await c.request("GET", "/v/x") for _ in range(2)]
                await c.close()
        garbage.close()
        return bad, posts, gets

    bad, posts, gets = run(main())
    assert bad.status == 502 and b"status line" in bad.body
    assert sorted(r.status for r in posts) == [200, 502]  # the refused POST is not retried
    assert [r.status for r in gets] == [200, 200]  # a refused GET is retried elsewhere


def test_large_bodies_stream_through():
    async def main():
        async with backends(1) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, ROUTE_ALL))) as gw:
            c = await AsyncClient.connect(gw.address[1])
            big = await c.request("GET", "/big?bytes=20000000")
            up = await c.request("POST", "/echo", body=b"z" * 3_000_000)
            small = await c.request("GET", "/x")
            await c.close()
            return big, up, small

    big, up, small = run(main())
    assert big.status == 200 and len(big.body) == 20_000_000
    assert big.headers.get("transfer-encoding") == "chunked"  # streamed, not buffered whole
    assert up.status == 200 and up.body == b"z" * 3_000_000
    assert small.status == 200  # the connection is still good after the stream


@pytest.mark.slow
def test_many_concurrent_client_connections_zero_errors():
    n = 2000  # bounded here; the benchmark holds 10,000

    async def main():
        async with backends(2) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, ROUTE_ALL))) as gw:
            statuses = await crowd(gw.address[1], n, 2, "/x")
            return statuses, len(gw.http.connections)

    statuses, _ = run(main())
    assert statuses == {200: 2 * n}, statuses


def test_reload_under_load_drops_no_request():
    async def main():
        async with backends(2) as (bs, ports):
            one = config({"u": ports[:1]}, ROUTE_ALL)
            two = config({"u": ports[1:]}, ROUTE_ALL)
            async with GatewayServer(parse_config(one)) as gw:
                port = gw.address[1]
                statuses, names = [], []

                async def client():
                    c = await AsyncClient.connect(port)
                    for _ in range(60):
                        r = await c.request("GET", "/x")
                        statuses.append(r.status)
                        names.append(r.headers.get("x-backend"))
                    await c.close()

                load = asyncio.gather(*(client() for _ in range(8)))
                await asyncio.sleep(0.05)
                gw.reload(parse_config(two))
                await load
                return statuses, names, gw.reloads

    statuses, names, reloads = run(main())
    assert set(statuses) == {200} and len(statuses) == 480 and reloads == 1
    assert names[-1] == "b1" and "b0" in names
