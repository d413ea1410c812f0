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
from labsupport.http import HttpRequest, HttpServer, Limits, Response, StreamingResponse
from labsupport.http.client import NEED_DATA, ResponseReader


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


@contextlib.asynccontextmanager
async def cached_gateway(ttl_s: int):
    """One demo backend behind a gateway whose one route caches for ``ttl_s``."""
    route = f'[[route]]\nprefix = "/"\nupstream = "u"\ncache_ttl_s = {ttl_s}\n'
    async with backends(1) as (bs, ports), \
            GatewayServer(parse_config(config({"u": ports}, route))) as gw:
        yield bs[0], gw.address[1]


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


def test_cache_hits_carry_the_clients_request_id_or_a_new_one_each():
    async def main():
        async with cached_gateway(30) as (backend, port):
            miss = await get_many(port, ["/book/1"])
            hits = await get_many(port, ["/book/1", "/book/1"])
            mine = await get_many(port, ["/book/1"], [("x-request-id", "desk-7-0001")])
            return miss + hits + mine, backend.hits["/book/1"]

    (miss, hit1, hit2, mine), upstream_hits = run(main())
    assert upstream_hits == 1 and [r.headers["x-cache"] for r in (hit1, hit2, mine)] == ["HIT"] * 3
    ids = [r.headers["x-request-id"] for r in (miss, hit1, hit2)]
    assert all(len(i) == 32 for i in ids) and len(set(ids)) == 3  # generated, one per request
    assert ids[1][:16] == ids[2][:16] == ids[0][:16]  # this gateway's prefix
    assert mine.headers["x-request-id"] == "desk-7-0001"  # the client's own, passed back
    assert hit1.body == miss.body and "via" in hit1.headers


def test_cache_ttl_from_max_age_expires():
    async def main():
        async with cached_gateway(60) as (backend, port):
            first = await get_many(port, ["/quotes/X", "/quotes/X"])  # max-age=1
            await asyncio.sleep(1.1)
            later = await get_many(port, ["/quotes/X"])
            return first + later, backend.hits["/quotes/X"]

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


def test_large_bodies_stream_through_with_their_length_and_head_keeps_it():
    async def main():
        async with backends(1) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, ROUTE_ALL))) as gw:
            c = await AsyncClient.connect(gw.address[1])
            big = await c.request("GET", "/big?bytes=20000000")
            head_big = await c.request("HEAD", "/big?bytes=20000000")
            get_small = await c.request("GET", "/quotes/X")
            head_small = await c.request("HEAD", "/quotes/X")
            up = await c.request("POST", "/echo", body=b"z" * 3_000_000)
            small = await c.request("GET", "/x")
            await c.close()
            return big, head_big, get_small, head_small, up, small

    big, head_big, get_small, head_small, up, small = run(main())
    assert big.status == 200 and len(big.body) == 20_000_000
    assert big.headers["content-length"] == "20000000" and "transfer-encoding" not in big.headers
    assert head_big.headers["content-length"] == "20000000" and head_big.body == b""
    assert head_small.headers["content-length"] == str(len(get_small.body)) != "0"
    assert head_small.body == b""
    assert up.status == 200 and up.body == b"z" * 3_000_000
    assert small.status == 200  # the connection is still good after the streams


async def _held_backend():
    """A backend whose /down answer stops halfway until ``release`` is set, and whose /up
    handler reads a streamed request body and sets ``first`` on its first piece."""
    release, first = asyncio.Event(), asyncio.Event()

    async def half_then_rest():
        yield b"a" * 600_000
        await release.wait()
        yield b"b" * 600_000

    async def app(request: HttpRequest):
        if request.path == "/down":
            return StreamingResponse(half_then_rest(), content_length=1_200_000)
        seen: list[int] = []
        async for piece in request.stream:
            seen.append(len(piece))
            first.set()
        return Response(b"%d bytes in %d pieces" % (sum(seen), len(seen)),
                        headers=[("x-chunked", str(request.head.chunked))])

    server = HttpServer(app, stream_body=lambda head: True, limits=Limits(max_body_bytes=1 << 24))
    port = (await server.start("127.0.0.1", 0))[1]
    return server, port, release, first


async def _read_until(reader: asyncio.StreamReader, rr: ResponseReader, want_bytes: int) -> int:
    got = 0
    while got < want_bytes:
        data = await reader.read(65536)
        assert data, "connection closed early"
        rr.feed(data)
        got += len(data)
    return got


def test_response_and_request_bodies_are_forwarded_as_they_arrive_not_buffered():
    async def main():
        server, port, release, first = await _held_backend()
        try:
            async with GatewayServer(parse_config(config({"u": [port]}, ROUTE_ALL))) as gw:
                reader, writer = await asyncio.open_connection("127.0.0.1", gw.address[1])
                rr = ResponseReader()
                # Down: the first half reaches the client while the backend holds the rest.
                writer.write(b"GET /down HTTP/1.1\r\nhost: g\r\n\r\n")
                await asyncio.wait_for(_read_until(reader, rr, 500_000), 10)
                release.set()
                while (down := rr.next_response()) is NEED_DATA:
                    rr.feed(await reader.read(65536))
                # Up: the backend reads the first part before the client has sent the rest.
                writer.write(b"POST /up HTTP/1.1\r\nhost: g\r\ncontent-length: 3000000\r\n\r\n"
                             + b"x" * 1_000_000)
                await asyncio.wait_for(first.wait(), 10)
                writer.write(b"x" * 2_000_000)
                while (up := rr.next_response()) is NEED_DATA:
                    rr.feed(await reader.read(65536))
                # Chunked up: re-chunked to the backend, piece by piece.
                writer.write(b"POST /up HTTP/1.1\r\nhost: g\r\ntransfer-encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                while (chunked := rr.next_response()) is NEED_DATA:
                    rr.feed(await reader.read(65536))
                writer.close()
                return down, up, chunked
        finally:
            await server.shutdown(grace_s=1.0)

    down, up, chunked = run(main())
    assert down.status == 200 and down.body == b"a" * 600_000 + b"b" * 600_000
    assert down.headers["content-length"] == "1200000"
    assert up.status == 200 and up.body.startswith(b"3000000 bytes in ")
    assert int(up.body.split()[3]) > 1  # it came in pieces, as sent
    assert chunked.body.startswith(b"11 bytes") and chunked.headers["x-chunked"] == "True"


def test_client_breaking_off_a_streamed_body_is_not_held_against_the_backend():
    async def main():
        async with backends(1) as (bs, ports), \
                GatewayServer(parse_config(config({"u": ports}, ROUTE_ALL, eject_after=1))) as gw:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.address[1])
            writer.write(b"POST /echo HTTP/1.1\r\nhost: g\r\ncontent-length: 1000000\r\n\r\n"
                         + b"x" * 200_000)
            await writer.drain()
            await asyncio.sleep(0.2)  # the first part is on its way to the backend
            writer.transport.abort()  # the client goes away mid-body
            for _ in range(100):
                if gw.gateway.metrics.in_flight == 0:
                    break
                await asyncio.sleep(0.02)
            server = gw.gateway.upstreams["u"].servers[0]
            after = await get_many(gw.address[1], ["/x"])
            return server.failures, server.breaker, gw.gateway.metrics.in_flight, after[0]

    failures, breaker, in_flight, after = run(main())
    assert (failures, breaker, in_flight) == (0, "closed", 0)
    assert after.status == 200


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
