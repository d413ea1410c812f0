"""rpc compression: gzip and deflate codecs, negotiation, both transports, and interop with grpcio
both ways (gRPC's client_compressed_unary / server_compressed_unary cases and compressed
streams)."""

from __future__ import annotations

import asyncio
import zlib

import pytest

from labsupport.rpc import compression, grpcwire
from labsupport.rpc.client import Channel
from labsupport.rpc.errors import RpcError, StatusCode
from labsupport.rpc.grpc_server import GrpcServer
from labsupport.rpc.native import NativeServer
from labsupport.rpc.service import server_stream, service, unary

SVC = "/grpc.testing.TestService/"


@service("test.Zip")
class Zip:
    @unary
    async def Echo(self, request, ctx):
        return {"echo": request, "compressed": ctx.request_compressed,
                "metadata": [k for k, _ in ctx.invocation_metadata]}

    @server_stream
    async def Many(self, request, ctx):
        for i in range(request):
            yield "x" * 200 + str(i)


@pytest.mark.parametrize("name", ["gzip", "deflate"])
def test_codec_round_trip_and_container(name):
    codec = compression.codec_for(name)
    data = b"quote ACME 101.25 " * 200
    packed = codec.compress(data)
    assert len(packed) < len(data) // 10
    assert codec.decompress(packed, len(data)) == data
    # gzip is RFC 1952 (magic 1f 8b), deflate the zlib container of RFC 1950
    assert (packed[:2] == b"\x1f\x8b") == (name == "gzip")
    assert zlib.decompress(packed, zlib.MAX_WBITS | (16 if name == "gzip" else 0)) == data


def test_zip_bomb_is_refused_at_the_limit():
    bomb = compression.CODECS["gzip"].compress(bytes(20_000_000))
    assert len(bomb) < 50_000
    with pytest.raises(RpcError) as info:
        compression.CODECS["gzip"].decompress(bomb, 1024 * 1024)
    assert info.value.code == StatusCode.RESOURCE_EXHAUSTED


def test_garbage_and_truncated_messages_are_internal():
    codec = compression.CODECS["deflate"]
    for blob in (b"not deflate at all", codec.compress(b"abc" * 100)[:-3]):
        with pytest.raises(RpcError) as info:
            codec.decompress(blob, 10_000)
        assert info.value.code == StatusCode.INTERNAL


def test_negotiation():
    md = (("grpc-encoding", "gzip"), ("x-app", "1"), ("grpc-accept-encoding", "identity,deflate"))
    rest, request, reply, accepts = compression.negotiate(md, "deflate", "grpc-encoding",
                                                          "grpc-accept-encoding")
    assert rest == (("x-app", "1"),)
    assert request.name == "gzip" and reply.name == "deflate"
    assert accepts == {"identity", "deflate"}
    assert compression.negotiate(md, "gzip", "grpc-encoding", "grpc-accept-encoding")[2] is None
    with pytest.raises(RpcError) as info:
        compression.request_codec("snappy")
    assert info.value.code == StatusCode.UNIMPLEMENTED
    with pytest.raises(RpcError):
        compression.codec_for("lz4")


def test_message_reader_compressed_flag():
    gz = compression.CODECS["gzip"]
    wire = grpcwire.prefix(b"hello" * 50, gz) + grpcwire.prefix(b"plain")
    assert wire[0] == 1 and grpcwire.prefix(b"plain")[0] == 0
    reader = grpcwire.MessageReader()
    with pytest.raises(RpcError) as info:
        reader.feed(wire)  # no grpc-encoding on this stream
    assert info.value.code == StatusCode.INTERNAL
    reader = grpcwire.MessageReader()
    reader.codec = gz
    assert reader.feed(wire[:7]) == []
    assert reader.feed(wire[7:]) == [b"hello" * 50, b"plain"]
    assert reader.compressed == 1


def _run(server_cls, body, **server_kw):
    async def main():
        async with server_cls(Zip(), **server_kw) as server:
            return await asyncio.wait_for(body(server.port), 30)
    return asyncio.run(main())


@pytest.mark.parametrize("transport", ["native", "grpc"])
@pytest.mark.parametrize("server_compression", [None, "gzip", "deflate"])
@pytest.mark.parametrize("client_compression", [None, "gzip", "deflate"])
def test_both_transports_compress_each_way(transport, server_compression, client_compression):
    cls = NativeServer if transport == "native" else GrpcServer
    ser = {"serializer": "msgpack"}

    async def body(port):
        async with Channel("127.0.0.1", port, transport=transport,
                           compression=client_compression) as ch:
            reply = await ch.unary("/test.Zip/Echo", "y" * 5000, timeout=10, **ser)
            call = await ch.server_stream("/test.Zip/Many", 300, timeout=10, **ser)
            many = [x async for x in call]
            reply_codec = (call.stream.reply_codec if transport == "native"
                           else call.stream.reader.codec)
            return reply, many, reply_codec

    reply, many, reply_codec = _run(cls, body, compression=server_compression)
    assert reply["echo"] == "y" * 5000 and len(many) == 300 and many[-1].endswith("299")
    assert reply["compressed"] == (client_compression is not None)
    assert not any(k.startswith("grpc-") for k in reply["metadata"])  # the transport's own
    # the server compresses what the client can read: a native client says so only when it
    # compresses; a gRPC client always lists gzip and deflate
    accepts = transport == "grpc" or client_compression is not None
    expected = server_compression if accepts else None
    assert (reply_codec.name if reply_codec else None) == expected


@pytest.mark.parametrize("transport", ["native", "grpc"])
def test_unknown_request_encoding_is_unimplemented(transport):
    cls = NativeServer if transport == "native" else GrpcServer
    fake = compression.Codec("snappy", zlib.MAX_WBITS)

    async def body(port):
        async with Channel("127.0.0.1", port, transport=transport) as ch:
            conn = await ch.connection()
            call_stream = conn.open_stream("/test.Zip/Echo", 5.0, (), "msgpack", fake, True)
            from labsupport.rpc.client import Call
            call = Call(call_stream, "msgpack", None, asyncio.get_running_loop().time() + 5)
            await call_stream.send(call.ser.encode("hi"), end=True)
            with pytest.raises(RpcError) as info:
                await call.read()
            return info.value.code, await ch.unary("/test.Zip/Echo", "after", timeout=5)

    code, after = _run(cls, body)
    assert code == StatusCode.UNIMPLEMENTED
    assert after["echo"] == "after"  # the connection serves on


# -- interop with grpcio ------------------------------------------------------------------------

grpc = pytest.importorskip("grpc")

from labsupport.rpc.interop import TestService  # noqa: E402
from labsupport.rpc.peers import interop_handler, start_sync_server  # noqa: E402
from labsupport.rpc.proto import interop_pb2 as pb  # noqa: E402
from labsupport.rpc.threaded import ServerThread  # noqa: E402

ALGOS = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}


@pytest.fixture(scope="module")
def our_server():
    with ServerThread(TestService(), transport="grpc") as server:
        yield server.port


def _unary(channel):
    return channel.unary_unary(SVC + "UnaryCall", request_serializer=pb.SimpleRequest.SerializeToString,
                               response_deserializer=pb.SimpleResponse.FromString)


def _large(**kw):
    return pb.SimpleRequest(response_size=314159, payload=pb.Payload(body=bytes(271828)), **kw)


@pytest.mark.parametrize("algo", ["gzip", "deflate"])
def test_client_compressed_unary(our_server, algo):
    with grpc.insecure_channel(f"127.0.0.1:{our_server}", compression=ALGOS[algo]) as channel:
        reply = _unary(channel)(_large(expect_compressed=pb.BoolValue(value=True)), timeout=10)
    assert len(reply.payload.body) == 314159
    with grpc.insecure_channel(f"127.0.0.1:{our_server}") as channel, \
            pytest.raises(grpc.RpcError) as info:  # the probe: an uncompressed request
        _unary(channel)(_large(expect_compressed=pb.BoolValue(value=True)), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_server_compressed_unary(our_server):
    with grpc.insecure_channel(f"127.0.0.1:{our_server}") as channel:
        for flag in (True, False):
            reply = _unary(channel)(_large(response_compressed=pb.BoolValue(value=flag)),
                                    timeout=10)
            assert reply.payload.body == bytes(314159)


def _output_sizes(channel, sizes):
    out = channel.unary_stream(SVC + "StreamingOutputCall",
                               request_serializer=pb.StreamingOutputCallRequest.SerializeToString,
                               response_deserializer=pb.StreamingOutputCallResponse.FromString)
    return [len(r.payload.body) for r in out(pb.StreamingOutputCallRequest(
        response_parameters=[pb.ResponseParameters(size=s) for s in sizes]), timeout=10)]


def test_grpcio_compressed_streams_to_our_server(our_server):
    with grpc.insecure_channel(f"127.0.0.1:{our_server}",
                               compression=grpc.Compression.Gzip) as channel:
        inp = channel.stream_unary(SVC + "StreamingInputCall",
                                   request_serializer=pb.StreamingInputCallRequest.SerializeToString,
                                   response_deserializer=pb.StreamingInputCallResponse.FromString)
        total = inp(iter(pb.StreamingInputCallRequest(payload=pb.Payload(body=bytes(n)))
                         for n in (27182, 8, 1828, 45904)), timeout=10)
        sizes = _output_sizes(channel, (31415, 9, 2653))
    assert total.aggregated_payload_size == 74922
    assert sizes == [31415, 9, 2653]


def test_our_server_compresses_streams_for_grpcio():
    with ServerThread(TestService(), transport="grpc", compression="deflate") as server, \
            grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        sizes = _output_sizes(channel, (31415, 9, 58979))
    assert sizes == [31415, 9, 58979]


@pytest.mark.parametrize("server_compression", [None, "gzip"])
def test_our_client_compresses_to_grpcio(server_compression):
    server, port = start_sync_server(interop_handler(), compression=server_compression)

    async def main():
        async with Channel("127.0.0.1", port, transport="grpc", serializer="proto",
                           compression="gzip") as ch:
            call = await ch.open(SVC + "UnaryCall", response_type=pb.SimpleResponse, timeout=10)
            await call.write(_large())
            await call.done_writing()
            reply = await call.read()
            total = await ch.client_stream(
                SVC + "StreamingInputCall",
                [pb.StreamingInputCallRequest(payload=pb.Payload(body=bytes(n)))
                 for n in (27182, 8, 1828, 45904)],
                response_type=pb.StreamingInputCallResponse, timeout=10)
            return len(reply.payload.body), call.stream.reader.compressed, total
    try:
        size, compressed, total = asyncio.run(main())
    finally:
        server.stop(None)
    assert size == 314159 and total.aggregated_payload_size == 74922
    assert compressed == (1 if server_compression else 0)  # grpcio's gzip, inflated by us
