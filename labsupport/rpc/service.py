"""Service definition: a Python class whose typed async methods are registered by decorators.

What it mirrors: a ``.proto`` service (``rpc Name(Req) returns (stream Resp)``) and the
servicer classes grpcio generates from it, written as plain Python instead::

    @service("trading.Quotes")
    class Quotes:
        @unary
        async def Quote(self, request: dict, ctx: CallContext) -> dict: ...

        @server_stream
        async def Ticks(self, request: dict, ctx: CallContext) -> AsyncIterator[dict]: ...

Theory of operation. Each decorator records a :class:`MethodSpec` (the kind, whether the
method is idempotent, the request and response classes read from the type hints, unwrapping
``AsyncIterator[T]``); :func:`service` collects them under gRPC's path ``/package.Service/Method``
and the serializer the service speaks. The transports only see :func:`methods_of`: a mapping
from path to spec and bound handler, so one class serves over both transports.
"""

from __future__ import annotations

import collections.abc
import enum
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import RpcError, StatusCode


class Kind(enum.Enum):
    UNARY = "unary"
    SERVER_STREAM = "server_stream"
    CLIENT_STREAM = "client_stream"
    BIDI = "bidi"

    @property
    def streams_requests(self) -> bool:
        return self in (Kind.CLIENT_STREAM, Kind.BIDI)

    @property
    def streams_responses(self) -> bool:
        return self in (Kind.SERVER_STREAM, Kind.BIDI)


@dataclass(frozen=True, slots=True)
class MethodSpec:
    name: str
    kind: Kind
    request_type: Any = None
    response_type: Any = None
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Method:
    """A registered method: its path, spec, bound handler and the service's serializer name."""

    path: str
    spec: MethodSpec
    handler: Callable[..., Any]
    serializer: str


def _element(hint: Any) -> Any:
    """``T`` of ``AsyncIterator[T]`` / ``AsyncIterable[T]``; anything else unchanged."""
    origin = typing.get_origin(hint)
    if origin in (collections.abc.AsyncIterator, collections.abc.AsyncIterable,
                  collections.abc.AsyncGenerator):
        return typing.get_args(hint)[0]
    return hint


def _decorator(kind: Kind) -> Callable[..., Any]:
    def decorate(fn: Callable[..., Any] | None = None, *, name: str | None = None,
                 idempotent: bool = False) -> Any:
        def mark(f: Callable[..., Any]) -> Callable[..., Any]:
            try:
                hints = typing.get_type_hints(f)
            except (NameError, TypeError):  # hints naming classes defined later: keep none
                hints = {}
            params = [p for p in f.__code__.co_varnames[1:f.__code__.co_argcount]]
            request = _element(hints.get(params[0])) if params else None
            response = _element(hints.get("return"))
            f.__rpc_spec__ = MethodSpec(name or f.__name__, kind, request, response, idempotent)
            return f

        return mark(fn) if fn is not None else mark

    return decorate


unary = _decorator(Kind.UNARY)
server_stream = _decorator(Kind.SERVER_STREAM)
client_stream = _decorator(Kind.CLIENT_STREAM)
bidi = _decorator(Kind.BIDI)


def service(name: str, *, serializer: str = "msgpack") -> Callable[[type], type]:
    """Class decorator: ``name`` is ``package.Service``; methods keep their own names."""
    def register(cls: type) -> type:
        specs = {}
        for attr in dir(cls):
            spec = getattr(getattr(cls, attr, None), "__rpc_spec__", None)
            if spec is not None:
                specs[attr] = spec
        if not specs:
            raise RpcError(StatusCode.INVALID_ARGUMENT, f"service {name} has no RPC methods")
        cls.__rpc_service__ = name
        cls.__rpc_serializer__ = serializer
        cls.__rpc_methods__ = specs
        return cls

    return register


def methods_of(*servicers: object) -> dict[str, Method]:
    """Every method of the given service instances, by path ``/package.Service/Method``."""
    table: dict[str, Method] = {}
    for obj in servicers:
        name = getattr(type(obj), "__rpc_service__", None)
        if name is None:
            raise RpcError(StatusCode.INVALID_ARGUMENT,
                           f"{type(obj).__name__} is not decorated with @service")
        for attr, spec in type(obj).__rpc_methods__.items():
            path = f"/{name}/{spec.name}"
            table[path] = Method(path, spec, getattr(obj, attr), type(obj).__rpc_serializer__)
    return table


def specs_of(cls: type) -> dict[str, tuple[str, MethodSpec]]:
    """Client side: method attribute -> (path, spec) of a service class."""
    name = cls.__rpc_service__
    return {attr: (f"/{name}/{spec.name}", spec) for attr, spec in cls.__rpc_methods__.items()}
