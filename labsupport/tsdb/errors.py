"""Errors of the tick store, one base class, one subclass per cause."""

from __future__ import annotations


class TsdbError(Exception):
    """Base class of every error the tick store raises on purpose."""


class SegmentCorruptError(TsdbError):
    """A segment file fails its checks (magic, index CRC or a block CRC).

    Raised with the segment's file name and, for a block, its number, symbol and byte
    offset, so the file can be restored or removed by hand. Never read around silently.
    """

    def __init__(self, segment: str, detail: str) -> None:
        super().__init__(f"segment {segment}: {detail}")
        self.segment = segment
        self.detail = detail


class DatabaseLockedError(TsdbError):
    """Another process holds the database directory open for writing."""


class SchemaError(TsdbError):
    """A write does not match the table's columns (missing, extra, or wrong length)."""
