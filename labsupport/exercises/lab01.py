"""Exercises of notebook 01: the HTTP/1.1 server. Each plugs the learner's code into the server.

- 01.1 ``Content-Length: 5, 5``: a parser hook (``RequestParser(content_length=...)``) that accepts
  a list of identical lengths (RFC 9110 section 8.6) and refuses everything else with a 400;
- 01.2 a request-id middleware, chained in front of a router and driven through the sans-IO
  connection: ``x-request-id`` 1, 2, 3 ... on every response, plain handlers kept plain;
- 01.3 several ranges answered as ``multipart/byteranges`` (RFC 9110 section 14.6), plugged into
  ``StaticFiles(multi_range=...)``;
- 01.4 a faster response encoder, plugged into ``HttpConnection(encode=...)``: checked for giving
  the same responses on the wire as ``Response.encode``; its speed is measured and shown, not judged.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from ..http import DateHeader, HttpRequest, ProtocolError, Response, Router, StaticFiles, chain
from ..http.client import split_responses
from ..http.lab import run_now, serve_bytes
from ..http.parser import NEED_DATA, Data, EndOfMessage, Request, RequestParser
from . import Case, Property, exercise

GET = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"


# -- 01.1 -----------------------------------------------------------------------------------------
def _parse_with(content_length, value: bytes) -> str:
    """What the parser makes of a request with ``Content-Length: value`` and the hook plugged in."""
    parser = RequestParser(content_length=content_length)
    parser.feed(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n"
                + b"0123456789abcdef")
    body = b""
    try:
        while (event := parser.next_event()) is not NEED_DATA:
            if isinstance(event, Request):
                length = event.content_length
            elif isinstance(event, Data):
                body += event.data
            elif isinstance(event, EndOfMessage):
                return f"length {length}, body {body.decode()}"
    except ProtocolError as exc:
        return f"refused {exc.status_code}"
    return "incomplete"


@exercise("01.1", "Content-Length lists", attr="parse_content_length")
def _content_length(parse_content_length):
    def same_lists():
        rng = random.Random(11)
        for _ in range(60):
            n = rng.randrange(0, 17)
            ows = [rng.choice(["", " ", "  ", "\t"]) for _ in range(8)]
            k = rng.randrange(2, 5)
            yield ",".join(f"{ows[i]}{n}{ows[i + 4]}" for i in range(k)).strip(" \t").encode()

    def mixed_lists():
        rng = random.Random(12)
        for _ in range(60):
            values = [rng.randrange(0, 17) for _ in range(rng.randrange(2, 5))]
            if len(set(values)) == 1:
                values.append(values[0] + 1)
            yield ", ".join(map(str, values)).encode()

    def parse(value: bytes) -> str:
        return _parse_with(parse_content_length, value)

    def plain(value: bytes) -> str:
        return _parse_with(None, value.split(b",")[0].strip())

    rows = [
        ("two identical values are one length", b"5, 5", "length 5, body 01234"),
        ("three identical values, no spaces", b"7,7,7", "length 7, body 0123456"),
        ("spaces and tabs around the commas", b"3 ,\t3", "length 3, body 012"),
        ("different values are ambiguous: 400", b"5, 6", "refused 400"),
        ("a list with junk in it: 400", b"5, abc", "refused 400"),
        ("a negative length: 400", b"-5", "refused 400"),
        ("a sign is not a digit: 400", b"+5", "refused 400"),
        ("hex is not decimal: 400", b"0x5", "refused 400"),
        ("an empty value: 400", b"", "refused 400"),
    ]
    cases = [Case(name, lambda v=value: parse(v), want, input=f"Content-Length: {value.decode()}")
             for name, value, want in rows]
    cases += [
        Property("a list of one length repeated is that length", same_lists, parse, plain,
                 show=lambda v: f"Content-Length: {v.decode()}"),
        Property("a list of different lengths is refused", mixed_lists, parse,
                 lambda v: "refused 400", show=lambda v: f"Content-Length: {v.decode()}"),
    ]
    return cases


# -- 01.2 -----------------------------------------------------------------------------------------
def _ids(data: bytes) -> list[str | None]:
    return [r.headers.get("x-request-id") for r in split_responses(data)]


@exercise("01.2", "A request-id middleware", attr="request_id")
def _request_id(request_id):
    router = Router()
    router.add("GET", "/hello", lambda req: Response("Hello, World!", headers=[("x-app", "1")]))

    async def later(req: HttpRequest) -> Response:
        return Response("later")

    router.add("GET", "/later", later)

    def wire(paths: list[bytes]) -> list[str | None]:
        app = chain(router, request_id())
        return _ids(serve_bytes(app, b"".join(GET % p for p in paths)))

    def plain_stays_plain() -> str:
        result = chain(router, request_id())(_request(b"/hello"))
        return type(result).__name__

    def awaited() -> str | None:
        result = chain(router, request_id())(_request(b"/later"))
        return run_now(result).header(b"x-request-id").decode()

    def kept() -> list[tuple[bytes, bytes]]:
        resp = chain(router, request_id())(_request(b"/hello"))
        return sorted(h for h in resp.headers if h[0].startswith(b"x-"))

    def many(n: int) -> list[str | None]:
        return wire([b"/hello"] * n)

    return [
        Case("two requests get ids 1 and 2", lambda: wire([b"/hello", b"/hello"]), ["1", "2"],
             input="GET /hello twice on one connection"),
        Case("each middleware counts from 1", lambda: wire([b"/hello"]) + wire([b"/hello"]),
             ["1", "1"], input="two chains, one request each"),
        Case("a 404 from the router gets an id too", lambda: wire([b"/hello", b"/nope"]),
             ["1", "2"], input="GET /hello, GET /nope"),
        Case("a coroutine handler's response gets its id", awaited, "1", input="GET /later"),
        Case("a plain handler stays plain (no coroutine: the server's no-Task path)",
             plain_stays_plain, "Response", input="GET /hello"),
        Case("the handler's own fields are kept", kept,
             [(b"x-app", b"1"), (b"x-request-id", b"1")], input="GET /hello"),
        Property("ids follow the requests in order", lambda: [3, 50, 200], many,
                 lambda n: [str(i) for i in range(1, n + 1)], show=lambda n: f"{n} pipelined requests"),
    ]


def _request(path: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> HttpRequest:
    parser = RequestParser()
    fields = b"".join(b"%s: %s\r\n" % kv for kv in headers)
    parser.feed(b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, fields))
    return HttpRequest(parser.next_event())


# -- 01.3 -----------------------------------------------------------------------------------------
def parse_byteranges(body: bytes, boundary: bytes) -> list[tuple[str, str, bytes]]:
    """A strict reader of a multipart/byteranges body: (Content-Range, Content-Type, data) per part."""
    delim = b"--" + boundary
    if not body.startswith(delim + b"\r\n"):
        raise ValueError(f"the body does not start with --{boundary.decode()} CRLF")
    parts, pos = [], len(delim) + 2
    while True:
        end = body.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError(f"part {len(parts) + 1}: no blank line after its fields")
        fields = {}
        for line in body[pos:end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            fields[name.strip().lower().decode()] = value.strip().decode()
        crange = fields.get("content-range", "")
        try:
            first, last = crange.removeprefix("bytes ").split("/")[0].split("-")
            size = int(last) - int(first) + 1
        except ValueError:
            raise ValueError(f"part {len(parts) + 1}: bad Content-Range {crange!r}") from None
        data = body[end + 4 : end + 4 + size]
        parts.append((crange, fields.get("content-type", ""), data))
        pos = end + 4 + size
        if body.startswith(b"\r\n" + delim + b"--", pos):
            return parts
        if not body.startswith(b"\r\n" + delim + b"\r\n", pos):
            raise ValueError(f"part {len(parts)}: not followed by CRLF --{boundary.decode()}")
        pos += len(delim) + 4


def _expected_parts(data: bytes, ranges: list[tuple[int, int]], ctype: str) -> list[tuple[str, str, bytes]]:
    return [(f"bytes {a}-{b}/{len(data)}", ctype, data[a : b + 1]) for a, b in ranges]


@exercise("01.3", "Several ranges as multipart/byteranges", attr="byteranges")
def _byteranges(byteranges):
    folder = tempfile.TemporaryDirectory(prefix="lab01-ranges-")
    data = b"".join(b"%03d," % i for i in range(50))  # 200 readable bytes: "000,001,002,..."
    (Path(folder.name) / "ticks.bin").write_bytes(data)
    static = StaticFiles(folder.name, multi_range=byteranges)

    def get(range_value: bytes) -> tuple:
        _keep = folder  # the folder lives as long as the cases
        resp = static(_request(b"/static/ticks.bin", ((b"range", range_value),)))
        ctype = resp.content_type.decode()
        if resp.status != 206 or not ctype.startswith("multipart/byteranges; boundary="):
            return resp.status, ctype, len(resp.body)
        return resp.status, parse_byteranges(resp.body, ctype.split("boundary=", 1)[1].encode())

    octet = "application/octet-stream"

    def direct(args):
        spec, ranges = args
        body = byteranges(data, spec, octet.encode(), b"B0UND")
        return None if body is None else parse_byteranges(body, b"B0UND")

    def specs():
        rng = random.Random(14)
        for _ in range(40):
            ranges = []
            for _ in range(rng.randrange(2, 5)):
                a = rng.randrange(200)
                ranges.append((a, rng.randrange(a, 200)))
            yield b"bytes=" + b",".join(b"%d-%d" % r for r in ranges), ranges

    whole = (200, octet, 200)
    return [
        Case("two ranges, two parts", lambda: get(b"bytes=0-1,5-6"),
             (206, _expected_parts(data, [(0, 1), (5, 6)], octet)), input="Range: bytes=0-1,5-6"),
        Case("a suffix range and an open one, in the order asked", lambda: get(b"bytes=-3, 190-"),
             (206, _expected_parts(data, [(197, 199), (190, 199)], octet)), input="Range: bytes=-3, 190-"),
        Case("a last position past the end is cut to the end", lambda: get(b"bytes=0-0,150-999"),
             (206, _expected_parts(data, [(0, 0), (150, 199)], octet)), input="Range: bytes=0-0,150-999"),
        Case("an invalid range-spec: the whole file", lambda: get(b"bytes=0-1,x-3"), whole,
             input="Range: bytes=0-1,x-3"),
        Case("an unsatisfiable range among them: the whole file", lambda: get(b"bytes=0-1,300-400"),
             whole, input="Range: bytes=0-1,300-400"),
        Case("another unit: the whole file", lambda: get(b"items=0-1,5-6"), whole,
             input="Range: items=0-1,5-6"),
        Property("each part is its slice of the file", specs, direct,
                 lambda a: _expected_parts(data, a[1], octet), show=lambda a: a[0].decode()),
    ]


# -- 01.4 -----------------------------------------------------------------------------------------
def _on_the_wire(data: bytes, head_only: bool = False) -> list[tuple[int, list[str], bytes]]:
    """Responses as a client sees them: status, sorted field lines (lower-case names), body."""
    return [(r.status, sorted(f"{k}: {v}" for k, v in r.headers.items()), r.body)
            for r in split_responses(data, head_only=(head_only,))]

_ENCODER_ROWS = [  # (request bytes, response) pairs; each row is one request on a new connection
    ("GET, 200 text", GET % b"/", Response("Hello, World!")),
    ("GET, 404", GET % b"/", Response("no route for /nope", 404)),
    ("HEAD: the length of the body, no body", b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", Response("twelve bytes")),
    ("204: no body and no Content-Length", GET % b"/", Response(b"", 204)),
    ("304 with an ETag: no body", GET % b"/", Response(b"", 304, headers=[("etag", '"v1"')])),
    ("Connection: close asked: said back", b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     Response("bye")),
    ("HTTP/1.0 keep-alive: said back", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", Response("ok")),
    ("HTTP/1.0 without keep-alive: close", b"GET / HTTP/1.0\r\n\r\n", Response("ok")),
    ("extra fields and a JSON body", GET % b"/",
     Response('{"qty": 5}', 201, content_type="application/json", headers=[("x-a", "1"), ("vary", "x")])),
    ("an empty 200", GET % b"/", Response(b"")),
]


@exercise("01.4", "A faster response encoder", attr="encode_response")
def _encoder(encode_response):
    def wire(raw: bytes, response: Response, encode) -> list:
        data = serve_bytes(lambda req: response, raw, encode=encode)
        return _on_the_wire(data, head_only=raw.startswith(b"HEAD"))

    def timed(encode, n: int = 2000) -> float:
        raw = GET % b"/" * n
        hello = Response("Hello, World!")
        t0 = time.perf_counter()
        serve_bytes(lambda req: hello, raw, encode=encode, date=DateHeader())
        return (time.perf_counter() - t0) / n * 1e6

    def speed() -> bool:
        yours = min(timed(encode_response) for _ in range(3))
        ours = min(timed(Response.encode) for _ in range(3))
        print(f"        speed, measured and not judged: yours {yours:.2f} us per request through "
              f"the connection, Response.encode {ours:.2f} us ({ours / yours:.2f}x)")
        raw = GET % b"/" * 50
        hello = Response("Hello, World!")
        return (_on_the_wire(serve_bytes(lambda req: hello, raw, encode=encode_response))
                == _on_the_wire(serve_bytes(lambda req: hello, raw)))

    cases = [Case(name, lambda raw=raw, resp=resp: wire(raw, resp, encode_response),
                  wire(raw, resp, Response.encode), input=raw.split(b"\r\n")[0].decode())
             for name, raw, resp in _ENCODER_ROWS]
    cases.append(Case("50 pipelined hellos, timed", speed, True, input="GET / x 50"))
    return cases

