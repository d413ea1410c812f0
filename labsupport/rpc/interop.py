"""gRPC's interop test service, ``grpc.testing.TestService``, served by the lab's framework.

What it mirrors: the server half of gRPC's cross-language interop tests
("doc/interop-test-descriptions.md"): the same service and messages (``proto/interop.proto``)
and the behaviour the test cases check: a response payload of ``response_size`` zero bytes,
``response_status`` returned as the call's status, the ``x-grpc-test-echo-initial`` header
echoed in the initial metadata and ``x-grpc-test-echo-trailing-bin`` in the trailers,
``interval_us`` honoured between streamed responses, and ``UnimplementedCall`` left out so the
server answers ``UNIMPLEMENTED``; for the compression cases, ``expect_compressed`` (a request
that had to arrive compressed and did not is ``INVALID_ARGUMENT``) and ``response_compressed``
(the response goes out gzip-compressed, when the client accepts gzip).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from .dispatch import CallContext
from .errors import RpcError, StatusCode
from .proto import interop_pb2 as pb
from .service import bidi, client_stream, server_stream, service, unary

SERVICE = "grpc.testing.TestService"


def _echo_metadata(ctx: CallContext) -> None:
    initial = ctx.metadata("x-grpc-test-echo-initial")
    if initial is not None:
        ctx.initial_metadata.append(("x-grpc-test-echo-initial", initial))
    trailing = ctx.metadata("x-grpc-test-echo-trailing-bin")
    if trailing is not None:
        ctx.trailers.append(("x-grpc-test-echo-trailing-bin", trailing))


def _check_status(echo: pb.EchoStatus) -> None:
    if echo.code:
        raise RpcError(StatusCode.of(echo.code), echo.message)


def _payload(size: int) -> pb.Payload:
    if size < 0:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"negative response size {size}")
    return pb.Payload(body=bytes(size))


@service(SERVICE, serializer="proto")
class TestService:
    @unary
    async def EmptyCall(self, request: pb.Empty, ctx: CallContext) -> pb.Empty:
        _echo_metadata(ctx)
        return pb.Empty()

    @unary
    async def UnaryCall(self, request: pb.SimpleRequest, ctx: CallContext) -> pb.SimpleResponse:
        _echo_metadata(ctx)
        if request.expect_compressed.value and not ctx.request_compressed:
            raise RpcError(StatusCode.INVALID_ARGUMENT, "expected a compressed request")
        if request.response_compressed.value:
            ctx.set_compression("gzip")
        _check_status(request.response_status)
        return pb.SimpleResponse(payload=_payload(request.response_size))

    @server_stream
    async def StreamingOutputCall(self, request: pb.StreamingOutputCallRequest, ctx: CallContext
                                  ) -> AsyncIterator[pb.StreamingOutputCallResponse]:
        _echo_metadata(ctx)
        for params in request.response_parameters:
            if params.interval_us:
                await asyncio.sleep(params.interval_us / 1e6)
            yield pb.StreamingOutputCallResponse(payload=_payload(params.size))
        _check_status(request.response_status)

    @client_stream
    async def StreamingInputCall(self, requests: AsyncIterator[pb.StreamingInputCallRequest],
                                 ctx: CallContext) -> pb.StreamingInputCallResponse:
        total = 0
        async for request in requests:
            total += len(request.payload.body)
        return pb.StreamingInputCallResponse(aggregated_payload_size=total)

    @bidi
    async def FullDuplexCall(self, requests: AsyncIterator[pb.StreamingOutputCallRequest],
                             ctx: CallContext) -> AsyncIterator[pb.StreamingOutputCallResponse]:
        _echo_metadata(ctx)
        async for request in requests:
            _check_status(request.response_status)
            for params in request.response_parameters:
                if params.interval_us:
                    await asyncio.sleep(params.interval_us / 1e6)
                yield pb.StreamingOutputCallResponse(payload=_payload(params.size))

    @bidi
    async def HalfDuplexCall(self, requests: AsyncIterator[pb.StreamingOutputCallRequest],
                             ctx: CallContext) -> AsyncIterator[pb.StreamingOutputCallResponse]:
        buffered = [request async for request in requests]
        for request in buffered:
            for params in request.response_parameters:
                yield pb.StreamingOutputCallResponse(payload=_payload(params.size))
