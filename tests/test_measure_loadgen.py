"""The load generator: framers on split and merged byte streams, both loop modes against small
real servers on 127.0.0.1, errors counted by kind, and coordinated omission made visible by a
server that stalls."""

from __future__ import annotations

import asyncio
import os
import pickle
import threading
import time
from collections.abc import Awaitable, Callable

import h11
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labsupport.measure import (
    BackgroundProcess,
    FramerError,
    HttpResponseFramer,
    LengthPrefixFramer,
    LineFramer,
    LoadResult,
    NoConnectionError,
    RespReplyFramer,
    find_peer,
    free_port,
    run_load,
)

# ---------------------------------------------------------------------------------------------
# Framers, table-driven: (id, framer factory, byte stream, complete replies in it)

FRAMER_CASES = [
    ("line-lf", LineFramer, b"a\nbb\n\nccc\n", 4),
    ("line-crlf", lambda: LineFramer(b"\r\n"), b"OK\r\nVALUE x\r\nEND\r\n", 3),
    ("len4-big", LengthPrefixFramer, b"\0\0\0\3abc\0\0\0\0\0\0\0\1z", 3),
    (
        "len2-little",
        lambda: LengthPrefixFramer(2, "little"),
        b"\2\0hi\x05\0hello",
        2,
    ),
    ("resp-simple", RespReplyFramer, b"+OK\r\n-ERR no such key\r\n:42\r\n", 3),
    ("resp-bulk", RespReplyFramer, b"$3\r\nfoo\r\n$0\r\n\r\n$-1\r\n", 3),
    # A bulk string may contain CRLF: the length, not the line end, says where it stops.
    ("resp-bulk-crlf", RespReplyFramer, b"$4\r\na\r\nb\r\n+PONG\r\n", 2),
    (
        "resp-nested",
        RespReplyFramer,
        b"*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n*0\r\n*-1\r\n:7\r\n",
        3,
    ),
    (
        "resp3",
        RespReplyFramer,
        b"_\r\n#t\r\n,3.14\r\n(123456789012345678901\r\n!3\r\nerr\r\n=7\r\ntxt:abc\r\n"
        b"%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n~1\r\n:2\r\n"
        b"|1\r\n+ttl\r\n:3\r\n$2\r\nok\r\n",
        9,  # six scalars, a map, a set; the attribute and the bulk it annotates are one
    ),
    (
        "http-length",
        HttpResponseFramer,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        2,
    ),
    (
        "http-chunked",
        HttpResponseFramer,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        2,
    ),
    (
        "http-interim-and-204",
        HttpResponseFramer,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx"
        b"HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n",
        2,
    ),
]
IDS = [c[0] for c in FRAMER_CASES]


@pytest.mark.parametrize(("name", "make", "stream", "expected"), FRAMER_CASES, ids=IDS)
def test_framer_whole_stream(name, make, stream, expected):
    framer = make()
    assert framer.feed(stream) == expected
    # Nothing left over: the same stream again counts the same.
    assert framer.feed(stream) == expected


@pytest.mark.parametrize(("name", "make", "stream", "expected"), FRAMER_CASES, ids=IDS)
def test_framer_byte_by_byte(name, make, stream, expected):
    framer = make()
    counts = [framer.feed(stream[i : i + 1]) for i in range(len(stream))]
    assert sum(counts) == expected
    assert counts[-1] >= 1  # the last byte completes the last reply, not an earlier one
    assert sum(counts[:-1]) == expected - counts[-1]


@pytest.mark.parametrize(("name", "make", "stream", "expected"), FRAMER_CASES, ids=IDS)
def test_framer_random_splits_and_pickle(name, make, stream, expected):
    seed = 20240611
    rng = np.random.default_rng(seed)
    for _ in range(20):
        cuts = np.sort(rng.integers(0, len(stream) + 1, size=rng.integers(1, 6)))
        pieces = np.split(np.frombuffer(stream, dtype=np.uint8), cuts)
        framer, total = make(), 0
        for i, piece in enumerate(pieces):
            total += framer.feed(piece.tobytes())
            if i == 0:
                # Framers travel to the generator's process: a pickled copy keeps partial state.
                framer = pickle.loads(pickle.dumps(framer))
        assert total == expected, f"seed {seed}, cuts {cuts.tolist()}"


@pytest.mark.parametrize(("name", "make", "stream", "expected"), FRAMER_CASES, ids=IDS)
def test_framer_reset_drops_partial_reply(name, make, stream, expected):
    framer = make()
    framer.feed(stream[:-1])
    framer.reset()
    assert framer.feed(stream) == expected


RESP_REPLIES = [
    b"+OK\r\n",
    b":-3\r\n",
    b"$-1\r\n",
    b"$5\r\nhe\r\no\r\n",
    b"*2\r\n+a\r\n*1\r\n:1\r\n",
]


@given(
    st.lists(st.sampled_from(RESP_REPLIES), min_size=1, max_size=12),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_resp_framer_any_split(replies, cuts):
    stream = b"".join(replies)
    edges = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    framer = RespReplyFramer()
    assert sum(framer.feed(stream[a:b]) for a, b in zip(edges, edges[1:])) == len(replies)


def h11_responses(specs: list[tuple[int, bool, list[bytes]]]) -> bytes:
    """Encode responses with h11 (an independent HTTP/1.1 implementation) as a server would."""
    conn = h11.Connection(h11.SERVER)
    out = bytearray()
    for status, chunked, parts in specs:
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        while not isinstance(conn.next_event(), h11.EndOfMessage):
            pass
        body = b"".join(parts)
        no_body = status in (204, 304)
        if no_body:
            headers = []
        elif chunked:
            headers = [("Transfer-Encoding", "chunked")]
        else:
            headers = [("Content-Length", str(len(body)))]
        out += conn.send(h11.Response(status_code=status, headers=headers))
        if not no_body:
            for part in parts:
                if part:  # h11 would write an empty Data as a terminating 0-size chunk
                    out += conn.send(h11.Data(data=part))
        out += conn.send(h11.EndOfMessage())
        conn.start_next_cycle()
    return bytes(out)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([200, 201, 204, 404, 500]),
            st.booleans(),
            st.lists(st.binary(max_size=40), max_size=4),
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
)
def test_http_framer_against_h11_encoder(specs, cuts):
    stream = h11_responses(specs)
    edges = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    framer = HttpResponseFramer()
    assert sum(framer.feed(stream[a:b]) for a, b in zip(edges, edges[1:])) == len(specs)


FRAMER_ERRORS = [
    (RespReplyFramer, b"?what\r\n", "cannot start with"),
    (RespReplyFramer, b"$abc\r\n", "bad RESP length"),
    (RespReplyFramer, b"$2\r\nabcd\r\n", "not followed by CRLF"),
    (HttpResponseFramer, b"SMTP 220 hello\r\n\r\n", "not an HTTP status line"),
    (HttpResponseFramer, b"HTTP/1.1 200 OK\r\n\r\n", "neither Content-Length nor chunked"),
    (HttpResponseFramer, b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad Content-Length"),
    (
        HttpResponseFramer,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "bad chunk-size",
    ),
    (lambda: LengthPrefixFramer(max_payload=10), b"\0\0\1\0", "exceeds max_payload"),
]


@pytest.mark.parametrize(("make", "stream", "message"), FRAMER_ERRORS)
def test_framer_rejects_bad_bytes(make, stream, message):
    with pytest.raises(FramerError, match=message):
        make().feed(stream)


# ---------------------------------------------------------------------------------------------
# Small real servers in a background thread, each on an OS-assigned port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ThreadServer:
    """An asyncio server on 127.0.0.1:0 running in its own thread; stopped on exit."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.port = 0
        self.requests = 0
        self.lines: list[bytes] = []

    def __enter__(self) -> ThreadServer:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await self.handler(reader, writer)
            finally:
                writer.close()  # every connection is closed, whatever the handler did

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10), "test server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0.05)  # let the transports' scheduled closes run

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def line_server(reply: bytes | None = b"pong\n", stall_s: float = 0.0, every_s: float = 1.0):
    """Answers each line with ``reply`` (None: echo it). With ``stall_s``, the whole server
    freezes for ``stall_s`` once every ``every_s``, as a GC pause or a full disk would."""
    next_stall = [time.perf_counter() + 0.2]

    def handler_for(srv: ThreadServer) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while line := await reader.readline():
                    srv.requests += 1
                    srv.lines.append(line)
                    now = time.perf_counter()
                    if stall_s and now >= next_stall[0]:
                        time.sleep(stall_s)  # blocks the server's loop: nothing is answered
                        next_stall[0] = now + every_s
                    writer.write(line if reply is None else reply)
            finally:
                writer.close()

        return handle

    return handler_for


def serve(factory) -> ThreadServer:
    srv = ThreadServer(None)  # type: ignore[arg-type]
    srv.handler = factory(srv)
    return srv


def http_server(srv: ThreadServer) -> Handler:
    """Reads request heads; answers alternately with Content-Length and chunked bodies."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                srv.requests += 1
                if srv.requests % 2:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!")
                else:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n"
                    )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return handle


def numbered_request(i: int) -> bytes:
    """A picklable request factory (module level, so the generator's process can import it)."""
    return b"req %d\n" % i


LINE = {"request": b"ping\n", "framer": LineFramer()}
SHORT = {"duration_s": 0.5, "warmup_s": 0.2}


# ---------------------------------------------------------------------------------------------
# Both modes against real servers


def test_closed_loop_counts_replies():
    cpu = max(os.sched_getaffinity(0))
    with serve(line_server()) as srv:
        res = run_load(
            "127.0.0.1", srv.port, mode="closed", connections=4, cpu=cpu, **LINE, **SHORT
        )
    assert isinstance(res, LoadResult)
    assert res.mode == "closed" and res.errors == {}
    assert res.completed > 100
    assert res.recorder.count == res.completed
    # The server also answered the warm-up requests, which are not measured.
    assert srv.requests > res.completed
    assert (res.recorder.values() > 0).all()
    assert res.elapsed_s >= 0.5
    assert res.throughput_per_s == pytest.approx(res.completed / res.elapsed_s)
    assert res.behind_schedule_s is None
    assert res.cpu == cpu and f"on cpu {cpu}" in str(res)
    assert "closed loop, 4 conn" in str(res) and "errors: none" in str(res)


def test_open_loop_follows_schedule():
    rate, duration = 400.0, 1.0
    with serve(line_server()) as srv:
        res = run_load(
            "127.0.0.1",
            srv.port,
            mode="open",
            rate_per_s=rate,
            connections=4,
            duration_s=duration,
            warmup_s=0.2,
            **LINE,
        )
    # Exactly the slots of the measured window, whether sent or (on a busy machine) left unsent.
    assert abs(res.completed + res.errors.get("unsent", 0) - rate * duration) <= 1
    assert set(res.errors) <= {"unsent"}
    assert res.rate_per_s == rate
    assert res.behind_schedule_s is not None and res.behind_schedule_s >= 0
    assert "open loop" in str(res) and "behind schedule" in str(res)
    row = res.metrics()
    assert row["mode"] == "open" and row["target_per_s"] == rate
    assert row["completed"] == res.completed
    assert row["p99_us"] == pytest.approx(res.recorder.percentile(99) / 1e3, abs=0.01)
    assert row["p50_us"] <= row["p90_us"] <= row["p99_us"] <= row["p999_us"] <= row["max_us"]


def test_pipeline_sends_k_requests_per_turn():
    with serve(line_server()) as srv:
        res = run_load("127.0.0.1", srv.port, connections=1, pipeline=4, **LINE, **SHORT)
    assert res.errors == {}
    assert res.completed > 0 and res.completed % 4 == 0
    assert srv.requests >= res.completed


def test_request_callable_and_sequence():
    with serve(line_server(reply=None)) as srv:
        res = run_load(
            "127.0.0.1",
            srv.port,
            request=numbered_request,
            framer=LineFramer(),
            connections=1,
            **SHORT,
        )
        assert res.errors == {}
        # One connection: the server sees the numbers in order, from 0, none skipped.
        n = len(srv.lines)
        assert srv.lines == [b"req %d\n" % i for i in range(n)]
    with serve(line_server(reply=None)) as srv:
        run_load(
            "127.0.0.1",
            srv.port,
            request=[b"a\n", b"b\n", b"c\n"],
            framer=LineFramer(),
            connections=1,
            **SHORT,
        )
        assert srv.lines[:6] == [b"a\n", b"b\n", b"c\n"] * 2


def test_http_both_modes():
    request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    with serve(http_server) as srv:
        closed = run_load(
            "127.0.0.1",
            srv.port,
            request=request,
            framer=HttpResponseFramer(),
            connections=2,
            **SHORT,
        )
        opened = run_load(
            "127.0.0.1",
            srv.port,
            request=request,
            framer=HttpResponseFramer(),
            mode="open",
            rate_per_s=200,
            connections=2,
            **SHORT,
        )
    assert closed.errors == {} and closed.completed > 50
    assert set(opened.errors) <= {"unsent"}
    assert opened.completed + opened.errors.get("unsent", 0) == pytest.approx(100, abs=1)


# ---------------------------------------------------------------------------------------------
# Errors: counted by kind, never raised mid-run; a run with no connection at all raises.


def test_connection_refused_is_a_clear_error():
    port = free_port()  # nothing listens there
    with pytest.raises(NoConnectionError, match=r"could not open any connection.*refused"):
        run_load("127.0.0.1", port, connections=2, **LINE, **SHORT)


def test_framer_error_is_counted_not_raised():
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            writer.write(b"?not resp\r\n")
        writer.close()

    with ThreadServer(garbage) as srv:
        res = run_load(
            "127.0.0.1",
            srv.port,
            request=b"PING\r\n",
            framer=RespReplyFramer(),
            connections=1,
            duration_s=0.3,
            warmup_s=0.0,
        )
    assert res.completed == 0
    assert res.errors["framer_error"] >= 1
    assert "framer_error=" in str(res)


def test_server_closing_connections_is_survived():
    async def one_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await reader.readline():
            writer.write(b"pong\n")
            await writer.drain()
        writer.close()

    with ThreadServer(one_reply) as srv:
        res = run_load("127.0.0.1", srv.port, connections=2, **LINE, **SHORT)
    # Each connection serves one reply, so more replies than connections means reconnects.
    assert res.completed > 2
    assert set(res.errors) <= {"connection_closed", "connection_reset"}


def test_reply_timeout_is_counted():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads, never answers

    with ThreadServer(silent) as srv:
        res = run_load("127.0.0.1", srv.port, connections=1, reply_timeout_s=0.15, **LINE, **SHORT)
    assert res.completed == 0
    assert res.errors["reply_timeout"] >= 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="rate_per_s"):
        run_load("127.0.0.1", 1, mode="open", **LINE)
    with pytest.raises(ValueError, match="pipeline"):
        run_load("127.0.0.1", 1, mode="open", rate_per_s=10, pipeline=2, **LINE)

    def local(i: int) -> bytes:
        return b"x\n"

    local.__module__ = "__main__"  # as if typed in a notebook
    with pytest.raises(ValueError, match="cannot import"):
        run_load("127.0.0.1", 1, request=local, framer=LineFramer())


# ---------------------------------------------------------------------------------------------
# Coordinated omission: a server that answers in ~50 µs but freezes 300 ms once a second.


@pytest.mark.slow
def test_stall_hides_in_closed_loop_and_shows_in_open_loop():
    with serve(line_server(stall_s=0.3, every_s=1.0)) as srv:
        closed = run_load(
            "127.0.0.1",
            srv.port,
            mode="closed",
            connections=1,
            duration_s=2.0,
            warmup_s=0.3,
            **LINE,
        )
        opened = run_load(
            "127.0.0.1",
            srv.port,
            mode="open",
            rate_per_s=200,
            connections=4,
            duration_s=2.0,
            warmup_s=0.3,
            **LINE,
        )
    ms = 1e6
    # Closed loop: the one request in flight saw the stall (max), but with hundreds of samples
    # per second only ~2 of them did, so the percentiles look healthy.
    assert closed.completed > 500
    assert closed.recorder.values().max() > 200 * ms
    assert closed.recorder.percentile(99) < 30 * ms
    # Open loop: every request scheduled during a stall waited for it; ~30% of the schedule.
    assert opened.recorder.percentile(90) > 50 * ms
    assert opened.recorder.percentile(99) > 150 * ms
    assert opened.recorder.percentile(99) > 5 * closed.recorder.percentile(99)
    assert opened.behind_schedule_s > 0.1  # sends queued behind the stall
    # Every slot of the window was sent, including those a stall pushed past its end.
    assert abs(opened.completed + opened.errors.get("unsent", 0) - 400) <= 1


# ---------------------------------------------------------------------------------------------
# A real peer: redis-server, pipelined, through the RESP framer


@pytest.mark.peer
def test_redis_pipeline():
    exe = find_peer("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with BackgroundProcess(argv, port=port):
        # HELLO 3 answers a RESP3 map and switches the connection to RESP3, where GET of a
        # missing key answers ``_`` (before it, a ``$-1`` null bulk); PING a simple string.
        res = run_load(
            "127.0.0.1",
            port,
            request=[
                b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
                b"*1\r\n$4\r\nPING\r\n",
                b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n",
            ],
            framer=RespReplyFramer(),
            connections=2,
            pipeline=8,
            duration_s=0.3,
            warmup_s=0.1,
        )
    assert res.errors == {}
    assert res.completed > 0 and res.completed % 8 == 0
