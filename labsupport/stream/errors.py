"""Errors of the stream processor: one base class, one subclass per cause.

A bad source file (:class:`SourceFormatError`: file, line), a broker the pipeline cannot reach
(:class:`TransportError`: which transport, which address) and a store that does not hold what the
pipeline wrote (:class:`SinkError`). Rejected ticks are not errors: they are dead letters, and
never stop the pipeline. The command line reports any :class:`StreamError` as one line, exit 2.
"""

from __future__ import annotations

__all__ = ["StreamError", "SourceFormatError", "TransportError", "SinkError"]


class StreamError(Exception):
    """Base class of every error the stream processor raises on purpose."""


class SourceFormatError(StreamError):
    """The source is not a tick file: its header is not exactly ``seq,ts_ns,symbol,price,size``.

    Raised before anything is published, with the file and line. A bad *data* line is a
    ``malformed`` dead letter instead, so garbage in the middle of a stream never stops it.
    """

    def __init__(self, message: str, *, file: str, line: int) -> None:
        super().__init__(f"{file}, line {line}: {message}")
        self.file, self.line = file, line


class TransportError(StreamError):
    """A broker cannot be reached or refuses the pipeline (names the transport and address)."""


class SinkError(StreamError):
    """The tick store at ``--db`` cannot hold this stream (wrong columns, not a store)."""
