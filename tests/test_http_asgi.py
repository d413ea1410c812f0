"""The ASGI 3 adapter running real framework applications (FastAPI / Starlette) over sockets."""

from __future__ import annotations

import asyncio

import pytest
from test_http_server import GET, connect, exchange, serve

from labsupport.http import ASGIAdapter, Lifespan
from labsupport.http.app import asgi_hello
from labsupport.http.client import RawClient, ResponseReader, read_response

pytestmark = pytest.mark.timeout(60)


def test_raw_asgi_hello():
    with serve(ASGIAdapter(asgi_hello)) as r, connect(r.port) as s:
        rd = ResponseReader()
        for _ in range(3):  # keep-alive through the adapter
            s.sendall(GET % b"/")
            status, headers, body = read_response(s, rd)
            assert (status, body, headers["content-length"]) == (200, b"Hello, World!", "13")


def test_asgi_streaming_and_disconnect_messages():
    seen = []

    async def app(scope, receive, send):
        msg = await receive()
        seen.append((scope["method"], scope["path"], scope["query_string"], msg["body"]))
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-a", b"1")]})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        seen.append((await asyncio.wait_for(receive(), 2))["type"])

    with serve(ASGIAdapter(app)) as r:
        raw = b"POST /a%20b?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
        status, headers, body = exchange(r.port, raw)
        assert (status, headers["transfer-encoding"], body) == (201, "chunked", b"one two three")
    assert seen == [("POST", "/a b", b"x=1", b"abc"), "http.disconnect"]


def test_asgi_app_exception_is_500():
    async def app(scope, receive, send):
        raise RuntimeError("broken app")

    with serve(ASGIAdapter(app)) as r:
        assert exchange(r.port, GET % b"/")[0] == 500


def test_fastapi_app_on_our_server():
    app = pytest.importorskip("labsupport.http.fastapi_app", reason="FastAPI not installed (peers extra)").app
    with serve(ASGIAdapter(app)) as r:
        status, headers, body = exchange(r.port, GET % b"/orders/42?verbose=true")
        assert (status, body) == (200, b'{"order_id":42,"verbose":true}')
        assert headers["content-type"] == "application/json"
        payload = b'{"symbol": "ACME", "qty": 5}'
        raw = (b"POST /orders HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        assert exchange(r.port, raw)[2] == b'{"accepted":"ACME","qty":5}'
        assert exchange(r.port, GET % b"/orders/notanint")[0] == 422
        assert exchange(r.port, GET % b"/missing")[0] == 404


def test_fastapi_head_is_405_and_its_body_is_not_sent():
    # FastAPI registers GET routes for GET only (Starlette's own Route adds HEAD; FastAPI's
    # APIRoute does not), so HEAD is its 405 with Allow: GET. The server must still send no
    # body for a HEAD: the GET pipelined behind it is read from the very next byte.
    app = pytest.importorskip("labsupport.http.fastapi_app", reason="FastAPI not installed (peers extra)").app
    with serve(ASGIAdapter(app)) as r, RawClient(r.port) as c:
        c.send(b"HEAD /orders/1 HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"/orders/1")
        status, headers, body = c.read(head_only=True)
        assert (status, headers["allow"], body) == (405, "GET", b"")
        assert headers["content-length"] == str(len(b'{"detail":"Method Not Allowed"}'))
        status, _, body = c.read()
        assert (status, body) == (200, b'{"order_id":1,"verbose":false}')


def test_starlette_streaming_response():
    pytest.importorskip("starlette", reason="Starlette not installed (peers extra)")
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def numbers(request):
        async def gen():
            for i in range(3):
                yield f"{i}\n"
        return StreamingResponse(gen(), media_type="text/plain")

    app = Starlette(routes=[Route("/n", numbers)])
    with serve(ASGIAdapter(app)) as r:
        assert exchange(r.port, GET % b"/n")[2] == b"0\n1\n2\n"


def test_lifespan_startup_and_shutdown_run():
    events = []

    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        while True:
            msg = await receive()
            events.append(msg["type"])
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return

    async def main():
        span = Lifespan(app)
        await span.startup()
        await span.shutdown()

    asyncio.run(main())
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_lifespan_unsupported_app_is_tolerated():
    async def app(scope, receive, send):
        raise ValueError(f"unknown scope {scope['type']}")

    async def main():
        span = Lifespan(app)
        await span.startup()
        await span.shutdown()
        return span.supported

    assert asyncio.run(main()) is False


def test_cli_serves_an_asgi_app():
    pytest.importorskip("fastapi", reason="FastAPI not installed (peers extra)")
    import sys

    from labsupport.measure import BackgroundProcess, free_port
    port = free_port()
    argv = [sys.executable, "-m", "labsupport.http", "--port", str(port),
            "--app", "labsupport.http.fastapi_app:app"]
    with BackgroundProcess(argv, port=port):
        status, _, body = exchange(port, GET % b"/orders/5")
        assert (status, body) == (200, b'{"order_id":5,"verbose":false}')
