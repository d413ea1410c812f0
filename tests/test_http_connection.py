"""The sans-IO HTTP connection, without sockets: tables of (bytes in, time passing, responses)
-> (events, bytes out, phase and deadline), one table per rule of ``connection.py``:
timeouts (never early, late by at most one tick), pipelining order, keep-alive, backpressure,
refusals, 100-continue and graceful shutdown. The same rules over real TCP are in
``test_http_server.py``."""

from __future__ import annotations

import math
import random

import pytest

from labsupport.http import DateHeader, HttpRequest, Response
from labsupport.http.client import split_responses
from labsupport.http.connection import (
    CONTINUE_100,
    NEED_DATA,
    PAUSED,
    CloseConnection,
    HttpConnection,
)

DATE = DateHeader(clock=lambda: 1_700_000_000)
GET = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n"
TIMEOUTS = dict(header_timeout=1.0, body_timeout=3.0, keepalive_timeout=5.0)


def make(**kwargs) -> HttpConnection:
    return HttpConnection(now=0.0, date=DATE, **{**TIMEOUTS, **kwargs})


def describe(event) -> str:
    if isinstance(event, HttpRequest):
        body = f" body={event.body.decode()}" if event.body else ""
        return f"request {event.method} {event.head.target.decode()}{body}"
    if event is NEED_DATA or event is PAUSED:
        return repr(event)
    if event == CONTINUE_100:
        return "100-continue"
    if isinstance(event, CloseConnection):
        return f"close {event.status}" if event.status else "close quietly"
    raise AssertionError(f"unexpected event {event!r}")


def sent(data: bytes) -> str:
    (resp,) = split_responses(data)
    return f"sent {resp.status} {resp.headers.get('connection', 'keep-alive')}"


def drain(conn: HttpConnection, now: float) -> list[str]:
    """Every event until the connection needs bytes, pauses or closes (what the shell does)."""
    out = []
    while True:
        event = conn.next_event(now)
        out.append(describe(event))
        if event is NEED_DATA or event is PAUSED or isinstance(event, CloseConnection):
            return out


def step(conn: HttpConnection, action: tuple) -> str:
    """Apply one input and describe what came out, with the phase and deadline after it."""
    kind, now, *arg = action
    if kind == "data":
        conn.receive_data(arg[0], now)
        out = drain(conn, now)
    elif kind == "eof":
        conn.receive_eof()
        out = drain(conn, now)
    elif kind == "respond":
        out = [sent(conn.respond(arg[0], now)), *drain(conn, now)]
    elif kind == "tick":
        event = conn.check_timeout(now)
        out = [describe(event) if event is not None else "-"]
    elif kind == "pause":
        conn.writing_paused()
        out = drain(conn, now)
    elif kind == "resume":
        conn.writing_resumed()
        out = drain(conn, now)
    elif kind == "shutdown":
        out = ["closes now" if conn.shutdown() else "stays open"]
    else:
        raise AssertionError(kind)
    deadline = "inf" if math.isinf(conn.deadline) else f"{conn.deadline:g}"
    state = "closing" if conn.closing else f"{conn.phase}@{deadline}"
    return f"{', '.join(out)} [{state}]"


def run(steps: list[tuple], **kwargs) -> list[str]:
    conn = make(**kwargs)
    return [step(conn, s) for s in steps]


OK = Response("ok")

# -- timeouts: each phase's deadline, computed from the time of the input that started it -------
TIMEOUT_TABLE = [
    ("a connection that never sends is idle and closes quietly",
     [("tick", 4.9), ("tick", 5.0)],
     ["- [idle@5]", "close quietly [closing]"]),
    ("the header timeout starts at the first byte, not at the last tick",
     [("data", 0.49, b"GET / HTTP/1.1\r\nHo"), ("tick", 1.0), ("tick", 1.48), ("tick", 1.49)],
     ["NEED_DATA [head@1.49]", "- [head@1.49]", "- [head@1.49]", "close 408 [closing]"]),
    ("dribbling the head does not extend the header timeout (slowloris)",
     [("data", 0.0, b"GET / HT"), ("data", 0.4, b"TP/1.1\r\n"), ("data", 0.8, b"Host: t\r\n"),
      ("tick", 1.0)],
     ["NEED_DATA [head@1]", "NEED_DATA [head@1]", "NEED_DATA [head@1]", "close 408 [closing]"]),
    ("the body timeout restarts with every piece of body",
     [("data", 0.0, b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab"),
      ("data", 2.5, b"c"), ("tick", 5.4), ("tick", 5.5)],
     ["NEED_DATA [body@3]", "NEED_DATA [body@5.5]", "- [body@5.5]", "close 408 [closing]"]),
    ("no deadline while the handler runs",
     [("data", 0.0, GET % b"/slow"), ("tick", 1e9)],
     ["request GET /slow, NEED_DATA [handling@inf]", "- [handling@inf]"]),
    ("after a response the keep-alive timeout starts from the response",
     [("data", 0.0, GET % b"/a"), ("respond", 2.0, OK), ("tick", 6.9), ("tick", 7.0)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, NEED_DATA [idle@7]",
      "- [idle@7]", "close quietly [closing]"]),
    ("a pipelined head's timeout starts when its turn comes, not when it arrived",
     [("data", 0.0, GET % b"/a" + b"GET /b HTTP/1.1\r\n"), ("respond", 4.0, OK), ("tick", 4.9),
      ("tick", 5.0)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, NEED_DATA [head@5]",
      "- [head@5]", "close 408 [closing]"]),
]


@pytest.mark.parametrize("name,steps,expected", TIMEOUT_TABLE, ids=[r[0] for r in TIMEOUT_TABLE])
def test_timeouts(name, steps, expected):
    assert run(steps) == expected


@pytest.mark.parametrize("tick_s", [0.5, 0.3, 0.05])
def test_a_timeout_is_never_early_and_late_by_at_most_one_tick(tick_s):
    # The shell checks every connection once per tick; half a request line arrives at an
    # arbitrary time between two ticks. The 408 must come at the first tick at or after
    # arrival + header_timeout: never before it, never more than one tick after it.
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    for _ in range(200):
        arrival = rng.uniform(0, 10)
        conn = make(header_timeout=1.0)
        conn.receive_data(b"GET /hello HT", arrival)
        assert conn.next_event(arrival) is NEED_DATA
        k = 0
        while (event := conn.check_timeout(k * tick_s)) is None:
            k += 1
        fired = k * tick_s
        assert event.status == 408, f"seed {seed}"
        assert arrival + 1.0 <= fired < arrival + 1.0 + tick_s, (
            f"seed {seed}: arrived {arrival:.3f}, 408 at {fired:.3f}")


def test_the_408_names_the_phase_and_the_limit():
    conn = make()
    conn.receive_data(b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n", 0.0)
    conn.next_event(0.0)
    event = conn.check_timeout(3.0)
    assert event.reason == "request body not received within 3 s"
    assert split_responses(event.data)[0].status == 408


# -- pipelining: one request handed out at a time, responses in request order -----------------------
PIPELINE_TABLE = [
    ("the second request waits until the first is answered",
     [("data", 0.0, GET % b"/a" + GET % b"/b"), ("data", 0.1, GET % b"/c"), ("respond", 0.2, OK),
      ("respond", 0.3, OK), ("respond", 0.4, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "NEED_DATA [handling@inf]",
      "sent 200 keep-alive, request GET /b, NEED_DATA [handling@inf]",
      "sent 200 keep-alive, request GET /c, NEED_DATA [handling@inf]",
      "sent 200 keep-alive, NEED_DATA [idle@5.4]"]),
    ("a request cut anywhere is handed out once, whole",
     [("data", 0.0, b"POST /e HTTP/1.1\r\nHost: t\r\nContent-Le"), ("data", 0.1, b"ngth: 5\r\n\r\nhel"),
      ("data", 0.2, b"lo" + GET % b"/n")],
     ["NEED_DATA [head@1]", "NEED_DATA [body@3.1]", "request POST /e body=hello, NEED_DATA [handling@inf]"]),
    ("a chunked body is handed out de-chunked",
     [("data", 0.0, b"POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
       b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")],
     ["request POST /e body=abcde, NEED_DATA [handling@inf]"]),
]


@pytest.mark.parametrize("name,steps,expected", PIPELINE_TABLE, ids=[r[0] for r in PIPELINE_TABLE])
def test_pipelining(name, steps, expected):
    assert run(steps) == expected


def test_pipelined_responses_come_out_in_request_order():
    conn = make()
    conn.receive_data(b"".join(GET % b"/%d" % i for i in range(20)), 0.0)
    out = b""
    while isinstance(event := conn.next_event(0.0), HttpRequest):
        out += conn.respond(Response(event.path), 0.0)
    assert event is NEED_DATA
    assert [r.body for r in split_responses(out)] == [b"/%d" % i for i in range(20)]


# -- keep-alive -----------------------------------------------------------------------------------
KEEP_ALIVE_TABLE = [
    ("HTTP/1.1 stays open by default",
     [("data", 0.0, GET % b"/a"), ("respond", 0.0, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, NEED_DATA [idle@5]"]),
    ("Connection: close closes, and what was pipelined behind it is never handed out",
     [("data", 0.0, b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET % b"/b"),
      ("respond", 0.0, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 close, NEED_DATA [closing]"]),
    ("HTTP/1.0 closes unless it asks for keep-alive",
     [("data", 0.0, b"GET /a HTTP/1.0\r\n\r\n"), ("respond", 0.0, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 close, NEED_DATA [closing]"]),
    ("HTTP/1.0 with keep-alive is told so",
     [("data", 0.0, b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), ("respond", 0.0, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, NEED_DATA [idle@5]"]),
    ("the client closing between requests is a quiet close",
     [("data", 0.0, GET % b"/a"), ("respond", 0.0, OK), ("eof", 0.1)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, NEED_DATA [idle@5]",
      "close quietly [closing]"]),
    ("the client closing while its request is answered: the answer first, then the close",
     [("data", 0.0, GET % b"/a"), ("eof", 0.1), ("respond", 0.2, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "NEED_DATA [handling@inf]",
      "sent 200 keep-alive, close quietly [closing]"]),
]


@pytest.mark.parametrize("name,steps,expected", KEEP_ALIVE_TABLE, ids=[r[0] for r in KEEP_ALIVE_TABLE])
def test_keep_alive(name, steps, expected):
    assert run(steps) == expected


# -- backpressure -----------------------------------------------------------------------------------
BACKPRESSURE_TABLE = [
    ("a client that does not read its responses gets no more of them",
     [("data", 0.0, GET % b"/a" + GET % b"/b"), ("respond", 0.0, OK), ("pause", 0.0),
      ("data", 0.1, GET % b"/c"), ("resume", 0.2), ("respond", 0.3, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, request GET /b, NEED_DATA [handling@inf]",
      "NEED_DATA [handling@inf]", "NEED_DATA [handling@inf]", "NEED_DATA [handling@inf]",
      "sent 200 keep-alive, request GET /c, NEED_DATA [handling@inf]"]),
    ("paused writing stops even the next request of an idle connection",
     [("pause", 0.0), ("data", 0.0, GET % b"/a"), ("resume", 0.5)],
     ["PAUSED [idle@5]", "PAUSED [head@1]", "request GET /a, NEED_DATA [handling@inf]"]),
    ("more than max_pipelined_bytes behind a response in flight stops reading",
     [("data", 0.0, GET % b"/a"), ("data", 0.1, GET % b"/b"), ("data", 0.2, GET % b"/c"),
      ("respond", 0.3, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "NEED_DATA [handling@inf]", "PAUSED [handling@inf]",
      "sent 200 keep-alive, request GET /b, NEED_DATA [handling@inf]"]),
]


@pytest.mark.parametrize("name,steps,expected", BACKPRESSURE_TABLE, ids=[r[0] for r in BACKPRESSURE_TABLE])
def test_backpressure(name, steps, expected):
    assert run(steps, max_pipelined_bytes=len(GET % b"/b") + 5) == expected


# -- refusals, 100-continue, shutdown ---------------------------------------------------------------
OTHER_TABLE = [
    ("a malformed head is refused with its status and closes",
     [("data", 0.0, b"GET / HTTP/1.1\r\nHost : t\r\n\r\n" + GET % b"/b")],
     ["close 400 [closing]"]),
    ("a smuggling attempt behind a good request: the good one is answered, then 400",
     [("data", 0.0, GET % b"/a" + b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
       b"Transfer-Encoding: chunked\r\n\r\n"), ("respond", 0.1, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, close 400 [closing]"]),
    ("the client closing in the middle of a head is a 400",
     [("data", 0.0, b"GET / HTTP/1.1\r\nHo"), ("eof", 0.1)],
     ["NEED_DATA [head@1]", "close 400 [closing]"]),
    ("Expect: 100-continue gets the interim response before the body is read",
     [("data", 0.0, b"POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
      ("data", 0.5, b"ok")],
     ["100-continue, NEED_DATA [body@3]", "request POST /e body=ok, NEED_DATA [handling@inf]"]),
    ("no 100 Continue when the body came with the head",
     [("data", 0.0, b"POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok")],
     ["request POST /e body=ok, NEED_DATA [handling@inf]"]),
    ("shutdown closes an idle connection at once",
     [("data", 0.0, GET % b"/a"), ("respond", 0.0, OK), ("shutdown", 0.1)],
     ["request GET /a, NEED_DATA [handling@inf]", "sent 200 keep-alive, NEED_DATA [idle@5]",
      "closes now [closing]"]),
    ("shutdown lets the response in flight finish, with Connection: close",
     [("data", 0.0, GET % b"/a"), ("shutdown", 0.1), ("respond", 0.2, OK)],
     ["request GET /a, NEED_DATA [handling@inf]", "stays open [handling@inf]",
      "sent 200 close, NEED_DATA [closing]"]),
]


@pytest.mark.parametrize("name,steps,expected", OTHER_TABLE, ids=[r[0] for r in OTHER_TABLE])
def test_refusals_continue_and_shutdown(name, steps, expected):
    assert run(steps) == expected


def test_a_refusal_carries_the_error_response():
    conn = make()
    conn.receive_data(b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 0.0)
    event = conn.next_event(0.0)
    resp = split_responses(event.data)[0]
    assert (event.status, resp.status, resp.headers["connection"]) == (501, 501, "close")
    assert resp.body == b"method 'BREW' is not implemented\n"
    assert conn.next_event(0.0) is NEED_DATA and conn.closing  # nothing more after a refusal


def test_head_answers_have_no_body_and_the_encoder_is_pluggable():
    calls = []

    def encode(response, keep_alive, head_only, date_line, http10_keep_alive):
        calls.append((keep_alive, head_only, http10_keep_alive))
        return Response.encode(response, keep_alive, head_only, date_line, http10_keep_alive)

    conn = make(encode=encode)
    conn.receive_data(b"HEAD /a HTTP/1.1\r\nHost: t\r\n\r\n", 0.0)
    conn.next_event(0.0)
    data = conn.respond(Response("twelve bytes"), 0.0)
    assert data.endswith(b"content-length: 12\r\n\r\n") and calls == [(True, True, False)]


def test_serve_bytes_answers_pipelined_requests_without_a_socket():
    from labsupport.http.app import demo_app
    from labsupport.http.lab import serve_bytes

    raw = GET % b"/hello" + GET % b"/orders/7" + GET % b"/nope" + b"GET /x HTTP/1.1\r\n\r\n" + GET % b"/hello"
    got = split_responses(serve_bytes(demo_app(None), raw))
    assert [(r.status, r.body) for r in got] == [
        (200, b"Hello, World!"), (200, b'{"order_id": 7}'), (404, b"no route for /nope"),
        (400, b"HTTP/1.1 request without a Host header\n")]  # and nothing after the refusal
    with pytest.raises(TypeError, match="StreamingResponse"):
        serve_bytes(demo_app(None), GET % b"/ticks?n=1")


def test_any_cuts_and_pauses_give_the_same_answers_in_order():
    # Randomized: pipelined requests (no body, Content-Length, chunked) cut at random points,
    # with writing paused and resumed at random; every request is answered once, in order.
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    wanted, stream = [], b""
    for i in range(30):
        kind = rng.choice(["get", "length", "chunked"])
        if kind == "get":
            stream += GET % b"/%d" % i
            wanted.append(b"/%d " % i)
        elif kind == "length":
            body = b"b%d" % i
            stream += b"POST /%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (i, len(body), body)
            wanted.append(b"/%d %s" % (i, body))
        else:
            stream += (b"POST /%d HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"2\r\nc%d\r\n0\r\n\r\n" % (i, i % 10))
            wanted.append(b"/%d c%d" % (i, i % 10))
    cuts = sorted(rng.sample(range(1, len(stream)), 40))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    conn, out, now = make(), b"", 0.0

    def answer_all():
        nonlocal out
        while isinstance(event := conn.next_event(now), HttpRequest):
            out += conn.respond(Response(event.path.encode() + b" " + event.body), now)

    for piece in pieces:
        now += 0.01
        if rng.random() < 0.3:
            conn.writing_paused()
        conn.receive_data(piece, now)
        answer_all()
        if conn.write_paused and rng.random() < 0.5:
            conn.writing_resumed()
            answer_all()
    conn.writing_resumed()
    answer_all()
    assert [r.body for r in split_responses(out)] == wanted, f"seed {seed}"
    assert conn.phase == "idle" and not conn.busy, f"seed {seed}"
