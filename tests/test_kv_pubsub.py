"""Pub/sub introspection and keyspace notifications of the mini Redis: PUBSUB CHANNELS/NUMSUB/
NUMPAT, ``notify-keyspace-events`` flags and the ``__keyspace@N__`` / ``__keyevent@N__``
messages (masking, expiry, databases), RESP3 push frames, messages under CLIENT REPLY OFF."""

from __future__ import annotations

import pytest

from labsupport.kv import Engine
from labsupport.kv.notify import flags_to_string, parse_flags


class Conn:
    def __init__(self, eng: Engine) -> None:
        self.out: list[bytes] = []
        self.eng = eng
        self.cl = eng.new_client(self.out.append)

    def __call__(self, *args) -> bytes:
        self.out.clear()
        self.eng.run_batch(self.cl, [[a if isinstance(a, bytes) else str(a).encode() for a in args]])
        return self.take()

    def take(self) -> bytes:
        data, self.out[:] = b"".join(self.out), []
        return data


def pmessage(channel: bytes, payload: bytes, pattern: bytes = b"*") -> bytes:
    return b"*4\r\n$8\r\npmessage\r\n" + b"".join(
        b"$%d\r\n%s\r\n" % (len(x), x) for x in (pattern, channel, payload))


@pytest.fixture
def clock():
    return [1_000_000]


@pytest.fixture
def eng(clock):
    return Engine(clock_ms=lambda: clock[0])


def test_pubsub_introspection(eng):
    a, b, c = Conn(eng), Conn(eng), Conn(eng)
    a("SUBSCRIBE", "news", "fx")
    b("SUBSCRIBE", "news")
    a("PSUBSCRIBE", "foo*")
    b("PSUBSCRIBE", "foo*", "bar*")
    assert c("PUBSUB", "NUMSUB", "news", "fx", "none") == (
        b"*6\r\n$4\r\nnews\r\n:2\r\n$2\r\nfx\r\n:1\r\n$4\r\nnone\r\n:0\r\n")
    assert c("PUBSUB", "NUMPAT") == b":2\r\n"         # unique patterns
    assert c("PUBSUB", "CHANNELS") == b"*2\r\n$2\r\nfx\r\n$4\r\nnews\r\n"
    assert c("PUBSUB", "CHANNELS", "n*") == b"*1\r\n$4\r\nnews\r\n"
    assert c("PUBSUB", "WHAT").startswith(b"-ERR unknown subcommand")


def test_flag_strings_round_trip():
    assert flags_to_string(parse_flags("gKE")) == "gKE"
    assert flags_to_string(parse_flags("$lshzxeKE")) == "$lshzxeKE"
    assert flags_to_string(parse_flags("KA")) == "AK"
    assert parse_flags("Kq") is None


def test_keyspace_and_keyevent_messages(eng):
    a, w = Conn(eng), Conn(eng)
    w("CONFIG", "SET", "notify-keyspace-events", "KEA")
    a("PSUBSCRIBE", "*")
    w("SET", "foo", "bar")
    assert a.take() == (pmessage(b"__keyspace@0__:foo", b"set")
                        + pmessage(b"__keyevent@0__:set", b"foo"))
    w("SELECT", "9")
    w("LPUSH", "l", "x")
    assert a.take() == (pmessage(b"__keyspace@9__:l", b"lpush")
                        + pmessage(b"__keyevent@9__:lpush", b"l"))


def test_classes_mask_events_and_no_change_means_no_event(eng):
    a, w = Conn(eng), Conn(eng)
    w("CONFIG", "SET", "notify-keyspace-events", "Kl")
    a("PSUBSCRIBE", "*")
    w("SET", "foo", "bar")                 # a string event: masked out
    w("RPUSH", "l", "a")
    w("RPOP", "l")
    w("RPOP", "l")                          # empty: nothing popped, nothing raised
    assert a.take() == (pmessage(b"__keyspace@0__:l", b"rpush")
                        + pmessage(b"__keyspace@0__:l", b"rpop"))


def test_generic_and_expired_events(eng, clock):
    a, w = Conn(eng), Conn(eng)
    w("CONFIG", "SET", "notify-keyspace-events", "Egx")
    a("PSUBSCRIBE", "*")
    w("SET", "foo", "bar")
    w("EXPIRE", "foo", "1")
    w("DEL", "foo")
    assert a.take() == (pmessage(b"__keyevent@0__:expire", b"foo")
                        + pmessage(b"__keyevent@0__:del", b"foo"))
    w("SET", "t", "1", "PX", "100")
    a.take()
    clock[0] += 200
    assert w("GET", "t") == b"$-1\r\n"      # lazy expiry raises "expired"
    assert a.take() == pmessage(b"__keyevent@0__:expired", b"t")


def test_resp3_subscriber_gets_push_frames_even_with_replies_off(eng):
    a, w = Conn(eng), Conn(eng)
    a("HELLO", "3")
    assert a("SUBSCRIBE", "ch") == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    assert a("CLIENT", "REPLY", "OFF") == b""        # RESP3: any command while subscribed
    w("PUBLISH", "ch", "hi")
    assert a.take() == b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    assert a("PING") == b""


def test_new_key_event(eng):
    a, w = Conn(eng), Conn(eng)
    w("CONFIG", "SET", "notify-keyspace-events", "En")
    a("PSUBSCRIBE", "*")
    w("SET", "foo", "bar")
    w("SET", "foo", "baz")                  # not new any more
    w("RPUSH", "bar", "x")
    assert a.take() == (pmessage(b"__keyevent@0__:new", b"foo")
                        + pmessage(b"__keyevent@0__:new", b"bar"))
    w("CONFIG", "SET", "notify-keyspace-events", "")
    assert not w.cl.slow                    # back on the fast path


def test_notifications_off_by_default(eng):
    a, w = Conn(eng), Conn(eng)
    a("PSUBSCRIBE", "*")
    w("SET", "foo", "bar")
    assert a.take() == b""
