"""rpc: services, the four call kinds, deadlines, cancellation, errors and flow control, over
both transports (native frames and gRPC over HTTP/2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from labsupport.rpc.client import Channel
from labsupport.rpc.dispatch import CallContext
from labsupport.rpc.errors import RpcError, StatusCode
from labsupport.rpc.grpc_server import GrpcServer
from labsupport.rpc.h2base import WINDOW
from labsupport.rpc.native import INITIAL_WINDOW, NativeServer
from labsupport.rpc.service import bidi, client_stream, server_stream, service, unary

TRANSPORTS = ["native", "grpc"]


@service("test.Echo")
class Echo:
    def __init__(self) -> None:
        self.cancelled: asyncio.Event | None = None
        self.started: asyncio.Event | None = None

    @unary(idempotent=True)
    async def Say(self, request: dict, ctx: CallContext) -> dict:
        ctx.initial_metadata.append(("x-seen", ctx.metadata("x-who", "nobody")))
        ctx.trailers.append(("x-done", "yes"))
        return {"echo": request}

    @unary
    async def Fail(self, request: dict, ctx: CallContext) -> dict:
        if request.get("status"):
            raise RpcError(StatusCode(request["status"]), request.get("message", ""))
        raise ValueError("handler bug")

    @unary
    async def Sleep(self, request: float, ctx: CallContext) -> float:
        self.started = self.started or asyncio.Event()
        self.cancelled = self.cancelled or asyncio.Event()
        self.started.set()
        try:
            await asyncio.sleep(request)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return request

    @server_stream
    async def Count(self, request: int, ctx: CallContext) -> AsyncIterator[int]:
        for i in range(request):
            yield i

    @server_stream
    async def Blobs(self, request: int, ctx: CallContext) -> AsyncIterator[bytes]:
        for _ in range(request):
            yield b"x" * 1000

    @client_stream
    async def Sum(self, requests: AsyncIterator[int], ctx: CallContext) -> int:
        return sum([x async for x in requests])

    @bidi
    async def Double(self, requests: AsyncIterator[int], ctx: CallContext) -> AsyncIterator[int]:
        async for x in requests:
            yield 2 * x


def run(transport, body, servicer=None, channel_options=None, **server_options):
    servicer = servicer or Echo()

    async def main():
        cls = NativeServer if transport == "native" else GrpcServer
        async with cls(servicer, **server_options) as server:
            channel = Channel("127.0.0.1", server.port, transport=transport,
                              **(channel_options or {}))
            try:
                return await asyncio.wait_for(body(channel.stub(Echo), channel, servicer), 30)
            finally:
                await channel.close()

    return asyncio.run(main())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_four_kinds(transport):
    async def body(stub, channel, servicer):
        call = await stub.Double()
        for i in range(5):
            await call.write(i)
        await call.done_writing()
        return (await stub.Say({"a": [1, 2]}), [x async for x in await stub.Count(300)],
                await stub.Sum(range(1000)), [x async for x in call])

    say, count, total, doubled = run(transport, body)
    assert say == {"echo": {"a": [1, 2]}}
    assert count == list(range(300))  # more than a window of messages
    assert total == sum(range(1000))
    assert doubled == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metadata_both_ways(transport):
    async def body(stub, channel, servicer):
        call = await channel.open("/test.Echo/Say", metadata=(("x-who", "alice"),))
        await call.stream.send(call.ser.encode(1), end=True)
        response = await call.read()
        await call.read()
        return response, await call.initial_metadata(), call.trailers

    response, initial, trailers = run(transport, body)
    assert response == {"echo": 1}
    assert ("x-seen", "alice") in initial
    assert ("x-done", "yes") in trailers


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_many_concurrent_calls_multiplexed_on_one_connection(transport):
    async def body(stub, channel, servicer):
        results = await asyncio.gather(*[stub.Say(i) for i in range(300)])
        return results, sum(conn is not None for conn in channel._pool)

    results, connections = run(transport, body)
    assert results == [{"echo": i} for i in range(300)]
    assert connections == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_status_codes_and_handler_exception(transport):
    async def body(stub, channel, servicer):
        out = []
        for request in ({"status": 5, "message": "no such order"}, {"status": 3}, {}):
            try:
                await stub.Fail(request)
            except RpcError as exc:
                out.append((exc.code, exc.message))
        out.append(await stub.Say("still up"))  # the connection survived
        return out

    out = run(transport, body)
    assert out[0] == (StatusCode.NOT_FOUND, "no such order")
    assert out[1][0] == StatusCode.INVALID_ARGUMENT
    assert out[2] == (StatusCode.INTERNAL, "ValueError: handler bug")
    assert out[3] == {"echo": "still up"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_method_is_unimplemented(transport):
    async def body(stub, channel, servicer):
        with pytest.raises(RpcError) as info:
            await channel.unary("/test.Echo/Nope", 1)
        return info.value.code

    assert run(transport, body) == StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_deadline_fires_on_both_sides_and_cancels_the_handler(transport):
    async def body(stub, channel, servicer):
        with pytest.raises(RpcError) as info:
            await stub.Sleep(10.0, timeout=0.2)
        await asyncio.wait_for(servicer.cancelled.wait(), 5)  # the handler really stopped
        return info.value.code, await stub.Say("after")

    code, after = run(transport, body)
    assert code == StatusCode.DEADLINE_EXCEEDED
    assert after == {"echo": "after"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_enforces_the_deadline_it_was_sent(transport):
    async def body(stub, channel, servicer):
        call = await channel.open("/test.Echo/Sleep", timeout=0.2)
        call.deadline = None  # the client stops enforcing: the server must end the call
        await call.stream.send(call.ser.encode(10.0), end=True)
        with pytest.raises(RpcError) as info:
            await call.read()
        return info.value.code, servicer.cancelled.is_set()

    assert run(transport, body) == (StatusCode.DEADLINE_EXCEEDED, True)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_cancel_reaches_the_handler(transport):
    async def body(stub, channel, servicer):
        servicer.started, servicer.cancelled = asyncio.Event(), asyncio.Event()
        call = await channel.open("/test.Echo/Sleep")
        await call.stream.send(call.ser.encode(10.0), end=True)
        await asyncio.wait_for(servicer.started.wait(), 5)
        call.cancel()
        await asyncio.wait_for(servicer.cancelled.wait(), 5)
        with pytest.raises(RpcError) as info:
            await call.read()
        return info.value.code

    assert run(transport, body) == StatusCode.CANCELLED


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_oversized_request_is_resource_exhausted_and_connection_survives(transport):
    limit = {"max_frame_size": 1000} if transport == "native" else {"max_message": 1000}

    async def body(stub, channel, servicer):
        with pytest.raises(RpcError) as info:
            await stub.Say("x" * 5000, timeout=5)
        return info.value.code, await stub.Say("small", timeout=5)

    code, after = run(transport, body, **limit)
    assert code == StatusCode.RESOURCE_EXHAUSTED
    assert after == {"echo": "small"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slow_consumer_does_not_block_other_streams(transport):
    async def body(stub, channel, servicer):
        slow = await stub.Blobs(20_000)  # 20 MB if nothing held the server back
        first = await slow.read()
        others = await asyncio.gather(*[stub.Say(i, timeout=10) for i in range(20)])
        await asyncio.sleep(0.2)
        backlog = sum(len(v) for v in slow.stream.inbox.items if isinstance(v, bytes))
        slow.cancel()
        return first, others, backlog

    first, others, backlog = run(transport, body)
    assert first == b"x" * 1000
    assert others == [{"echo": i} for i in range(20)]
    window = INITIAL_WINDOW if transport == "native" else WINDOW  # bytes, either way
    print(f"{transport}: {backlog} bytes buffered for the unread stream")
    assert backlog <= 2 * window + 2000  # bounded by the window, not the 20 MB sent


def test_native_malformed_bytes_close_only_that_connection():
    async def body(stub, channel, servicer):
        reader, writer = await asyncio.open_connection("127.0.0.1", channel.port)
        writer.write(b"\x00\x00\x00\x00\x00\x00\x00\x01\x63\x00")  # unknown frame type 99
        reply = await asyncio.wait_for(reader.read(), 5)  # an ERROR frame, then EOF
        writer.close()
        return reply, await stub.Say("fine")

    reply, after = run("native", body)
    assert reply[8] == 5 and b"unknown frame type 99" in reply
    assert after == {"echo": "fine"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_keepalive_ping_measures_a_round_trip(transport):
    async def body(stub, channel, servicer):
        conn = await channel.connection()
        return await conn.ping()

    assert 0 < run(transport, body) < 5


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_blocking_channel_from_synchronous_code(transport):
    from labsupport.rpc.threaded import BlockingChannel, ServerThread
    with ServerThread(Echo(), transport=transport) as server, \
            BlockingChannel("127.0.0.1", server.port, transport=transport) as channel:
        assert channel.unary("/test.Echo/Say", "hi", timeout=5) == {"echo": "hi"}
        assert channel.server_stream("/test.Echo/Count", 3, timeout=5) == [0, 1, 2]
        assert channel.client_stream("/test.Echo/Sum", [1, 2, 3], timeout=5) == 6
        with pytest.raises(RpcError) as info:
            channel.unary("/test.Echo/Fail", {"status": 5}, timeout=5)
        assert info.value.code == StatusCode.NOT_FOUND


def test_connection_pool_spreads_calls_over_connections():
    async def body(stub, channel, servicer):
        await asyncio.gather(*[stub.Say(i) for i in range(30)])
        return len({id(conn) for conn in channel._pool if conn is not None})

    assert run("native", body, channel_options={"pool_size": 3}) == 3
