"""Errors of the tick store: one base class, one subclass per cause.

Each says whose fault it is and where: a segment file and block (:class:`SegmentCorruptError`),
a WAL file, byte offset and record number (:class:`WalRecordError`), a CSV file, line and field
(:class:`BadInputError`). The command line reports any :class:`TsdbError` as one line and exit
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["TsdbError", "SegmentCorruptError", "WalRecordError", "DatabaseLockedError",
           "SchemaError", "ConfigError", "BadInputError"]


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


class WalRecordError(TsdbError, ValueError):
    """A WAL record passed its CRC but its payload contradicts itself or the table.

    Raised by ``wal.decode_payload`` (a column count other than the table's, a length other than
    the header announces, a symbol code past the record's names, a name that is not UTF-8).
    Replay treats it like a torn tail: the log is cut at the start of that record and the cut
    is reported. The message names the file, the record's byte offset and its number.
    """

    def __init__(self, detail: str, *, file: str | None = None, offset: int | None = None,
                 record: int | None = None) -> None:
        where = [w for w in (file, None if offset is None else f"byte {offset}",
                             None if record is None else f"record {record}") if w]  # fmt: skip
        super().__init__(f"{', '.join(where)}: {detail}" if where else detail)
        self.detail, self.file, self.offset, self.record = detail, file, offset, record


class DatabaseLockedError(TsdbError):
    """Another process holds the database directory open for writing."""


class SchemaError(TsdbError):
    """A write does not match the table's columns (missing, extra, or wrong length)."""


class ConfigError(TsdbError, ValueError):
    """An option has a value the store does not support (an unknown fsync policy, say)."""


class BadInputError(TsdbError):
    """The command line's input is wrong: a CSV header, a row that does not parse, an interval.

    The message names the file, the line and the field, so the row can be found and fixed.
    """
