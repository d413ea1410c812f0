"""Sans-IO tests of the HTTP/1.1 request parser and the response serializer (no sockets)."""

from __future__ import annotations

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport.http.errors import LocalProtocolError, ProtocolError
from labsupport.http.parser import (
    NEED_DATA,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Limits,
    Request,
    RequestParser,
)
from labsupport.http.response import (
    DateHeader,
    Response,
    encode_chunk,
    serialize_response,
    status_line,
)


def events_of(raw: bytes, limits: Limits | None = None, eof: bool = False) -> list:
    """All events from ``raw`` fed at once, merging Data; a ProtocolError becomes ('error', code)."""
    p = RequestParser(limits)
    p.feed(raw)
    if eof:
        p.feed_eof()
    out: list = []
    while True:
        try:
            ev = p.next_event()
        except ProtocolError as exc:
            out.append(("error", exc.status_code))
            return out
        if ev is NEED_DATA:
            return out
        if isinstance(ev, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + ev.data)
        else:
            out.append(ev)
        if isinstance(ev, ConnectionClosed):
            return out


def status_of(raw: bytes, limits: Limits | None = None) -> int | None:
    evs = events_of(raw, limits)
    return evs[-1][1] if evs and isinstance(evs[-1], tuple) else None


H = b"Host: example.com\r\n"

# -- rules: (case, raw request, expected status code of the refusal) --------------------------
REFUSED = [
    ("no request line parts", b"GET\r\n" + H + b"\r\n", 400),
    ("two spaces in request line", b"GET  / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("lowercase version", b"GET / http/1.1\r\n" + H + b"\r\n", 400),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("unknown method token", b"BREW / HTTP/1.1\r\n" + H + b"\r\n", 501),
    ("method not a token", b"G(T / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("missing Host on 1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host fields", b"GET / HTTP/1.1\r\n" + H + H + b"\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("tab before colon", b"GET / HTTP/1.1\r\n" + H + b"X-A\t: 1\r\n\r\n", 400),
    ("no colon", b"GET / HTTP/1.1\r\n" + H + b"garbage\r\n\r\n", 400),
    ("empty field name", b"GET / HTTP/1.1\r\n" + H + b": v\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\n" + H + b"X-A: 1\r\n  continued\r\n\r\n", 400),
    ("bare LF in head", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    ("bare CR in value", b"GET / HTTP/1.1\r\n" + H + b"X-A: 1\r2\r\n\r\n", 400),
    ("NUL in value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("space in target", b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("fragment in target", b"GET /a#b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("non-ascii target", b"GET /\xc3\xa9 HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("relative target", b"GET a/b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("asterisk with GET", b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("CL and TE", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("TE and CL", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
    ("conflicting CL", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("CL list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc", 400),
    ("negative CL", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    ("plus CL", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n\r\nabc", 400),
    ("hex CL", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x3\r\n\r\nabc", 400),
    ("empty CL", b"POST / HTTP/1.1\r\n" + H + b"Content-Length:\r\n\r\n", 400),
    ("huge CL", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n", 413),
    ("TE not ending in chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("TE chunked twice", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("TE gzip, chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("TE unknown", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n", 400),
    ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("bad chunk size", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ("chunk size with 0x", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
    ("negative chunk size", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n", 400),
    ("chunk without CRLF", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
    ("chunk overflow size", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 400),
    ("body over limit (CL)", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 2000000\r\n\r\n", 413),
    ("Expect other", b"POST / HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417),
    ("target too long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("head too large", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ("too many fields", b"GET / HTTP/1.1\r\n" + H + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431),
    ("bad trailer", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", 400),
]


@pytest.mark.parametrize("case,raw,status", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_status(case: str, raw: bytes, status: int) -> None:
    assert status_of(raw) == status


def test_chunked_body_over_limit_is_413_before_reading_it() -> None:
    raw = b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + b"400\r\n"
    assert status_of(raw, Limits(max_body_bytes=1000)) == 413


def test_incomplete_head_over_limit_refused_without_the_blank_line() -> None:
    # A client that never ends its head is cut off as soon as it passes the limit.
    assert status_of(b"GET / HTTP/1.1\r\nX: " + b"a" * 17000) == 431
    assert status_of(b"GET /" + b"a" * 9000) == 414


def test_error_is_sticky() -> None:
    p = RequestParser()
    p.feed(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(ProtocolError):
        p.next_event()
    p.feed(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    with pytest.raises(ProtocolError, match="Host"):
        p.next_event()


def test_error_messages_say_where() -> None:
    p = RequestParser()
    p.feed(b"GET / HTTP/1.1\r\n" + H + b"X-A : 1\r\n\r\n")
    with pytest.raises(ProtocolError, match="header line 3: whitespace between field name and colon"):
        p.next_event()


# -- accepted requests: (case, raw, expected events) ------------------------------------------
def req(method="GET", target=b"/", path="/", query=b"", version="1.1", headers=((b"host", b"example.com"),),
        keep_alive=True, expect_continue=False, content_length=0, chunked=False) -> Request:
    return Request(method, target, path, query, version, tuple(headers), keep_alive, expect_continue,
                   content_length, chunked)


ACCEPTED = [
    ("simple GET", b"GET / HTTP/1.1\r\n" + H + b"\r\n", [req(), EndOfMessage()]),
    ("query and case of names", b"GET /a/b?x=1&y=2 HTTP/1.1\r\nHOST:example.com\r\n\r\n",
     [req(target=b"/a/b?x=1&y=2", path="/a/b", query=b"x=1&y=2"), EndOfMessage()]),
    ("OWS around value", b"GET / HTTP/1.1\r\nHost: \t example.com \t\r\n\r\n", [req(), EndOfMessage()]),
    ("leading CRLF ignored", b"\r\n\r\nGET / HTTP/1.1\r\n" + H + b"\r\n", [req(), EndOfMessage()]),
    ("HTTP/1.0 closes by default", b"GET / HTTP/1.0\r\n\r\n", [req(version="1.0", headers=(), keep_alive=False), EndOfMessage()]),
    ("HTTP/1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
     [req(version="1.0", headers=((b"connection", b"Keep-Alive"),), keep_alive=True), EndOfMessage()]),
    ("1.1 Connection: close", b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
     [req(headers=((b"host", b"example.com"), (b"connection", b"close")), keep_alive=False), EndOfMessage()]),
    ("Content-Length body", b"POST /e HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello",
     [req("POST", b"/e", "/e", headers=((b"host", b"example.com"), (b"content-length", b"5")), content_length=5),
      Data(b"hello"), EndOfMessage()]),
    ("identical CL repeated", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
     [req("POST", headers=((b"host", b"example.com"), (b"content-length", b"1"), (b"content-length", b"1")),
          content_length=1), Data(b"x"), EndOfMessage()]),
    ("chunked with extension and trailer",
     b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
     b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n",
     [req("POST", headers=((b"host", b"example.com"), (b"transfer-encoding", b"chunked")), content_length=None,
          chunked=True), Data(b"hello world"), EndOfMessage(((b"x-checksum", b"abc"),))]),
    ("expect 100-continue", b"PUT / HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
     [req("PUT", headers=((b"host", b"example.com"), (b"expect", b"100-continue"), (b"content-length", b"2")),
          expect_continue=True, content_length=2), Data(b"ok"), EndOfMessage()]),
    ("absolute form", b"GET http://example.com/x?q HTTP/1.1\r\n" + H + b"\r\n",
     [req(target=b"http://example.com/x?q", path="/x", query=b"q"), EndOfMessage()]),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", [req("OPTIONS", b"*", "*"), EndOfMessage()]),
    ("obs-text in value", b"GET / HTTP/1.1\r\n" + H + b"X-A: caf\xe9\r\n\r\n",
     [req(headers=((b"host", b"example.com"), (b"x-a", b"caf\xe9"))), EndOfMessage()]),
    ("clean close between requests", b"", [ConnectionClosed()]),
]


@pytest.mark.parametrize("case,raw,expected", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_events(case: str, raw: bytes, expected: list) -> None:
    assert events_of(raw, eof=(raw == b"")) == expected


def test_pipelined_requests_come_out_in_order() -> None:
    raw = b"".join(b"GET /%d HTTP/1.1\r\n" % i + H + b"\r\n" for i in range(5))
    paths = [e.path for e in events_of(raw) if isinstance(e, Request)]
    assert paths == ["/0", "/1", "/2", "/3", "/4"]


def test_eof_in_the_middle_is_an_incomplete_message() -> None:
    assert events_of(b"GET / HTTP/1.1\r\nHo", eof=True) == [("error", 400)]
    assert events_of(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nab", eof=True)[-1] == ("error", 400)


def test_need_data_until_complete() -> None:
    p = RequestParser()
    p.feed(b"GET / HTTP/1.1\r\nHost: a\r\n")
    assert p.next_event() is NEED_DATA
    p.feed(b"\r\n")
    assert isinstance(p.next_event(), Request)
    assert p.next_event() == EndOfMessage()
    assert p.next_event() is NEED_DATA
    assert p.idle


# -- property tests -----------------------------------------------------------------------------
VALID = [raw for _, raw, _ in ACCEPTED if raw] + [
    b"".join(b"GET /%d HTTP/1.1\r\n" % i + H + b"\r\n" for i in range(3)),
]


def _split_feed(raw: bytes, cuts: list[int]) -> list:
    p = RequestParser()
    out: list = []
    points = sorted({c % (len(raw) + 1) for c in cuts}) + [len(raw)]
    start = 0
    for end in points:
        p.feed(raw[start:end])
        start = end
        while True:
            ev = p.next_event()
            if ev is NEED_DATA:
                break
            if isinstance(ev, Data) and out and isinstance(out[-1], Data):
                out[-1] = Data(out[-1].data + ev.data)
            else:
                out.append(ev)
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(VALID), st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_split_gives_the_same_events(raw: bytes, cuts: list[int]) -> None:
    assert _split_feed(raw, cuts) == events_of(raw)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_arbitrary_bytes_only_raise_protocol_errors(data: bytes, cuts: list[int]) -> None:
    p = RequestParser(Limits(max_head_bytes=256, max_target_bytes=64, max_body_bytes=128))
    start = 0
    for end in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        p.feed(data[start:end])
        start = end
        try:
            while p.next_event() is not NEED_DATA:
                pass
        except ProtocolError as exc:
            assert 400 <= exc.status_code <= 505
            return


_tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_tokens, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ;=/", max_size=20)),
                max_size=8),
       st.binary(max_size=300), st.booleans(), st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_h11_client_requests_parse_back(fields: list[tuple[str, str]], body: bytes, chunked: bool,
                                        method: str) -> None:
    """h11, an independent implementation, writes a request; we must read back the same thing."""
    skip = {"host", "content-length", "transfer-encoding", "connection", "expect"}
    fields = [(k, v.strip()) for k, v in fields if k not in skip]
    headers = [("Host", "example.com"), *fields]
    headers.append(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(len(body))))
    conn = h11.Connection(h11.CLIENT)
    wire = conn.send(h11.Request(method=method, target="/p?q=1", headers=headers))
    if chunked and body:
        wire += conn.send(h11.Data(data=body[:7])) + conn.send(h11.Data(data=body[7:]))
    elif body:
        wire += conn.send(h11.Data(data=body))
    wire += conn.send(h11.EndOfMessage())
    evs = events_of(wire)
    head = evs[0]
    assert isinstance(head, Request), evs
    assert head.method == method and head.path == "/p" and head.query == b"q=1"
    assert [(k, v) for k, v in head.headers] == [(k.lower().encode(), v.encode()) for k, v in headers]
    got = b"".join(e.data for e in evs if isinstance(e, Data))
    assert got == body and isinstance(evs[-1], EndOfMessage)


def test_h11_client_reads_our_responses() -> None:
    date = DateHeader(clock=lambda: 0.0)
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "a")]))
    client.send(h11.EndOfMessage())
    client.receive_data(Response("Hello", headers=[("X-Id", "7")]).encode(True, False, date.line))
    resp = client.next_event()
    assert isinstance(resp, h11.Response) and resp.status_code == 200
    assert dict(resp.headers)[b"x-id"] == b"7" and dict(resp.headers)[b"date"] == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert client.next_event() == h11.Data(data=b"Hello")
    assert isinstance(client.next_event(), h11.EndOfMessage)


# -- serializer ---------------------------------------------------------------------------------
def test_exact_response_bytes() -> None:
    date = DateHeader(clock=lambda: 1_700_000_000.5)
    assert Response("Hello, World!").encode(True, False, date.line) == (
        b"HTTP/1.1 200 OK\r\nserver: labsupport-http\r\ndate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
        b"content-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n\r\nHello, World!")


def test_head_keeps_length_and_drops_body() -> None:
    wire = Response("abc").encode(True, True, b"")
    assert wire.endswith(b"content-length: 3\r\n\r\n")


def test_connection_fields() -> None:
    assert b"connection: close\r\n" in Response("x").encode(False, False, b"")
    assert b"connection: keep-alive\r\n" in Response("x").encode(True, False, b"", True)


def test_no_body_statuses() -> None:
    assert serialize_response(204, []) == b"HTTP/1.1 204 No Content\r\n\r\n"
    assert b"content-length" not in serialize_response(304, [(b"etag", b'"1"')])
    with pytest.raises(LocalProtocolError):
        serialize_response(304, [], b"body")


def test_response_splitting_refused() -> None:
    with pytest.raises(LocalProtocolError):
        Response("x", headers=[("x-a", "1\r\nset-cookie: evil=1")])
    with pytest.raises(LocalProtocolError):
        status_line(42)


def test_chunk_encoding() -> None:
    assert encode_chunk(b"hello world!") == b"c\r\nhello world!\r\n"
    assert encode_chunk(b"") == b""


def test_date_header_changes_once_per_second() -> None:
    now = [100.0]
    d = DateHeader(clock=lambda: now[0])
    first = d.line
    now[0] = 100.9
    assert d.refresh() is first
    now[0] = 101.0
    assert d.refresh() != first


def test_content_length_rule_is_pluggable_and_only_for_values_that_are_not_digits() -> None:
    seen = []

    def lenient(value: bytes) -> int:  # accepts "N, N" (RFC 9110 section 8.6 allows it)
        seen.append(value)
        first, _, rest = value.partition(b",")
        if rest.strip() != first.strip():
            raise ProtocolError("different lengths")
        return int(first)

    def events(raw: bytes) -> list:
        p = RequestParser(content_length=lenient)
        p.feed(raw)
        try:
            return [ev for ev in iter(p.next_event, NEED_DATA)]
        except ProtocolError as exc:
            return [("error", exc.status_code)]

    got = events(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc")
    assert got[0].content_length == 3 and got[1:] == [Data(b"abc"), EndOfMessage()]
    assert events(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 4\r\n\r\nabc") == [("error", 400)]
    events(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc")  # plain digits: not asked
    assert seen == [b"3, 3", b"3, 4"]
    assert status_of(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n\r\nabc") == 400  # default
