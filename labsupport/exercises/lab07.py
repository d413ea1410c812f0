"""Exercises of notebook 07: the pieces of an RPC framework a learner writes and plugs in.

- 07.1 the native frame header: the learner's header bytes are fed to the lab's decoder;
- 07.2 gRPC's ``grpc-timeout`` header: the learner's text is parsed as a gRPC server parses it;
- 07.3 exponential backoff with a cap: the retry delays of an idempotent call.
"""

from __future__ import annotations

import random

from ..rpc import frames, grpcwire
from ..rpc.errors import FrameError, RpcError
from . import Case, Property, exercise


def _decoded(frame_header, length, stream_id, ftype, flags, payload):
    dec = frames.Decoder()
    dec.receive_data(frame_header(length, stream_id, ftype, flags) + payload)
    try:
        return dec.next_event()
    except FrameError as exc:
        return f"FrameError: {exc}"


@exercise("07.1", "The native frame header", attr="frame_header")
def _frame_header(frame_header):
    def inputs():
        rng = random.Random(71)
        for _ in range(60):
            payload = rng.randbytes(rng.randrange(0, 200))
            yield len(payload), rng.randrange(1, 2**31), payload, rng.random() < 0.5

    return [
        Case("ten bytes", lambda: len(frame_header(0, 1, 2, 0)), 10, input="(0, 1, 2, 0)"),
        Case("big-endian length first", lambda: frame_header(3, 1, 2, 1)[:4], b"\0\0\0\3",
             input="(3, 1, 2, 1)"),
        Case("a DATA frame decodes", lambda: _decoded(frame_header, 3, 5, 2, 1, b"abc"),
             frames.Data(5, b"abc", True), input="length 3, stream 5, DATA, END_STREAM, b'abc'"),
        Case("a CANCEL frame decodes", lambda: _decoded(frame_header, 0, 7, 4, 0, b""),
             frames.Cancel(7), input="length 0, stream 7, CANCEL"),
        Property("any DATA frame decodes to itself", inputs,
                 lambda a: _decoded(frame_header, a[0], a[1], 2, int(a[3]), a[2]),
                 lambda a: frames.Data(a[1], a[2], a[3]),
                 show=lambda a: f"{a[0]}-byte payload on stream {a[1]}"),
    ]


def _timeout_ok(grpc_timeout, seconds):
    text = grpc_timeout(seconds)
    try:
        parsed = grpcwire.decode_timeout(text)
    except RpcError as exc:
        return f"{text!r} rejected: {exc.message}"
    if parsed < seconds * (1 - 1e-9):
        return f"{text!r} is {parsed} s, shorter than {seconds} s"
    if parsed > seconds * 1.001 + 1e-9:
        return f"{text!r} is {parsed} s, more than 0.1% over {seconds} s"
    return "ok"


@exercise("07.2", "gRPC's grpc-timeout header", attr="grpc_timeout")
def _grpc_timeout(grpc_timeout):
    def inputs():
        rng = random.Random(72)
        for _ in range(200):
            yield 10 ** rng.uniform(-8, 6)

    return [
        Case("one second", lambda: _timeout_ok(grpc_timeout, 1.0), "ok", input="1.0"),
        Case("250 ms", lambda: _timeout_ok(grpc_timeout, 0.25), "ok", input="0.25"),
        Case("a day fits in 8 digits", lambda: _timeout_ok(grpc_timeout, 86400.0), "ok",
             input="86400.0"),
        Case("a microsecond", lambda: _timeout_ok(grpc_timeout, 1e-6), "ok", input="1e-06"),
        Property("parses, never shorter, at most 0.1% longer", inputs,
                 lambda s: _timeout_ok(grpc_timeout, s), lambda s: "ok", show=repr),
    ]


def _reference_backoff(attempt, initial, multiplier, maximum):
    return min(maximum, initial * multiplier ** attempt)


@exercise("07.3", "Capped exponential backoff", attr="backoff")
def _backoff(backoff):
    def inputs():
        rng = random.Random(73)
        for _ in range(100):
            yield (rng.randrange(0, 12), rng.choice([0.01, 0.05, 0.1, 1.0]),
                   rng.choice([1.5, 2.0, 3.0]), rng.choice([0.5, 2.0, 30.0]))

    return [
        Case("the first retry waits the initial backoff", lambda: backoff(0, 0.1, 2.0, 5.0), 0.1,
             input="attempt 0, initial 0.1, x2, max 5"),
        Case("doubles", lambda: [backoff(n, 0.1, 2.0, 5.0) for n in range(4)],
             [0.1, 0.2, 0.4, 0.8], input="attempts 0..3, initial 0.1, x2, max 5",
             compare=lambda a, b: len(a) == len(b) and all(abs(x - y) < 1e-9 for x, y in zip(a, b))),
        Case("capped", lambda: backoff(10, 0.1, 2.0, 5.0), 5.0, input="attempt 10, max 5"),
        Property("equals min(max, initial * multiplier ** attempt)", inputs,
                 lambda a: round(backoff(*a), 9), lambda a: round(_reference_backoff(*a), 9)),
    ]
