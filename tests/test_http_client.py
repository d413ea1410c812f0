"""The lab's one HTTP response reader (``labsupport.http.client``), without sockets: each framing
rule of RFC 9112 section 6.3, the same responses whatever the cuts, and errors with offsets."""

from __future__ import annotations

import pytest

from labsupport.http.client import (
    NEED_DATA,
    RawResponse,
    ResponseError,
    ResponseReader,
    split_responses,
)

H = b"HTTP/1.1 200 OK\r\n"
TABLE = [
    ("Content-Length", H + b"Content-Length: 5\r\n\r\nhello", (), [(200, b"hello")]),
    ("chunked, with an extension and trailers",
     H + b"Transfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n", (),
     [(200, b"abcde")]),
    ("close-delimited", H + b"Content-Type: text/plain\r\n\r\nuntil the end", (), [(200, b"until the end")]),
    ("HEAD: a length but no body", H + b"Content-Length: 5\r\n\r\n" + H + b"Content-Length: 2\r\n\r\nok",
     (True,), [(200, b""), (200, b"ok")]),
    ("100 Continue, then the answer",
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", (),
     [(100, b""), (201, b"x")]),
    ("204 and 304 have no body", b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n"
     b"ETag: \"a\"\r\n\r\n", (), [(204, b""), (304, b"")]),
]


@pytest.mark.parametrize("name,data,head_only,expected", TABLE, ids=[r[0] for r in TABLE])
def test_framing(name, data, head_only, expected):
    assert [(r.status, r.body) for r in split_responses(data, head_only=head_only)] == expected


@pytest.mark.parametrize("name,data,head_only,expected", TABLE[:2] + TABLE[3:], ids=lambda x: "")
def test_the_same_responses_whatever_the_cuts(name, data, head_only, expected):
    reader = ResponseReader()
    for flag in head_only:
        reader.expect_head(flag)
    got = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1])  # one byte at a time: every cut there is
        while (resp := reader.next_response()) is not NEED_DATA:
            got.append((resp.status, resp.body))
    assert got == expected


def test_a_response_is_a_tuple_with_lower_case_field_names():
    (resp,) = split_responses(H + b"X-Order-Id: 42\r\nContent-Length: 0\r\n\r\n")
    status, headers, body = resp
    assert isinstance(resp, RawResponse) and (status, headers["x-order-id"], body) == (200, "42", b"")


@pytest.mark.parametrize("data,message", [
    (b"SMTP 220 hello\r\n\r\n", "not a status line at offset 0"),
    (H + b"Content-Length: x\r\n\r\n", "bad Content-Length 'x'"),
    (H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size b'zz' at offset"),
    (H + b"Content-Length: 9\r\n\r\nabc", "6 body bytes missing"),
    (H + b"Content-Length: 0\r\n\r\nHTTP/1.1 2", "10 bytes at offset 38 are not a whole response head"),
])
def test_bad_responses_say_what_and_where(data, message):
    with pytest.raises(ResponseError, match=message.replace("(", r"\(")):
        split_responses(data)
