"""rpc interop: a stock grpcio client runs gRPC's interop cases against our gRPC transport, and
our client calls a grpcio server, for the four method kinds, deadlines, status and metadata."""

from __future__ import annotations

import asyncio
import threading

import pytest

grpc = pytest.importorskip("grpc")

from labsupport.rpc.client import Channel  # noqa: E402
from labsupport.rpc.errors import RpcError, StatusCode  # noqa: E402
from labsupport.rpc.interop import TestService  # noqa: E402
from labsupport.rpc.peers import interop_handler, start_sync_server  # noqa: E402
from labsupport.rpc.proto import interop_pb2 as pb  # noqa: E402
from labsupport.rpc.threaded import ServerThread  # noqa: E402

SVC = "/grpc.testing.TestService/"
SPECIAL = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"


@pytest.fixture(scope="module")
def stub():
    with ServerThread(TestService(), transport="grpc") as server:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")

        def call(kind, name, req, resp):
            return getattr(channel, kind)(SVC + name, request_serializer=req.SerializeToString,
                                          response_deserializer=resp.FromString)

        yield call
        channel.close()


def unary(stub, name="UnaryCall"):
    return stub("unary_unary", name, pb.SimpleRequest if name == "UnaryCall" else pb.Empty,
                pb.SimpleResponse if name == "UnaryCall" else pb.Empty)


def output(stub):
    return stub("unary_stream", "StreamingOutputCall", pb.StreamingOutputCallRequest,
                pb.StreamingOutputCallResponse)


def duplex(stub):
    return stub("stream_stream", "FullDuplexCall", pb.StreamingOutputCallRequest,
                pb.StreamingOutputCallResponse)


def params(*sizes, interval_us=0):
    return [pb.ResponseParameters(size=s, interval_us=interval_us) for s in sizes]


def test_empty_unary(stub):
    assert unary(stub, "EmptyCall")(pb.Empty(), timeout=10) == pb.Empty()


def test_large_unary(stub):
    reply = unary(stub)(pb.SimpleRequest(response_size=314159,
                                         payload=pb.Payload(body=bytes(271828))), timeout=10)
    assert reply.payload.body == bytes(314159)


def test_client_streaming(stub):
    call = stub("stream_unary", "StreamingInputCall", pb.StreamingInputCallRequest,
                pb.StreamingInputCallResponse)
    sizes = (27182, 8, 1828, 45904)
    reply = call(iter(pb.StreamingInputCallRequest(payload=pb.Payload(body=bytes(n)))
                      for n in sizes), timeout=10)
    assert reply.aggregated_payload_size == 74922


def test_server_streaming(stub):
    sizes = (31415, 9, 2653, 58979)
    replies = output(stub)(pb.StreamingOutputCallRequest(response_parameters=params(*sizes)),
                           timeout=10)
    assert [len(r.payload.body) for r in replies] == list(sizes)


def test_ping_pong(stub):
    requests, sizes = [], []
    go = threading.Event()

    def gen():
        for size, body in ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904)):
            go.wait(10)
            go.clear()
            requests.append(size)
            yield pb.StreamingOutputCallRequest(response_parameters=params(size),
                                                payload=pb.Payload(body=bytes(body)))

    go.set()
    for reply in duplex(stub)(gen(), timeout=10):
        sizes.append(len(reply.payload.body))
        assert len(requests) == len(sizes)  # one answer per request, in lock step
        go.set()
    assert sizes == [31415, 9, 2653, 58979]


def test_empty_stream(stub):
    assert list(duplex(stub)(iter(()), timeout=10)) == []


def test_custom_metadata(stub):
    md = (("x-grpc-test-echo-initial", "test_initial_metadata_value"),
          ("x-grpc-test-echo-trailing-bin", b"\x0a\x0b\x0a\x0b\x0a\x0b"))
    reply, call = unary(stub).with_call(pb.SimpleRequest(response_size=314159,
                                                         payload=pb.Payload(body=bytes(271828))),
                                        metadata=md, timeout=10)
    assert len(reply.payload.body) == 314159
    assert md[0] in call.initial_metadata()
    assert md[1] in call.trailing_metadata()
    stream = duplex(stub)(iter([pb.StreamingOutputCallRequest(response_parameters=params(314159))]),
                          metadata=md, timeout=10)
    assert [len(r.payload.body) for r in stream] == [314159]
    assert md[0] in stream.initial_metadata()
    assert md[1] in stream.trailing_metadata()


def test_status_code_and_message(stub):
    status = pb.EchoStatus(code=2, message="test status message")
    with pytest.raises(grpc.RpcError) as info:
        unary(stub)(pb.SimpleRequest(response_status=status), timeout=10)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.UNKNOWN,
                                                        "test status message")
    with pytest.raises(grpc.RpcError) as info:
        list(duplex(stub)(iter([pb.StreamingOutputCallRequest(response_status=status)]),
                          timeout=10))
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.UNKNOWN,
                                                        "test status message")


def test_special_status_message(stub):
    with pytest.raises(grpc.RpcError) as info:
        unary(stub)(pb.SimpleRequest(response_status=pb.EchoStatus(code=2, message=SPECIAL)),
                    timeout=10)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.UNKNOWN, SPECIAL)


def test_unimplemented_method(stub):
    with pytest.raises(grpc.RpcError) as info:
        unary(stub, "UnimplementedCall")(pb.Empty(), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_cancel_after_begin(stub):
    call = stub("stream_unary", "StreamingInputCall", pb.StreamingInputCallRequest,
                pb.StreamingInputCallResponse)
    future = call.future(_blocked(), timeout=10)
    future.cancel()
    assert future.cancelled()
    with pytest.raises(grpc.FutureCancelledError):
        future.result()


def _blocked():
    threading.Event().wait(2)  # a request stream that has not produced anything yet
    yield from ()


def test_cancel_after_first_response(stub):
    done = threading.Event()

    def gen():
        yield pb.StreamingOutputCallRequest(response_parameters=params(31415),
                                            payload=pb.Payload(body=bytes(27182)))
        done.wait(10)

    stream = duplex(stub)(gen(), timeout=10)
    assert len(next(stream).payload.body) == 31415
    stream.cancel()
    done.set()
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() == grpc.StatusCode.CANCELLED


def test_timeout_on_sleeping_server(stub):
    done = threading.Event()

    def gen():
        yield pb.StreamingOutputCallRequest(payload=pb.Payload(body=bytes(27182)))
        done.wait(10)

    stream = duplex(stub)(gen(), timeout=0.001)
    with pytest.raises(grpc.RpcError) as info:
        list(stream)
    done.set()
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_server_interval_us_is_honoured(stub):
    import time
    start = time.monotonic()
    replies = list(output(stub)(pb.StreamingOutputCallRequest(
        response_parameters=params(1, 1, 1, interval_us=50_000)), timeout=10))
    assert len(replies) == 3 and time.monotonic() - start >= 0.15


# -- our client, a grpcio server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def grpcio_port():
    server, port = start_sync_server(interop_handler())
    yield port
    server.stop(None)


def ours(port, body):
    async def main():
        channel = Channel("127.0.0.1", port, transport="grpc", serializer="proto")
        try:
            return await asyncio.wait_for(body(channel), 30)
        finally:
            await channel.close()
    return asyncio.run(main())


def test_our_client_unary_and_metadata_against_grpcio(grpcio_port):
    md = (("x-grpc-test-echo-initial", "v1"), ("x-grpc-test-echo-trailing-bin", b"\x00\x01\xff"))

    async def body(channel):
        call = await channel.open(SVC + "UnaryCall", metadata=md, response_type=pb.SimpleResponse,
                                  timeout=10)
        await call.stream.send(pb.SimpleRequest(response_size=314159,
                                                payload=pb.Payload(body=bytes(271828)))
                               .SerializeToString(), end=True)
        reply = await call.read()
        await call.read()
        return len(reply.payload.body), await call.initial_metadata(), call.trailers

    size, initial, trailers = ours(grpcio_port, body)
    assert size == 314159
    assert md[0] in initial and md[1] in trailers


def test_our_client_streams_against_grpcio(grpcio_port):
    async def body(channel):
        replies = await channel.server_stream(
            SVC + "StreamingOutputCall",
            pb.StreamingOutputCallRequest(response_parameters=params(31415, 9, 2653, 58979)),
            response_type=pb.StreamingOutputCallResponse, timeout=10)
        sizes = [len(r.payload.body) async for r in replies]
        total = await channel.client_stream(
            SVC + "StreamingInputCall",
            [pb.StreamingInputCallRequest(payload=pb.Payload(body=bytes(n)))
             for n in (27182, 8, 1828, 45904)],
            response_type=pb.StreamingInputCallResponse, timeout=10)
        call = await channel.bidi(SVC + "FullDuplexCall",
                                  response_type=pb.StreamingOutputCallResponse, timeout=10)
        pongs = []
        for size in (31415, 9, 2653):
            await call.write(pb.StreamingOutputCallRequest(response_parameters=params(size)))
            pongs.append(len((await call.read()).payload.body))
        await call.done_writing()
        return sizes, total.aggregated_payload_size, pongs, [r async for r in call]

    sizes, total, pongs, rest = ours(grpcio_port, body)
    assert sizes == [31415, 9, 2653, 58979]
    assert total == 74922
    assert pongs == [31415, 9, 2653] and rest == []


def test_our_client_status_deadline_unimplemented_against_grpcio(grpcio_port):
    async def body(channel):
        out = []
        for path, request, timeout in (
                ("UnaryCall", pb.SimpleRequest(response_status=pb.EchoStatus(code=2,
                                                                            message=SPECIAL)), 10),
                ("UnimplementedCall", pb.Empty(), 10),
                ("StreamingOutputCall", pb.StreamingOutputCallRequest(
                    response_parameters=params(1, interval_us=2_000_000)), 0.2)):
            try:
                call = await channel.server_stream(SVC + path, request, timeout=timeout,
                                                   response_type=pb.SimpleResponse)
                [r async for r in call]
            except RpcError as exc:
                out.append((exc.code, exc.message))
        return out

    out = ours(grpcio_port, body)
    assert out[0] == (StatusCode.UNKNOWN, SPECIAL)
    assert out[1][0] == StatusCode.UNIMPLEMENTED
    assert out[2][0] == StatusCode.DEADLINE_EXCEEDED
