"""The one base error of the replay lab, and its subclasses, one per cause.

Everything here means "the input given to the replay is wrong" (a file that ends inside a
message, a timestamp that goes backwards under the ``error`` policy, an address that is not
``udp://HOST:PORT``), never "our code is wrong", so the command line lists
:class:`ReplayError` as its input error and reports it as one line naming the file and offset.
"""

from __future__ import annotations

__all__ = ["ReplayError", "SourceError", "OutOfOrderError", "SinkError", "ControlError"]


class ReplayError(ValueError):
    """Base of every error the replay lab raises on purpose."""


class SourceError(ReplayError):
    """A source's bytes are damaged (``offset`` is where, ``file`` which file), or it cannot be read.

    ``delivered`` is how many messages the source yielded before the damage.
    """

    def __init__(self, message: str, *, file: str | None = None, offset: int | None = None,
                 delivered: int = 0) -> None:
        where = f"{file}: " if file else ""
        at = f" at byte offset {offset}" if offset is not None else ""
        super().__init__(f"{where}{message}{at}")
        self.file, self.offset, self.delivered = file, offset, delivered


class OutOfOrderError(ReplayError):
    """A timestamp is earlier than the previous one and the policy is ``error``."""

    def __init__(self, index: int, ts_ns: int, previous_ns: int) -> None:
        super().__init__(f"message {index}: timestamp {ts_ns} ns is before the previous {previous_ns} ns "
                         f"(policy 'error'; use 'clamp' or a reorder window)")
        self.index, self.ts_ns, self.previous_ns = index, ts_ns, previous_ns


class SinkError(ReplayError):
    """A sink address or option is malformed (``udp://HOST:PORT``, ``zmq://...``, a packet size)."""


class ControlError(ReplayError):
    """A control request the replay cannot honour (a backward seek on a one-pass source)."""
