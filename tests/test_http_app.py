"""Routing, middleware and the benchmark's helpers, without sockets."""

from __future__ import annotations

import asyncio
import gzip as gz
import logging

import pytest

from labsupport.http import HttpRequest, Response, Router, access_log, catch_errors, chain, gzip
from labsupport.http.bench import _wrk_latency_us, available, request_for
from labsupport.http.middleware import accepts_gzip
from labsupport.http.parser import Request
from labsupport.http.static import parse_range


def make_request(method: str = "GET", path: str = "/", headers=()) -> HttpRequest:
    head = Request(method, path.encode(), path.partition("?")[0], path.partition("?")[2].encode(),
                   "1.1", tuple(headers), True, False, 0, False)
    return HttpRequest(head)


def run(result):
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


@pytest.fixture
def router() -> Router:
    r = Router()
    r.add("GET", "/orders/{order_id:int}", lambda req: Response(f"get {req.params['order_id']!r}"))
    r.add("DELETE", "/orders/{order_id:int}", lambda req: Response("deleted"))
    r.add("GET", "/px/{price:float}", lambda req: Response(repr(req.params["price"])))
    r.add("GET", "/files/{rest:path}", lambda req: Response(req.params["rest"]))
    r.add("GET", "/users/{name}", lambda req: Response(req.params["name"]))
    r.add("POST", "/fixed", lambda req: Response("fixed"))
    return r


@pytest.mark.parametrize("method,path,status,body", [
    ("GET", "/orders/42", 200, b"get 42"),
    ("GET", "/orders/-3", 200, b"get -3"),
    ("HEAD", "/orders/42", 200, b"get 42"),
    ("DELETE", "/orders/42", 200, b"deleted"),
    ("GET", "/orders/4x", 404, None),
    ("PUT", "/orders/42", 405, None),
    ("GET", "/px/101.25", 200, b"101.25"),
    ("GET", "/files/a/b/c.txt", 200, b"a/b/c.txt"),
    ("GET", "/users/ada%20l", 200, b"ada l"),
    ("GET", "/users/a/b", 404, None),
    ("GET", "/fixed", 405, None),
    ("GET", "/nothing", 404, None),
])
def test_routing(router, method, path, status, body):
    resp = router(make_request(method, path))
    assert resp.status == status
    if body is not None:
        assert resp.body == body


def test_405_allow_header(router):
    assert router(make_request("PUT", "/orders/1")).header(b"allow") == b"DELETE, GET, HEAD"
    assert router(make_request("GET", "/fixed")).header(b"allow") == b"POST"


def test_bad_route_patterns():
    with pytest.raises(ValueError, match="unknown converter"):
        Router().add("GET", "/a/{x:uuid}", lambda r: None)
    with pytest.raises(ValueError, match="must start"):
        Router().add("GET", "a", lambda r: None)


def test_middleware_order_and_async_handlers():
    seen = []

    def tag(label):
        def mw(request, call_next):
            seen.append(label)
            return call_next(request)
        return mw

    async def handler(request):
        return Response("async")

    app = chain(handler, tag("outer"), tag("inner"))
    assert run(app(make_request())).body == b"async"
    assert seen == ["outer", "inner"]


@pytest.mark.parametrize("is_async", [False, True])
def test_catch_errors_turns_exceptions_into_500(is_async, caplog):
    def boom(request):
        raise KeyError("x")

    async def aboom(request):
        raise KeyError("x")

    app = chain(aboom if is_async else boom, catch_errors(expose=True))
    with caplog.at_level(logging.ERROR):
        resp = run(app(make_request()))
    assert resp.status == 500 and b"KeyError" in resp.body


def test_access_log_times_with_injected_clock():
    ticks = iter([1_000, 251_000])
    sink = []
    app = chain(lambda r: Response("ok", 201), access_log(clock=lambda: next(ticks), sink=sink))
    resp = app(make_request("GET", "/x"))
    assert sink == [("GET", "/x", 201, 250_000)]
    assert resp.header(b"server-timing") == b"app;dur=0.250"


def test_gzip_only_when_accepted_and_large():
    big = "quote " * 500
    app = chain(lambda r: Response(big), gzip(min_size=1024))
    plain = app(make_request())
    assert plain.body == big.encode() and plain.header(b"content-encoding") is None
    zipped = app(make_request(headers=[(b"accept-encoding", b"br, gzip;q=0.8")]))
    assert zipped.header(b"content-encoding") == b"gzip" and gz.decompress(zipped.body) == big.encode()
    small = chain(lambda r: Response("tiny"), gzip())(make_request(headers=[(b"accept-encoding", b"gzip")]))
    assert small.header(b"content-encoding") is None


@pytest.mark.parametrize("value,expected", [
    (b"gzip", True), (b"deflate, gzip;q=0.5", True), (b"gzip;q=0", False), (b"*", True),
    (b"br", False), (None, False), (b"identity", False),
])
def test_accepts_gzip(value, expected):
    assert accepts_gzip(value) is expected


@pytest.mark.parametrize("value,size,expected", [
    (b"bytes=0-9", 100, (0, 9)), (b"bytes=90-", 100, (90, 99)), (b"bytes=-10", 100, (90, 99)),
    (b"bytes=-500", 100, (0, 99)), (b"bytes=50-10", 100, None), (b"bytes=100-", 100, "unsatisfiable"),
    (b"bytes=-0", 100, "unsatisfiable"), (b"items=0-1", 100, None), (b"bytes=0-1,4-5", 100, None),
    (b"bytes=x-1", 100, None),
])
def test_parse_range(value, size, expected):
    assert parse_range(value, size) == expected


WRK_OUT = """Running 2s test @ http://127.0.0.1:1/hello
  1 threads and 64 connections
  Latency Distribution
     50%    2.54ms
     75%    3.10ms
     90%    4.00ms
     99%  812.00us
  60950 requests in 3.01s, 9.01MB read
Requests/sec:  20271.04
"""


def test_wrk_output_parsing():
    assert _wrk_latency_us(WRK_OUT, "50") == pytest.approx(2540.0)
    assert _wrk_latency_us(WRK_OUT, "99") == pytest.approx(812.0)
    assert _wrk_latency_us(WRK_OUT, "99.9") is None


def test_bench_candidates_and_requests():
    chosen, skipped = available()
    names = {s.name for s in chosen} | {m.split(":")[0] for m in skipped}
    assert {"ours native", "uvicorn raw ASGI", "aiohttp", "Flask dev server"} <= names
    assert all("not installed" in m for m in skipped)
    assert request_for("static")[1].startswith(b"GET /static/64k.bin HTTP/1.1\r\n")


def test_static_several_ranges_go_to_the_multi_range_hook(tmp_path):
    from labsupport.http import StaticFiles
    (tmp_path / "a.txt").write_bytes(b"0123456789")
    asked = []

    def hook(data, value, ctype, boundary):
        asked.append((data, value, ctype))
        return None if b"x" in value else b"--%s--\r\n" % boundary

    static = StaticFiles(tmp_path, multi_range=hook)

    def get(rng: bytes):
        return static(make_request("GET", "/static/a.txt", [(b"range", rng)]))

    resp = get(b"bytes=0-1,4-5")
    assert resp.status == 206 and resp.content_type.startswith(b"multipart/byteranges; boundary=byteranges-")
    assert resp.body == b"--" + resp.content_type.split(b"boundary=")[1] + b"--\r\n"
    assert (get(b"bytes=0-1,x").status, get(b"bytes=2-3").status) == (200, 206)  # None: whole file
    assert asked == [(b"0123456789", b"bytes=0-1,4-5", b"text/plain; charset=utf-8"),
                     (b"0123456789", b"bytes=0-1,x", b"text/plain; charset=utf-8")]
    assert StaticFiles(tmp_path)(make_request("GET", "/static/a.txt", [(b"range", b"bytes=0-1,4-5")])).status == 200
