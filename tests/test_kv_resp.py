"""RESP2 codec: table-driven requests, limits, arbitrary splits and arbitrary bytes, each run
on the careful parser and on the server's parser with the run shortcut (``.fastpath``), and the
shortcut's answers checked against the careful parser's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.kv import resp
from labsupport.kv.fastpath import FastCommandParser
from labsupport.kv.resp import NEED_DATA, CommandParser, ReplyError, ReplyParser, encode_command

PARSERS = pytest.mark.parametrize("Parser", [CommandParser, FastCommandParser])

CASES = [
    (b"*1\r\n$4\r\nPING\r\n", [[b"PING"]], None),
    (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n", [[b"GET", b"k"], [b"PING"]], None),
    (b"PING\r\n", [[b"PING"]], None),
    (b"set a 'x y'\r\n", [[b"set", b"a", b"x y"]], None),
    (b'echo "\\x41\\n"\r\n', [[b"echo", b"A\n"]], None),
    (b"\r\n\r\nPING\n", [[b"PING"]], None),
    (b"*0\r\n*-1\r\nPING\r\n", [[b"PING"]], None),
    (b"*1\r\n$0\r\n\r\n", [[b""]], None),
    (b"*1\r\n$4\r\nPING\r\n*x\r\n", [[b"PING"]], "Protocol error: invalid multibulk length"),
    (b"*1\r\nx4\r\nPING\r\n", [], "Protocol error: expected '$', got 'x'"),
    (b"*1\r\n$-4\r\nPING\r\n", [], "Protocol error: invalid bulk length"),
    (b"*1\r\n$536870913\r\n", [], "Protocol error: invalid bulk length"),
    (b"*1048577\r\n", [], "Protocol error: invalid multibulk length"),
    (b'PING\r\nset a "b c\r\n', [[b"PING"]], "Protocol error: unbalanced quotes in request"),
    (b"A" * 70000, [], "Protocol error: too big inline request"),
    (b"*" + b"1" * 70000, [], "Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, [], "Protocol error: too big bulk count string"),
]


@PARSERS
@pytest.mark.parametrize("data,commands,error", CASES)
def test_request_table(Parser, data, commands, error):
    p = Parser()
    assert p.feed(data) == commands
    assert (str(p.error) if p.error else None) == error


@PARSERS
def test_incomplete_is_not_an_error_and_completes_later(Parser):
    p = Parser()
    assert p.feed(b"*2\r\n$3\r\nGET\r\n$5\r\nhel") == []
    assert p.error is None and p.pending == 20
    assert p.feed(b"lo\r\n") == [[b"GET", b"hello"]]
    assert p.pending == 0


@PARSERS
def test_large_bulk_is_not_rescanned_until_complete(Parser):
    p = Parser()
    value = b"x" * 1_000_000
    wire = encode_command([b"SET", b"k", value])
    got = []
    for i in range(0, len(wire), 4096):
        got += p.feed(wire[i:i + 4096])
    assert got == [[b"SET", b"k", value]]
    assert p.consumed == len(wire)


@PARSERS
def test_need_is_reset_between_commands(Parser):
    p = Parser()
    first = encode_command([b"SET", b"k", b"v" * 100])
    assert p.feed(first[:50]) == []
    assert p.feed(first[50:] + b"*1\r\n") == [[b"SET", b"k", b"v" * 100]]
    assert p.feed(b"$4\r\nPING\r\n") == [[b"PING"]]


@PARSERS
def test_binary_safe_arguments(Parser):
    args = [b"SET", b"\x00\r\n*$", bytes(range(256))]
    assert Parser().feed(encode_command(args)) == [args]


@PARSERS
def test_strict_mode_refuses_inline(Parser):
    p = Parser(inline=False)
    p.feed(b"PING\r\n")
    assert "expected '*'" in str(p.error)


@PARSERS
def test_error_stops_the_parser_and_carries_offset(Parser):
    p = Parser()
    p.feed(b"*1\r\n$4\r\nPING\r\n*1\r\n$-2\r\n")
    assert p.error.offset == 18   # where the bad "$-2" length starts
    assert p.feed(b"*1\r\n$4\r\nPING\r\n") == []


def test_encoders():
    assert resp.bulk(b"hi") == b"$2\r\nhi\r\n"
    assert resp.bulk(None) == b"$-1\r\n"
    assert resp.integer(-3) == b":-3\r\n"
    assert resp.array([b"a", None]) == b"*2\r\n$1\r\na\r\n$-1\r\n"
    assert resp.error("ERR x") == b"-ERR x\r\n"
    assert resp.simple("OK") == b"+OK\r\n"


def test_reply_parser_table():
    r = ReplyParser()
    r.feed(b"+OK\r\n-ERR bad\r\n:5\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n$3\r\nab")
    assert r.next_reply() == "OK"
    err = r.next_reply()
    assert isinstance(err, ReplyError) and err == "ERR bad"
    assert r.next_reply() == 5
    assert r.next_reply() is None
    assert r.next_reply() == [b"a", [1]]
    assert r.next_reply() is NEED_DATA
    r.feed(b"c\r\n")
    assert r.next_reply() == b"abc"


commands_st = st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=5), max_size=8)


@PARSERS
@settings(max_examples=200, deadline=None)
@given(commands_st, st.data())
def test_any_split_gives_the_same_commands(Parser, commands, data):
    wire = b"".join(encode_command(c) for c in commands)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    p = Parser()
    got = []
    prev = 0
    for c in [*cuts, len(wire)]:
        got += p.feed(wire[prev:c])
        prev = c
    assert got == commands
    assert p.error is None and p.pending == 0


@PARSERS
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 50))
def test_arbitrary_bytes_never_raise(Parser, blob, step):
    p = Parser()
    for i in range(0, len(blob), step):
        out = p.feed(blob[i:i + step])
        assert isinstance(out, list)
        assert all(isinstance(a, bytes) for cmd in out for a in cmd)
    assert p.error is None or str(p.error).startswith("Protocol error: ")


def _runs_as_commands(got):
    """feed_run's answer as the list of commands feed would give."""
    if type(got) is tuple:
        name, cols, _read = got
        return [[name, *args] for args in zip(*cols)]
    return got


same_shape_st = st.integers(1, 4).flatmap(lambda n: st.tuples(
    st.sampled_from([b"GET", b"SET", b"get", b"X\r\nY"]),
    st.lists(st.lists(st.binary(max_size=12), min_size=n, max_size=n), min_size=1, max_size=20)))


@settings(max_examples=300, deadline=None)
@given(same_shape_st, st.binary(max_size=8))
def test_feed_run_gives_what_feed_gives(shape, tail):
    name, argss = shape
    wire = b"".join(encode_command([name, *args]) for args in argss) + tail
    expected = CommandParser().feed(wire)       # the careful path, no shortcut
    p = FastCommandParser()
    got = p.feed_run(wire)
    assert _runs_as_commands(got) == expected
    if type(got) is tuple:          # only a whole read of one shape is a run
        assert got[2] == wire and not tail and b"\r\n" not in name
        assert p.consumed == len(wire) and p.pending == 0


@pytest.mark.parametrize("wire", [
    b"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n",                          # length does not match
    b"*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n",                      # CRLF inside a value
    b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n",   # two names
    b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\n",     # incomplete tail
    b"*2\r\n$3\r\nGET\r\n$02\r\nab\r\n",                         # non-canonical length
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",                 # no arguments: not a run
])
def test_feed_run_falls_back_to_feed(wire):
    p, q = FastCommandParser(), CommandParser()
    assert p.feed_run(wire) == q.feed(wire)
    assert (p.pending, p.consumed, str(p.error)) == (q.pending, q.consumed, str(q.error))


def test_feed_run_after_a_pending_tail_completes_it():
    p = FastCommandParser()
    assert p.feed_run(b"*2\r\n$3\r\nGET\r\n$1") == []
    assert p.feed_run(b"\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n") == [[b"GET", b"a"],
                                                                     [b"GET", b"b"]]
