"""Small drivers the notebook uses to poke at the parser and at a running server.

Nothing here is part of the server: these are a raw-socket client and a few attack
scripts (a slowloris, a smuggling attempt) written so that a notebook cell stays short
and its printed result is deterministic (status codes and messages, never timings).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from .connection import CloseConnection, HttpConnection
from .errors import ProtocolError
from .parser import NEED_DATA, Data, RequestParser
from .response import DateHeader, Response
from .routing import HttpRequest

#: A Date line that never changes, so that the bytes a notebook cell prints are exact.
FIXED_DATE = DateHeader(clock=lambda: 1_700_000_000)


def parse_pieces(pieces: list[bytes]) -> list:
    """Feed ``pieces`` one by one; the events that came out after each piece."""
    p = RequestParser()
    out = []
    for piece in pieces:
        p.feed(piece)
        got = []
        while (ev := p.next_event()) is not NEED_DATA:
            got.append(ev)
        out.append(got)
    return out


def refusal(raw: bytes) -> tuple[int, str] | None:
    """(status, message) the parser refuses ``raw`` with, or None if it is accepted."""
    p = RequestParser()
    p.feed(raw)
    try:
        while p.next_event() is not NEED_DATA:
            pass
    except ProtocolError as exc:
        return exc.status_code, str(exc)
    return None


def run_now(awaitable: Any) -> Any:
    """The value of a coroutine that never waits on I/O, without an event loop (a notebook
    kernel already runs one, so ``asyncio.run`` is not available there)."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    steps.close()
    raise RuntimeError("the handler waited on I/O: serve it with HttpServer instead")


def serve_bytes(app: Callable[[HttpRequest], Any], data: bytes, *,
                encode: Callable[..., bytes] = Response.encode,
                date: DateHeader = FIXED_DATE) -> bytes:
    """Answer the requests in ``data`` with ``app`` through a sans-IO ``HttpConnection``: the
    bytes a server would send back, with no socket and no event loop."""
    conn = HttpConnection(date=date, encode=encode)
    conn.receive_data(data, 0.0)
    out = []
    while True:
        event = conn.next_event(0.0)
        if type(event) is HttpRequest:
            result = app(event)
            if type(result) is not Response:
                result = run_now(result)
                if not isinstance(result, Response):
                    raise TypeError(f"serve_bytes answers with a Response only, not a "
                                    f"{type(result).__name__}: serve that with HttpServer")
            out.append(conn.respond(result, 0.0))
        elif type(event) is bytes:
            out.append(event)
        else:
            if type(event) is CloseConnection:
                out.append(event.data)
            return b"".join(out)


def exchange(port: int, raw: bytes | list[bytes], *, pause_s: float = 0.0,
             wait_s: float = 1.0) -> tuple[bytes, bool]:
    """Send ``raw`` (pieces with pauses between them), read for ``wait_s`` or until the server
    closes. Returns (bytes received, whether the server closed the connection)."""
    pieces = [raw] if isinstance(raw, bytes) else raw
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        try:
            for i, piece in enumerate(pieces):
                if i and pause_s:
                    time.sleep(pause_s)
                s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse and close before we finish sending
        data, closed = b"", False
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
        return data, closed


def slowloris(port: int, *, byte_every_s: float, max_s: float) -> tuple[float, str]:
    """Dribble a request head one byte at a time; (seconds until the server hung up, its answer)."""
    head = b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 1000
    start = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=max_s) as s:
        s.settimeout(byte_every_s)
        for b in head:
            if time.monotonic() - start > max_s:
                break
            try:
                s.sendall(bytes([b]))
                answer = s.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer or answer == b"":
                break
    first_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    return time.monotonic() - start, first_line


def body_events(events: list) -> bytes:
    """The body bytes among parser events."""
    return b"".join(e.data for e in events if isinstance(e, Data))


BROWSER_REQUEST = (
    b"GET /static/app.js?v=3 HTTP/1.1\r\nHost: trading.example:8080\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: */*\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Referer: http://trading.example:8080/blotter\r\nConnection: keep-alive\r\n"
    b"Cookie: session=2f1c9a7e; theme=dark\r\nSec-Fetch-Dest: script\r\n\r\n"
)


def parse_many(raw: bytes, n: int) -> int:
    """Parse ``raw`` ``n`` times on one parser (as on a keep-alive connection); events seen."""
    p = RequestParser()
    count = 0
    for _ in range(n):
        p.feed(raw)
        while p.next_event() is not NEED_DATA:
            count += 1
    return count


def protocol_vs_streams(duration_s: float, connections: int = 16) -> list[dict]:
    """Closed-loop load on the two minimal servers (same loop, same reply).

    One row per server: requests/s, p50 and the server's CPU time per request (from /proc),
    which is the fair measure when the load generator, not the server, is the bottleneck.
    """
    import sys as _sys

    from labsupport.measure import BackgroundProcess, HttpResponseFramer, free_port, run_load

    rows = []
    for kind in ("protocol", "streams"):
        port = free_port()
        argv = [_sys.executable, "-m", "labsupport.http.minimal", kind, "--port", str(port)]
        with BackgroundProcess(argv, port=port, cpu=0, name=f"minimal-{kind}") as proc:
            before = proc.cpu_seconds()
            res = run_load("127.0.0.1", port, request=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                           framer=HttpResponseFramer(), connections=connections,
                           duration_s=duration_s, warmup_s=0.2, cpu=1, name=kind)
            used = (proc.cpu_seconds() or 0.0) - (before or 0.0)
        sent = res.throughput_per_s * (duration_s + 0.2)
        rows.append({"server": kind, "req_per_s": round(res.throughput_per_s),
                     "p50_us": round(res.summary().p50_ns / 1e3, 1),
                     "cpu_us_per_req": round(used / sent * 1e6, 1) if sent else None})
    return rows
