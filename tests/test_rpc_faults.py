"""rpc under network faults, through the frame's TCP fault proxy: latency and a black hole make
deadlines fire, a cut connection gives UNAVAILABLE, an idempotent call retries and succeeds."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from test_rpc_calls import Echo

from labsupport.faults.threaded import start_proxy
from labsupport.rpc.client import Channel, RetryPolicy
from labsupport.rpc.errors import RpcError, StatusCode
from labsupport.rpc.threaded import ServerThread

TRANSPORTS = ["native", "grpc"]


@pytest.fixture(params=TRANSPORTS)
def proxied(request):
    with ServerThread(Echo(), transport=request.param) as server, \
            start_proxy(("127.0.0.1", server.port)) as proxy:
        yield request.param, proxy


def call(transport, port, body, **options):
    async def main():
        channel = Channel("127.0.0.1", port, transport=transport, **options)
        try:
            return await asyncio.wait_for(body(channel.stub(Echo), channel), 30)
        finally:
            await channel.close()
    return asyncio.run(main())


def code_of(coro_fn):
    async def body(stub, channel):
        try:
            await coro_fn(stub)
        except RpcError as exc:
            return exc.code
        return StatusCode.OK
    return body


def test_latency_makes_the_deadline_fire(proxied):
    transport, proxy = proxied
    assert call(transport, proxy.port, code_of(lambda s: s.Say(1, timeout=5))) == StatusCode.OK
    proxy.set(latency_ms=400)
    assert call(transport, proxy.port, code_of(lambda s: s.Say(1, timeout=0.2))) \
        == StatusCode.DEADLINE_EXCEEDED


def test_black_hole_makes_the_deadline_fire(proxied):
    transport, proxy = proxied
    proxy.set(direction="upstream", blackhole=True)
    assert call(transport, proxy.port, code_of(lambda s: s.Say(1, timeout=0.3))) \
        == StatusCode.DEADLINE_EXCEEDED


def test_connection_cut_mid_stream_is_unavailable(proxied):
    transport, proxy = proxied
    proxy.set(direction="downstream", drop_after_bytes=20_000)

    async def body(stub, channel):
        got = 0
        try:
            async for _ in await stub.Blobs(1000, timeout=10):
                got += 1
        except RpcError as exc:
            return exc.code, got
        return StatusCode.OK, got

    code, got = call(transport, proxy.port, body)
    assert code == StatusCode.UNAVAILABLE
    assert 0 < got < 1000


def test_idempotent_call_retries_with_backoff_and_succeeds(proxied):
    transport, proxy = proxied
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    proxy.set(refuse=True)
    threading.Timer(0.3, proxy.set, kwargs={"refuse": False}).start()
    policy = RetryPolicy(max_attempts=8, initial_backoff_s=0.05, max_backoff_s=0.4)

    async def body(stub, channel):
        return await stub.Say("again", timeout=10), channel.attempts

    reply, attempts = call(transport, proxy.port, body, retry=policy, rng=random.Random(seed))
    assert reply == {"echo": "again"}
    assert attempts >= 2  # refused at first: it did retry


def test_non_idempotent_call_is_not_retried(proxied):
    transport, proxy = proxied
    proxy.set(refuse=True)
    policy = RetryPolicy(max_attempts=8, initial_backoff_s=0.01)

    async def body(stub, channel):
        with pytest.raises(RpcError) as info:
            await stub.Fail({"status": 0}, timeout=5)
        return info.value.code, channel.attempts

    assert call(transport, proxy.port, body, retry=policy) == (StatusCode.UNAVAILABLE, 1)


def test_backoff_grows_and_stays_within_jitter():
    policy = RetryPolicy(initial_backoff_s=0.1, max_backoff_s=1.0, multiplier=2.0, jitter=0.2)
    rng = random.Random(7)
    delays = [policy.backoff(n, rng) for n in range(6)]
    for n, delay in enumerate(delays):
        base = min(1.0, 0.1 * 2 ** n)
        assert 0.8 * base <= delay <= 1.2 * base


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_keepalive_finds_a_silent_peer_without_a_deadline(transport):
    with ServerThread(Echo(), transport=transport) as server, start_proxy(("127.0.0.1", server.port)) as proxy:
        async def body(stub, channel):
            call = await stub.Double()  # no deadline: only keepalive can end it
            await call.write(1)
            first = await call.read()
            proxy.set(blackhole=True)
            with pytest.raises(RpcError) as info:
                await call.read()
            return first, info.value.code, info.value.message

        first, code, message = call(transport, proxy.port, body, keepalive_s=0.1,
                                    keepalive_timeout_s=0.3)
    assert first == 2
    assert code == StatusCode.UNAVAILABLE and "keepalive" in message
