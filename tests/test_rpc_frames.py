"""rpc.frames: the native frame codec, by table, split points and arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.rpc import frames
from labsupport.rpc.errors import FrameError, Status, StatusCode

ROUND_TRIPS = [
    (frames.headers(1, "/demo.Echo/Say", 1.5, (("k", "v"), ("b-bin", b"\x00\xff"))),
     frames.Headers(1, "/demo.Echo/Say", 1.5, (("k", "v"), ("b-bin", b"\x00\xff")))),
    (frames.headers(3, "/a/b"), frames.Headers(3, "/a/b", None, ())),
    (frames.data(5, b"payload"), frames.Data(5, b"payload", False)),
    (frames.data(5, b"", end_stream=True), frames.Data(5, b"", True)),
    (frames.end(7), frames.End(7, None)),
    (frames.end(7, Status(StatusCode.NOT_FOUND, "no such order", (("t", "1"),))),
     frames.End(7, Status(StatusCode.NOT_FOUND, "no such order", (("t", "1"),)))),
    (frames.cancel(9), frames.Cancel(9)),
    (frames.error(StatusCode.UNAVAILABLE, "going away"),
     frames.ConnectionError_(StatusCode.UNAVAILABLE, "going away")),
    (frames.ping(b"12345678"), frames.Ping(b"12345678", False)),
    (frames.ping(b"12345678", ack=True), frames.Ping(b"12345678", True)),
    (frames.window(11, 32), frames.Window(11, 32)),
]


@pytest.mark.parametrize("wire,event", ROUND_TRIPS, ids=[type(e).__name__ for _, e in ROUND_TRIPS])
def test_round_trip_table(wire, event):
    dec = frames.Decoder()
    dec.receive_data(wire)
    assert dec.next_event() == event
    assert dec.next_event() is frames.NEED_DATA


def test_header_layout_is_length_stream_type_flags():
    wire = frames.data(0x01020304, b"abc", end_stream=True)
    assert wire[:10] == bytes([0, 0, 0, 3, 1, 2, 3, 4, frames.FrameType.DATA, frames.END_STREAM])


def test_every_split_point_gives_the_same_events():
    stream = b"".join(w for w, _ in ROUND_TRIPS)
    expected = [e for _, e in ROUND_TRIPS]
    for cut in range(len(stream) + 1):
        dec = frames.Decoder()
        dec.receive_data(stream[:cut])
        got = list(dec)
        dec.receive_data(stream[cut:])
        got += list(dec)
        assert got == expected, cut


def test_byte_at_a_time():
    stream = b"".join(w for w, _ in ROUND_TRIPS)
    dec = frames.Decoder()
    got = []
    for i in range(len(stream)):
        dec.receive_data(stream[i:i + 1])
        got += list(dec)
    assert got == [e for _, e in ROUND_TRIPS]


@pytest.mark.parametrize("wire,what", [
    (frames.HEADER.pack(0, 1, 99, 0), "unknown frame type 99"),
    (frames.HEADER.pack(0, 0, frames.FrameType.DATA, 0), "DATA frame on stream 0"),
    (frames.HEADER.pack(0, 0, frames.FrameType.CANCEL, 0), "CANCEL frame on stream 0"),
    (frames.HEADER.pack(8, 3, frames.FrameType.PING, 0) + b"12345678", "PING frame on stream 3"),
    (frames.HEADER.pack(3, 1, frames.FrameType.HEADERS, 0) + b"\x00\x05a", "truncated field"),
    (frames.HEADER.pack(4, 1, frames.FrameType.WINDOW, 0) + b"\0\0\0\0", "increment of 0"),
    (frames.HEADER.pack(1, 1, frames.FrameType.CANCEL, 0) + b"x", "bytes after the last field"),
    (frames.HEADER.pack(12, 1, frames.FrameType.HEADERS, 0) + b"\x00\x02\xff\xfe" + bytes(8),
     "not UTF-8"),
])
def test_malformed_frames_raise_frame_error(wire, what):
    dec = frames.Decoder()
    dec.receive_data(wire)
    with pytest.raises(FrameError, match=what):
        dec.next_event()


def test_oversized_frame_is_skipped_and_the_next_frame_decodes():
    dec = frames.Decoder(max_frame_size=100)
    big = frames.data(3, b"x" * 1000)
    dec.receive_data(big[:50])  # the oversize is known from the header alone
    assert dec.next_event() == frames.Oversized(3, 1000, 100)
    dec.receive_data(big[50:] + frames.data(5, b"ok"))
    assert list(dec) == [frames.Data(5, b"ok", False)]
    assert StatusCode.RESOURCE_EXHAUSTED == 8


def test_need_data_on_a_partial_header():
    dec = frames.Decoder()
    dec.receive_data(frames.data(1, b"abc")[:9])
    assert dec.next_event() is frames.NEED_DATA


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=5))
def test_arbitrary_bytes_raise_only_frame_error(blob, cuts):
    dec = frames.Decoder(max_frame_size=64)
    points = sorted(c % (len(blob) + 1) for c in cuts)
    chunks = [blob[a:b] for a, b in zip([0, *points], [*points, len(blob)])]
    try:
        for chunk in chunks:
            dec.receive_data(chunk)
            for event in dec:
                assert isinstance(event, frames.Event.__args__)
    except FrameError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 2**31), st.binary(max_size=50), st.booleans()),
                max_size=10), st.integers(1, 40))
def test_data_frames_survive_any_chunking(items, step):
    wire = b"".join(frames.data(s, p, e) for s, p, e in items)
    dec = frames.Decoder()
    got = []
    for i in range(0, len(wire), step):
        dec.receive_data(wire[i:i + step])
        got += list(dec)
    assert got == [frames.Data(s, p, e) for s, p, e in items]


def flat(events):
    """``feed``'s events with each Messages run spelled out as the Data events it stands for."""
    out = []
    for ev in events:
        if isinstance(ev, frames.Messages):
            out += [frames.Data(ev.stream_id, p, False) for p in ev.payloads]
        else:
            out.append(ev)
    return out


def _events(feed_chunks, max_frame_size=64):
    """(events, error) of feeding ``feed_chunks`` with ``feed`` and with ``next_event``."""
    out = []
    for batch in (True, False):
        dec, got, err = frames.Decoder(max_frame_size=max_frame_size), [], None
        try:
            for chunk in feed_chunks:
                if batch:
                    got += dec.feed(chunk)
                else:
                    dec.receive_data(chunk)
                    got += list(dec)
        except FrameError as exc:
            err = str(exc)
        out.append((flat(got), err))
    return out


def test_feed_gives_the_table_at_every_split_point():
    stream = b"".join(w for w, _ in ROUND_TRIPS)
    expected = [e for _, e in ROUND_TRIPS]
    for cut in range(len(stream) + 1):
        dec = frames.Decoder()
        assert flat(dec.feed(stream[:cut]) + dec.feed(stream[cut:])) == expected, cut


def test_feed_skips_an_oversized_frame_and_decodes_the_next():
    dec = frames.Decoder(max_frame_size=8)
    wire = frames.data(3, b"x" * 20) + frames.data(5, b"ok", True)
    assert dec.feed(wire[:15]) == [frames.Oversized(3, 20, 8)]
    assert dec.feed(wire[15:]) == [frames.Data(5, b"ok", True)]


def test_feed_groups_a_stream_s_messages():
    wire = b"".join([frames.data(1, b"a"), frames.data(1, b"b"), frames.data(3, b"c"),
                     frames.data(1, b"d", end_stream=True), frames.data(1, b"e")])
    assert frames.Decoder().feed(wire) == [
        frames.Messages(1, [b"a", b"b"]), frames.Messages(3, [b"c"]),
        frames.Data(1, b"d", True), frames.Messages(1, [b"e"])]


def test_compressed_flag_round_trips():
    dec = frames.Decoder()
    assert dec.feed(frames.data(1, b"z", compressed=True)) == [frames.Data(1, b"z", False, True)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([w for w, _ in ROUND_TRIPS]) | st.binary(max_size=40),
                max_size=8), st.lists(st.integers(0, 400), max_size=5))
def test_feed_agrees_with_next_event_on_any_bytes_and_splits(parts, cuts):
    blob = b"".join(parts)
    points = sorted(c % (len(blob) + 1) for c in cuts)
    chunks = [blob[a:b] for a, b in zip([0, *points], [*points, len(blob)])]
    (batch, batch_err), (single, single_err) = _events(chunks)
    assert batch_err == single_err
    if batch_err is None:
        assert batch == single


def test_ok_end_and_plain_headers_take_the_short_path():
    dec = frames.Decoder()
    assert frames.end(3, Status()) == frames.HEADER.pack(5, 3, 3, 0) + b"\0" * 5
    assert dec.feed(frames.end(3, Status()) + frames.headers(5, "/a/b", 2.0)) == [
        frames.End(3, Status()), frames.Headers(5, "/a/b", 2.0, ())]
    bad = bytearray(frames.headers(5, "/a/b"))
    bad[12] = 0xFF  # not UTF-8 in the method
    with pytest.raises(FrameError, match="UTF-8"):
        dec.feed(bytes(bad))
