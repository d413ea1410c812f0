"""The HTTP server over real sockets on 127.0.0.1 (no mocks): keep-alive, pipelining, chunked,
100-continue, static files, limits, timeouts, concurrency, middleware, shutdown, CLI."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager

import pytest

from labsupport.http import HttpServer, Limits, Response, Router
from labsupport.http.app import demo_app
from labsupport.http.client import RawResponse, ResponseReader, read_response, request

pytestmark = pytest.mark.timeout(60)


# -- a server in a thread with its own event loop ------------------------------------------------
class Running:
    def __init__(self, server: HttpServer, loop: asyncio.AbstractEventLoop, port: int) -> None:
        self.server, self.loop, self.port = server, loop, port

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the server's loop and return its result."""
        async def go():
            r = fn(*args)
            return await r if asyncio.iscoroutine(r) else r
        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(10)


@contextmanager
def serve(app, use_uvloop: bool = False, **kwargs):
    loop = None
    if use_uvloop:
        uvloop = pytest.importorskip("uvloop", reason="uvloop not installed")
        loop = uvloop.new_event_loop()
    loop = loop or asyncio.new_event_loop()
    server = HttpServer(app, **kwargs)
    port_box: list[int] = []
    started = threading.Event()

    def target():
        asyncio.set_event_loop(loop)
        port_box.append(loop.run_until_complete(server.start("127.0.0.1", 0))[1])
        started.set()
        loop.run_forever()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    assert started.wait(10)
    running = Running(server, loop, port_box[0])
    try:
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(server.shutdown(grace_s=1.0), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello static\n")
    (root / "big.bin").write_bytes(os.urandom(700_000))
    (root / "page.html").write_bytes(b"<p>" + b"x" * 5000 + b"</p>")
    (tmp_path / "secret.txt").write_bytes(b"TOP SECRET")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    (root / "inside").symlink_to(root / "hello.txt")
    return root


@pytest.fixture
def demo(www):
    with serve(demo_app(www)) as r:
        yield r


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def exchange(port: int, raw: bytes, head_only: bool = False) -> RawResponse:
    return request(port, raw, head_only)


def is_closed(sock: socket.socket, timeout: float = 3.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


GET = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n"


# -- keep-alive and pipelining ---------------------------------------------------------------------
def test_keep_alive_serves_many_requests_on_one_connection(demo):
    with connect(demo.port) as s:
        rd = ResponseReader()
        for _ in range(3):
            s.sendall(GET % b"/hello")
            status, headers, body = read_response(s, rd)
            assert (status, body) == (200, b"Hello, World!")
            assert "date" in headers and headers["server"] == "labsupport-http"
    assert demo.call(lambda: demo.server.requests_served) == 3


def test_http10_closes_unless_keep_alive(demo):
    with connect(demo.port) as s:
        s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
        status, headers, _ = read_response(s, ResponseReader())
        assert headers["connection"] == "close" and is_closed(s)
    with connect(demo.port) as s:
        s.sendall(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(s, ResponseReader())[1]["connection"] == "keep-alive"
        s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
        assert read_response(s, ResponseReader())[0] == 200


def test_pipelined_responses_in_request_order(demo):
    # Mix a plain handler, a coroutine (streaming) one and 404s: order must be kept.
    paths = [b"/hello", b"/ticks?n=2", b"/orders/7", b"/nope", b"/hello", b"/ticks?n=1", b"/orders/8"]
    with connect(demo.port) as s:
        s.sendall(b"".join(GET % p for p in paths))
        rd = ResponseReader()
        got = [read_response(s, rd) for _ in paths]
    assert [g[0] for g in got] == [200, 200, 200, 404, 200, 200, 200]
    assert got[1][2] == b"tick 0\ntick 1\n" and got[5][2] == b"tick 0\n"
    assert got[2][2] == b'{"order_id": 7}' and got[6][2] == b'{"order_id": 8}'


def test_chunked_request_and_chunked_response(demo):
    raw = (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x\r\n\r\n"
           b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n")
    status, headers, body = exchange(demo.port, raw)
    assert (status, body, headers["content-type"]) == (200, b"hello world", "text/x")
    status, headers, body = exchange(demo.port, GET % b"/ticks?n=3")
    assert headers["transfer-encoding"] == "chunked" and body == b"tick 0\ntick 1\ntick 2\n"


def test_head_has_length_but_no_body(demo):
    with connect(demo.port) as s:
        s.sendall(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"/hello")
        rd = ResponseReader()
        status, headers, _ = read_response(s, rd, head_only=True)
        assert headers["content-length"] == "13"
        # The next response starts right after the head: no stray body bytes in between.
        assert read_response(s, rd)[2] == b"Hello, World!"


def test_expect_100_continue(demo):
    with connect(demo.port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        rd = ResponseReader()
        assert read_response(s, rd)[0] == 100
        s.sendall(b"body")
        assert read_response(s, rd)[2] == b"body"


def test_expect_100_continue_with_body_too_large_gets_413_not_100(www):
    with serve(demo_app(www), limits=Limits(max_body_bytes=10)) as r, connect(r.port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n")
        status, headers, _ = read_response(s, ResponseReader())
        assert status == 413 and headers["connection"] == "close" and is_closed(s)


# -- refusals close the connection ----------------------------------------------------------------
@pytest.mark.parametrize("raw,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 501),
])
def test_bad_requests_refused_and_connection_closed(demo, raw, status):
    with connect(demo.port) as s:
        s.sendall(raw)
        got, headers, _ = read_response(s, ResponseReader())
        assert got == status and headers["connection"] == "close"
        assert is_closed(s)


def test_smuggled_second_request_is_never_served(demo):
    # CL.TE: a front end using Content-Length would forward "GET /boom" as body; we refuse it all.
    raw = (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    with connect(demo.port) as s:
        s.sendall(raw)
        assert read_response(s, ResponseReader())[0] == 400
        assert is_closed(s)
    assert demo.call(lambda: demo.server.requests_served) == 0


# -- middleware -------------------------------------------------------------------------------------
def test_handler_error_is_500_and_connection_survives(demo):
    with connect(demo.port) as s:
        rd = ResponseReader()
        s.sendall(GET % b"/boom")
        status, headers, _ = read_response(s, rd)
        assert status == 500 and "connection" not in headers
        s.sendall(GET % b"/hello")
        assert read_response(s, rd)[0] == 200


def test_gzip_when_accepted(demo):
    raw = b"GET /static/page.html HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"
    status, headers, body = exchange(demo.port, raw)
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body).startswith(b"<p>xxx")
    status, headers, body = exchange(demo.port, GET % b"/static/page.html")
    assert "content-encoding" not in headers and len(body) == 5007


def test_405_lists_allowed_methods(demo):
    status, headers, _ = exchange(demo.port, b"DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 405 and headers["allow"] == "GET, HEAD"


# -- static files ---------------------------------------------------------------------------------
def test_static_etag_and_conditional_requests(demo):
    status, headers, body = exchange(demo.port, GET % b"/static/hello.txt")
    assert (status, body) == (200, b"hello static\n")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    etag, lm = headers["etag"], headers["last-modified"]
    raw = b"GET /static/hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n" % etag.encode()
    status, headers, _ = exchange(demo.port, raw)
    assert status == 304 and headers["etag"] == etag and "content-length" not in headers
    raw = b"GET /static/hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: %s\r\n\r\n" % lm.encode()
    assert exchange(demo.port, raw)[0] == 304
    raw = b'GET /static/hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: "other"\r\n\r\n'
    assert exchange(demo.port, raw)[0] == 200


@pytest.mark.parametrize("rng,status,content_range,body", [
    (b"bytes=0-4", 206, "bytes 0-4/13", b"hello"),
    (b"bytes=6-", 206, "bytes 6-12/13", b"static\n"),
    (b"bytes=-7", 206, "bytes 6-12/13", b"static\n"),
    (b"bytes=10-100", 206, "bytes 10-12/13", b"ic\n"),
    (b"bytes=13-", 416, "bytes */13", None),
    (b"bytes=0-1,3-4", 200, None, b"hello static\n"),
])
def test_static_single_range(demo, rng, status, content_range, body):
    raw = b"GET /static/hello.txt HTTP/1.1\r\nHost: t\r\nRange: %s\r\n\r\n" % rng
    got, headers, got_body = exchange(demo.port, raw)
    assert got == status and headers.get("content-range") == content_range
    if body is not None:
        assert got_body == body


@pytest.mark.parametrize("use_uvloop", [False, True], ids=["asyncio-sendfile", "uvloop-chunks"])
def test_large_file_and_its_ranges(www, use_uvloop):
    data = (www / "big.bin").read_bytes()
    with serve(demo_app(www), use_uvloop=use_uvloop) as r, connect(r.port) as s:
        rd = ResponseReader()
        s.sendall(GET % b"/static/big.bin")
        assert read_response(s, rd)[2] == data
        s.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100000-\r\n\r\n")
        status, headers, body = read_response(s, rd)
        assert status == 206 and body == data[100000:]
        s.sendall(GET % b"/hello")  # the connection is still usable after sendfile
        assert read_response(s, rd)[2] == b"Hello, World!"


@pytest.mark.parametrize("path", [
    b"/static/../secret.txt", b"/static/%2e%2e/secret.txt", b"/static/%2E%2E%2Fsecret.txt",
    b"/static/..%2fsecret.txt", b"/static//etc/passwd", b"/static/%2fetc%2fpasswd",
    b"/static/..\\secret.txt", b"/static/%5c..%5csecret.txt", b"/static/hello.txt%00.png",
    b"/static/escape", b"/static/./hello.txt",
])
def test_path_traversal_refused(demo, path):
    status, _, body = exchange(demo.port, GET % path)
    assert status in (403, 404) and b"SECRET" not in body and b"root:" not in body


def test_symlink_inside_root_is_served(demo):
    assert exchange(demo.port, GET % b"/static/inside")[2] == b"hello static\n"


# -- timeouts (real clock, short limits) and the injected clock --------------------------------------
def test_slowloris_gets_408_after_header_timeout(www):
    with serve(demo_app(www), header_timeout=0.4, tick_s=0.05) as r, connect(r.port) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /hello HTTP/1.1\r\n")
        # Keep dribbling inside the deadline: if each byte extended it, the 408 would come
        # 0.4 s after the LAST byte (about 0.7 s in); it must come 0.4 s after the first.
        # Writing past the deadline would race the server's close (EPIPE / RST), so stop at 0.3 s.
        for _ in range(3):
            time.sleep(0.1)
            try:
                s.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break  # a very slow machine overslept past the deadline: the server closed
        status, headers, _ = read_response(s, ResponseReader())
        assert status == 408 and is_closed(s)
        assert time.monotonic() - t0 < 2.0


def test_idle_keep_alive_connection_is_closed(www):
    with serve(demo_app(www), keepalive_timeout=0.3, tick_s=0.05) as r, connect(r.port) as s:
        s.sendall(GET % b"/hello")
        read_response(s, ResponseReader())
        assert is_closed(s, timeout=2.0)


def test_timeouts_follow_the_injected_clock(www):
    now = [1000.0]
    with serve(demo_app(www), clock=lambda: now[0], tick_s=3600, header_timeout=10) as r, \
            connect(r.port) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHo")
        time.sleep(0.2)
        r.call(r.server.sweep, 1009.0)  # 9 s later: still within the header timeout
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)
        r.call(r.server.sweep, 1011.0)
        s.settimeout(3)
        assert read_response(s, ResponseReader())[0] == 408


def test_header_timeout_counts_from_the_arrival_not_from_the_last_tick(www):
    # The tick swept at 1000.0; half a request line arrives at 1000.49. With header_timeout=1
    # the 408 is due at 1001.49: the sweep at 1001.0 must not fire it (a deadline computed from
    # the time of the last tick would), the one at 1001.5 must.
    now = [1000.0]
    with serve(demo_app(www), clock=lambda: now[0], tick_s=3600, header_timeout=1) as r, \
            connect(r.port) as s:
        r.call(r.server.sweep, 1000.0)
        now[0] = 1000.49
        s.sendall(b"GET /hel")
        deadline = time.monotonic() + 5
        while r.call(lambda: [p.conn.phase for p in r.server.connections]) != ["head"]:
            assert time.monotonic() < deadline, "the server never saw the bytes"
            time.sleep(0.01)
        r.call(r.server.sweep, 1001.0)
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)
        r.call(r.server.sweep, 1001.5)
        s.settimeout(3)
        assert read_response(s, ResponseReader())[0] == 408


def test_408_does_not_come_before_the_header_timeout(www):
    # Real clock, the default half-second tick: the 408 may be up to a tick late, never early.
    with serve(demo_app(www), header_timeout=1.0, tick_s=0.5) as r, connect(r.port) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /hello HT")
        status = read_response(s, ResponseReader())[0]
        elapsed = time.monotonic() - t0
    assert status == 408 and 1.0 <= elapsed < 5.0, elapsed


# -- concurrency, backpressure, shutdown ------------------------------------------------------------
def test_250_concurrent_connections(demo):
    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET % b"/hello")
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(13)
        writer.close()
        return head[:12] + body

    async def main():
        return await asyncio.gather(*(client(demo.port) for _ in range(250)))

    results = asyncio.run(main())
    assert results == [b"HTTP/1.1 200Hello, World!"] * 250


def test_reading_pauses_when_the_client_does_not_read(www):
    # 30 pipelined requests for 700 kB each (21 MB) that the client does not read yet: the server
    # must stop producing responses (write backpressure), then serve them all once it reads.
    with serve(demo_app(www)) as r, connect(r.port) as s:
        s.sendall((GET % b"/static/big.bin") * 30)
        time.sleep(0.5)
        conns = r.call(lambda: [p.conn for p in r.server.connections])
        assert len(conns) == 1 and conns[0].requests_served < 30
        assert conns[0].write_paused or conns[0].busy
        rd = ResponseReader()
        for _ in range(30):
            assert len(read_response(s, rd)[2]) == 700_000


def test_graceful_shutdown_finishes_in_flight_request():
    async def slow(request):
        await asyncio.sleep(0.3)
        return Response("done")
    router = Router()
    router.add("GET", "/slow", slow)
    with serve(router) as r, connect(r.port) as s:
        s.sendall(GET % b"/slow")
        time.sleep(0.1)
        fut = asyncio.run_coroutine_threadsafe(r.server.shutdown(grace_s=5), r.loop)
        status, headers, body = read_response(s, ResponseReader())
        assert (status, body, headers["connection"]) == (200, b"done", "close")
        fut.result(5)
        with pytest.raises(OSError):
            connect(r.port).close()


# -- command line ----------------------------------------------------------------------------------
def test_cli_serves_hello_echo_and_static(www):
    from labsupport.measure import BackgroundProcess, free_port
    port = free_port()
    argv = [sys.executable, "-m", "labsupport.http", "--port", str(port), "--root", str(www),
            "--max-body", "100"]
    with BackgroundProcess(argv, port=port):
        base = f"http://127.0.0.1:{port}"
        assert urllib.request.urlopen(base + "/hello").read() == b"Hello, World!"
        req = urllib.request.Request(base + "/echo", data=b"ping", headers={"Content-Type": "text/x"})
        with urllib.request.urlopen(req) as resp:
            assert resp.read() == b"ping" and resp.headers["content-type"] == "text/x"
        assert urllib.request.urlopen(base + "/static/hello.txt").read() == b"hello static\n"
        assert exchange(port, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")[0] == 413


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labsupport.http", *args], capture_output=True,
                          text=True, timeout=30)


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    cases = [
        (["--root", str(tmp_path / "nope")], f"{tmp_path / 'nope'}: no such directory (--root)"),
        (["--root", str(tmp_path / "file.txt")], f"{tmp_path / 'file.txt'}: not a directory (--root)"),
        (["--port", "70000"], "argument --port: port 70000 is not in 0-65535"),
        (["--header-timeout", "soon"], "argument --header-timeout: not a number of seconds: 'soon'"),
        (["--app", "no_such_module_anywhere:app"], "no module named 'no_such_module_anywhere'"),
        (["--app", "labsupport.http.app:nothing"], "'labsupport.http.app' has no attribute 'nothing'"),
        (["--app", "labsupport.http.app"], "--app wants MODULE:ATTR"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ]
    for args, message in cases:
        out = _cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.count("\n") == 1, (args, out.stderr)
        assert out.stderr.startswith("python -m labsupport.http: error: ") and message in out.stderr, out.stderr


def test_cli_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = _cli("--port", str(taken.getsockname()[1]), "--no-uvloop")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "address already in use" in out.stderr.lower(), out.stderr


def test_streaming_to_http10_client_is_close_delimited(demo):
    with connect(demo.port) as s:
        s.sendall(b"GET /ticks?n=2 HTTP/1.0\r\n\r\n")
        status, headers, body = read_response(s, ResponseReader())
    assert status == 200 and "transfer-encoding" not in headers and "content-length" not in headers
    assert body == b"tick 0\ntick 1\n"


def test_head_of_a_streamed_response_sends_no_chunks(demo):
    with connect(demo.port) as s:
        rd = ResponseReader()
        s.sendall(b"HEAD /ticks?n=3 HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"/hello")
        status, headers, _ = read_response(s, rd, head_only=True)
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        assert read_response(s, rd)[2] == b"Hello, World!"
