"""The real thing to compare with: grpcio servers of the interop service and of a plain echo.

What it mirrors: a servicer as grpcio users write one, registered with
``grpc.method_handlers_generic_handler`` (what generated ``add_XServicer_to_server`` calls),
so the lab needs no generated ``_pb2_grpc`` module. grpcio is a peer: imported only here and
only when a comparison or interop test asks for it.
"""

from __future__ import annotations

import time
from concurrent import futures
from typing import Any

from .proto import interop_pb2 as pb

ECHO_PATH = "/bench.Echo/Say"


def _echo_metadata(context: Any) -> None:
    md = dict(context.invocation_metadata())
    if "x-grpc-test-echo-initial" in md:
        context.send_initial_metadata((("x-grpc-test-echo-initial",
                                        md["x-grpc-test-echo-initial"]),))
    if "x-grpc-test-echo-trailing-bin" in md:
        context.set_trailing_metadata((("x-grpc-test-echo-trailing-bin",
                                        md["x-grpc-test-echo-trailing-bin"]),))


def _status(context: Any, echo: pb.EchoStatus) -> None:
    import grpc
    if echo.code:
        context.abort(grpc.StatusCode(_CODES[echo.code]), echo.message)


_CODES: dict[int, Any] = {}


def interop_handler() -> Any:
    """A ``grpc.GenericRpcHandler`` serving ``grpc.testing.TestService`` (the interop subset)."""
    import grpc

    _CODES.update({c.value[0]: c.value for c in grpc.StatusCode})

    def empty(request: pb.Empty, context: Any) -> pb.Empty:
        _echo_metadata(context)
        return pb.Empty()

    def unary(request: pb.SimpleRequest, context: Any) -> pb.SimpleResponse:
        _echo_metadata(context)
        _status(context, request.response_status)
        return pb.SimpleResponse(payload=pb.Payload(body=bytes(request.response_size)))

    def output(request: pb.StreamingOutputCallRequest, context: Any) -> Any:
        for params in request.response_parameters:
            time.sleep(params.interval_us / 1e6)
            yield pb.StreamingOutputCallResponse(payload=pb.Payload(body=bytes(params.size)))
        _status(context, request.response_status)

    def input_(requests: Any, context: Any) -> pb.StreamingInputCallResponse:
        return pb.StreamingInputCallResponse(
            aggregated_payload_size=sum(len(r.payload.body) for r in requests))

    def duplex(requests: Any, context: Any) -> Any:
        _echo_metadata(context)
        for request in requests:
            _status(context, request.response_status)
            for params in request.response_parameters:
                time.sleep(params.interval_us / 1e6)
                yield pb.StreamingOutputCallResponse(payload=pb.Payload(body=bytes(params.size)))

    def h(kind: Any, fn: Any, req: Any, resp: Any) -> Any:
        return kind(fn, request_deserializer=req.FromString,
                    response_serializer=resp.SerializeToString)

    return grpc.method_handlers_generic_handler("grpc.testing.TestService", {
        "EmptyCall": h(grpc.unary_unary_rpc_method_handler, empty, pb.Empty, pb.Empty),
        "UnaryCall": h(grpc.unary_unary_rpc_method_handler, unary, pb.SimpleRequest,
                       pb.SimpleResponse),
        "StreamingOutputCall": h(grpc.unary_stream_rpc_method_handler, output,
                                 pb.StreamingOutputCallRequest, pb.StreamingOutputCallResponse),
        "StreamingInputCall": h(grpc.stream_unary_rpc_method_handler, input_,
                                pb.StreamingInputCallRequest, pb.StreamingInputCallResponse),
        "FullDuplexCall": h(grpc.stream_stream_rpc_method_handler, duplex,
                            pb.StreamingOutputCallRequest, pb.StreamingOutputCallResponse),
    })


def echo_handler() -> Any:
    """``/bench.Echo/Say``: the request bytes back, untouched (no codec cost on either side)."""
    import grpc
    return grpc.method_handlers_generic_handler("bench.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(lambda request, context: request)})


def start_sync_server(*handlers: Any, workers: int = 8, port: int = 0,
                      compression: str | None = None) -> tuple[Any, int]:
    """A grpcio thread-pool server on loopback (``port`` 0: a free one): ``(server, port)``;
    ``compression`` ``gzip`` or ``deflate`` compresses every response."""
    import grpc
    algo = {None: None, "gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                         compression=algo[compression])
    server.add_generic_rpc_handlers(handlers)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port
