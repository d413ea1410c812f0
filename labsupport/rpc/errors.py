"""Status codes and the one base error of the RPC lab.

What it mirrors: gRPC's status codes (``grpc/status.h``, the ``grpc.StatusCode`` enum): the same
numbers travel on both of the lab's transports, in the native END frame and in gRPC's
``grpc-status`` trailer, so a status raised by a handler reaches a grpcio client unchanged.

Theory of operation. A call ends with exactly one :class:`Status` (code, message, trailing
metadata). On the client a non-OK status is raised as :class:`RpcError`; on the server a handler
raises :class:`RpcError` to choose the status, and any other exception becomes ``INTERNAL`` with
the exception's text (the connection stays up). Decoding errors of the wire formats are
:class:`FrameError` (the connection cannot continue) or :class:`MessageTooLarge` (only one stream
is refused with ``RESOURCE_EXHAUSTED``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class StatusCode(enum.IntEnum):
    """gRPC's status codes, with gRPC's numbers."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def of(cls, value: int) -> StatusCode:
        """The code numbered ``value``; unknown numbers are ``UNKNOWN`` (as gRPC maps them)."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


Metadata = tuple[tuple[str, bytes | str], ...]


@dataclass(frozen=True, slots=True)
class Status:
    """How a call ended: a code, a human message and trailing metadata."""

    code: StatusCode = StatusCode.OK
    message: str = ""
    trailers: Metadata = field(default=())

    @property
    def ok(self) -> bool:
        return self.code == StatusCode.OK


class RpcError(Exception):
    """Base class of every error of :mod:`labsupport.rpc`; a call that ended with a non-OK status.

    ``code``, ``message`` and ``trailers`` are the status; ``str()`` is ``CODE: message``.
    """

    def __init__(self, code: StatusCode, message: str = "", trailers: Metadata = ()) -> None:
        self.code = StatusCode(code)
        self.message = message
        self.trailers = tuple(trailers)
        super().__init__(f"{self.code.name}: {message}" if message else self.code.name)

    @property
    def status(self) -> Status:
        return Status(self.code, self.message, self.trailers)


class FrameError(RpcError):
    """Bytes that are not a valid frame: the connection cannot be trusted any more."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        where = f" at offset {offset}" if offset is not None else ""
        super().__init__(StatusCode.INTERNAL, f"{message}{where}")


class MessageTooLarge(RpcError):
    """A message over the configured limit: the stream fails, the connection survives."""

    def __init__(self, size: int, limit: int, stream_id: int = 0) -> None:
        self.size, self.limit, self.stream_id = size, limit, stream_id
        super().__init__(StatusCode.RESOURCE_EXHAUSTED,
                         f"message of {size} bytes over the limit of {limit}")
