"""The errors of the clock-synchronisation lab: one base, subclasses by whose fault it is.

:class:`CodecError` is the remote side's fault (bytes that are not a PTP message we understand);
:class:`ClockConfigError` is the caller's (a scenario or a command line asking for something
impossible: a negative rate, an unknown timestamping mode).
"""

from __future__ import annotations

__all__ = ["ClockSyncError", "CodecError", "ClockConfigError"]


class ClockSyncError(Exception):
    """Base of every error this subpackage raises on purpose."""


class CodecError(ClockSyncError):
    """Raised by :func:`~labsupport.clocksync.codec.decode` for bytes that are not a message it
    understands; names the field and the byte offset where decoding stopped."""

    def __init__(self, message: str, *, field: str, offset: int) -> None:
        self.field, self.offset = field, offset
        super().__init__(f"field {field}, offset {offset}: {message}")


class ClockConfigError(ClockSyncError, ValueError):
    """Raised for an impossible configuration (negative interval, unknown mode, bad gains)."""
