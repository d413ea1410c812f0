"""Lab 07: an RPC framework with a native binary transport and a gRPC-compatible one.

Layers, bottom up: :mod:`.frames` (the native frame codec, sans-IO), :mod:`.grpcwire` (gRPC's
message prefix, timeouts and status headers, sans-IO), :mod:`.serializers` (msgpack, protobuf,
JSON), :mod:`.service` (services as decorated classes), :mod:`.dispatch` (the server's call
runner), :mod:`.native` / :mod:`.native_client` and :mod:`.grpc_server` / :mod:`.grpc_client`
(the asyncio transports), :mod:`.client` (channels, calls, retries), :mod:`.threaded` (both
from synchronous code), :mod:`.interop` (gRPC's interop service), :mod:`.demo` (a trading desk).
"""

from .client import Call, Channel, RetryPolicy
from .dispatch import CallContext
from .errors import FrameError, MessageTooLarge, RpcError, Status, StatusCode
from .service import Kind, bidi, client_stream, server_stream, service, unary

__all__ = ["Call", "CallContext", "Channel", "FrameError", "Kind", "MessageTooLarge",
           "RetryPolicy", "RpcError", "Status", "StatusCode", "bidi", "client_stream",
           "server_stream", "service", "unary"]
