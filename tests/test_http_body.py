"""The streaming-body hook (``body.py``): sans-IO tables of what ``StreamingConnection`` hands
out and when it pauses, then real sockets: a handler sees the first piece of a body before the
client has sent the rest, a handler that does not read stops the server reading (bounded
buffer), a malformed chunked body is refused, and ``StreamingResponse`` with a known length."""

from __future__ import annotations

import asyncio
import socket

import pytest

from labsupport.http import DateHeader, HttpRequest, HttpServer, Limits, Response, StreamingResponse
from labsupport.http.body import StreamingConnection
from labsupport.http.client import ResponseReader, split_responses
from labsupport.http.connection import NEED_DATA, PAUSED, CloseConnection
from labsupport.http.parser import Data, EndOfMessage

pytestmark = pytest.mark.timeout(60)
DATE = DateHeader(clock=lambda: 1_700_000_000)
POST = b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
CHUNKED = b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def make(**kwargs) -> StreamingConnection:
    return StreamingConnection(now=0.0, date=DATE, body_timeout=3.0,
                               stream_body=lambda head: head.method == "POST", **kwargs)


def pieces(conn: StreamingConnection, now: float = 0.0) -> list:
    out = []
    while True:
        event = conn.receive_body(now)
        if type(event) is Data:
            out.append(event.data)
        else:
            out.append(event)
            return out


def test_streamed_request_is_handed_out_at_its_head_and_its_body_piece_by_piece():
    conn = make()
    conn.receive_data(POST % 10 + b"01234", 0.0)
    request = conn.next_event(0.0)
    assert isinstance(request, HttpRequest) and request.body == b"" and conn.busy
    assert conn.phase == "body" and conn.deadline == 3.0
    assert pieces(conn, 1.0) == [b"01234", NEED_DATA] and conn.deadline == 4.0
    conn.receive_data(b"56789GET /next HTTP/1.1\r\nHost: t\r\n\r\n", 2.0)
    assert conn.next_event(2.0) is NEED_DATA  # busy: the pipelined GET waits
    assert pieces(conn, 2.0) == [b"56789", EndOfMessage()] and conn.phase == "handling"
    (resp,) = split_responses(conn.respond(Response("ok"), 2.0))
    assert resp.headers.get("connection") is None  # kept alive: the body was read to the end
    nxt = conn.next_event(2.0)
    assert nxt.method == "GET" and nxt.stream is None and nxt.body == b""  # not streamed


def test_chunked_body_streams_and_a_bad_chunk_is_a_400_refusal():
    conn = make()
    conn.receive_data(CHUNKED + b"5\r\nhello\r\n3\r\nabc\r\n", 0.0)
    assert isinstance(conn.next_event(0.0), HttpRequest)
    assert pieces(conn) == [b"hello", b"abc", NEED_DATA]
    conn.receive_data(b"zz\r\n", 0.0)
    refusal = conn.receive_body(0.0)
    assert isinstance(refusal, CloseConnection) and refusal.status == 400 and conn.closing
    assert b"invalid chunk size" in refusal.data


def test_unread_body_pauses_reading_and_taking_it_resumes():
    conn = make(max_pipelined_bytes=1000)
    conn.receive_data(POST % 5000, 0.0)
    assert isinstance(conn.next_event(0.0), HttpRequest)
    conn.receive_data(b"x" * 1500, 0.0)
    assert conn.next_event(0.0) is PAUSED  # the handler is not taking it: stop reading
    assert pieces(conn)[0] == b"x" * 1500
    assert conn.next_event(0.0) is NEED_DATA  # taken: read again


@pytest.mark.parametrize(("rest", "closes"), [(b"6789", False), (b"67", True)])
def test_response_before_the_body_ends_skips_it_or_closes(rest, closes):
    conn = make()
    conn.receive_data(POST % 10 + b"012345" + rest, 0.0)
    assert isinstance(conn.next_event(0.0), HttpRequest)
    (resp,) = split_responses(conn.respond(Response("refused", 403), 0.0))
    assert (resp.headers.get("connection") == "close") is closes and conn.closing is closes


def test_requests_without_a_body_or_not_chosen_are_not_streamed():
    conn = make()
    conn.receive_data(b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc", 0.0)
    request = conn.next_event(0.0)
    assert request.body == b"abc" and request.stream is None and not conn.streaming


# -- real sockets --------------------------------------------------------------------------------
async def _serve(app, **kwargs):
    server = HttpServer(app, stream_body=lambda head: True, **kwargs)
    host, port = await server.start("127.0.0.1", 0)
    return server, port


def test_handler_sees_the_first_piece_before_the_client_sends_the_rest():
    async def main():
        first_seen = asyncio.Event()
        got: list[bytes] = []

        async def app(request: HttpRequest):
            async for piece in request.stream:
                got.append(piece)
                first_seen.set()
            return Response(b"%d bytes" % sum(map(len, got)))

        server, port = await _serve(app)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(POST % 200_000 + b"a" * 100_000)
            await asyncio.wait_for(first_seen.wait(), 10)  # the rest is not even sent yet
            seen_before_rest = sum(map(len, got))
            writer.write(b"b" * 100_000)
            rr = ResponseReader()
            while (resp := rr.next_response()) is NEED_DATA:
                rr.feed(await reader.read(65536))
            writer.close()
            return seen_before_rest, resp
        finally:
            await server.shutdown(grace_s=1.0)

    seen, resp = asyncio.run(main())
    assert 0 < seen <= 100_000
    assert resp.status == 200 and resp.body == b"200000 bytes"


def test_a_handler_that_does_not_read_bounds_what_the_server_buffers():
    async def main():
        release = asyncio.Event()
        seen: dict[str, int] = {}

        async def app(request: HttpRequest):
            await release.wait()
            seen["buffered"] = server.connections.copy().pop().conn.parser.buffered
            n = len(await request.stream.read())
            return Response(b"%d" % n)

        server, port = await _serve(app, limits=Limits(max_body_bytes=16 << 20))
        try:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            body = 8 << 20
            await loop.sock_sendall(sock, POST % body)
            sent, stalled_s = 0, 0.0
            # Write until the server stops reading: the socket buffers fill, send() blocks.
            while sent < body and stalled_s < 0.5:
                try:
                    sent += sock.send(b"z" * min(65536, body - sent))
                    stalled_s = 0.0
                except BlockingIOError:
                    await asyncio.sleep(0.05)
                    stalled_s += 0.05
            stalled_at = sent
            release.set()
            send_rest = loop.create_task(loop.sock_sendall(sock, b"z" * (body - sent)))
            rr = ResponseReader()
            while (resp := rr.next_response()) is NEED_DATA:
                rr.feed(await loop.sock_recv(sock, 65536))
            await send_rest
            sock.close()
            return stalled_at, seen["buffered"], resp
        finally:
            await server.shutdown(grace_s=1.0)

    stalled_at, buffered, resp = asyncio.run(main())
    assert stalled_at < 4 << 20  # the client was held back long before the 8 MiB end
    assert buffered <= 256 * 1024 + 262144  # the limit plus one read, not the body
    assert resp.status == 200 and resp.body == b"%d" % (8 << 20)


def test_malformed_streamed_body_is_refused_400_and_the_handler_told():
    async def main():
        errors: list[str] = []

        async def app(request: HttpRequest):
            try:
                await request.stream.read()
            except Exception as exc:
                errors.append(type(exc).__name__)
                raise
            return Response("unreachable")

        server, port = await _serve(app)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(CHUNKED + b"5\r\nhello\r\nnot-hex\r\n")
            data = await asyncio.wait_for(reader.read(), 10)  # until the server closes
            writer.close()
            return data, errors
        finally:
            await server.shutdown(grace_s=1.0)

    data, errors = asyncio.run(main())
    assert data.startswith(b"HTTP/1.1 400 ") and b"invalid chunk size" in data
    assert errors == ["ProtocolError"]


def test_streaming_response_with_a_known_length_is_not_chunked_and_head_keeps_it():
    async def pieces_of(n: int):
        for _ in range(n):
            yield b"x" * 1000

    def app(request: HttpRequest):
        n = 5 if request.path == "/ok" else 4  # /short promises 5000 bytes and sends 4000
        return StreamingResponse(pieces_of(n), content_length=5000)

    async def main():
        server = HttpServer(app)
        _, port = await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            rr = ResponseReader()
            out = []
            for method, path in [("GET", "/ok"), ("HEAD", "/ok")]:
                writer.write(f"{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                if method == "HEAD":
                    rr.expect_head()
                while (resp := rr.next_response()) is NEED_DATA:
                    rr.feed(await reader.read(65536))
                out.append(resp)
            writer.write(b"GET /short HTTP/1.1\r\nHost: t\r\n\r\n")
            short = await asyncio.wait_for(reader.read(), 10)  # aborted after 4000 bytes
            writer.close()
            return out, short
        finally:
            await server.shutdown(grace_s=1.0)

    (get, head), short = asyncio.run(main())
    assert get.headers["content-length"] == "5000" and "transfer-encoding" not in get.headers
    assert get.body == b"x" * 5000
    assert head.headers["content-length"] == "5000" and head.body == b""
    assert b"content-length: 5000" in short and len(short.split(b"\r\n\r\n", 1)[1]) == 4000
