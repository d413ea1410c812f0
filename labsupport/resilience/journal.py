"""A write-ahead journal of checksummed records, on the simulator's disk or on a real file.

What a trading system's order journal (or any write-ahead log: PostgreSQL's WAL, Kafka's log
segments) does: append a record, ``fsync`` it, and only then act on it; after a crash, read the
records back and stop at the first one whose checksum fails, because a power cut may have torn
the last write. Each record is ``crc32 (4 bytes, big endian) + JSON``.

Theory of operation
-------------------
:class:`Journal` works on anything with :class:`labsupport.sim.SimDisk`'s four methods
(``append``, ``fsync``, ``read``, ``delete``): the simulated disk in simulation, and
:class:`FileDisk` (length-prefixed records in a real file, ``os.fsync``) in live runs. Recovery
(:meth:`Journal.recover`) keeps the valid prefix and, when it found a torn tail, rewrites the file
without it, so the next record is not appended behind garbage (a second recovery would then see
the torn record in the middle, which is corruption, :class:`JournalError`).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Protocol

from .errors import JournalError

__all__ = ["Disk", "Journal", "FileDisk", "encode_record", "decode_record"]


class Disk(Protocol):
    def append(self, file: str, record: bytes) -> None: ...
    def fsync(self, file: str | None = None) -> None: ...
    def read(self, file: str) -> list[bytes]: ...
    def delete(self, file: str) -> None: ...


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # made once: dumps(**kw) makes one a call


def encode_record(value: Any) -> bytes:
    body = _ENCODE(value).encode()
    return zlib.crc32(body).to_bytes(4, "big") + body


def decode_record(raw: bytes) -> Any | None:
    """The record's value, or None when its checksum fails (torn or corrupt)."""
    if len(raw) < 4:
        return None
    (crc,) = struct.unpack_from(">I", raw)
    body = raw[4:]
    if zlib.crc32(body) != crc:
        return None
    return json.loads(body)


class Journal:
    """Checksummed records in one file of a disk; ``torn`` counts tails dropped by recovery."""

    def __init__(self, disk: Disk, file: str) -> None:
        self.disk, self.file = disk, file
        self.torn = 0

    def append(self, value: Any, *, sync: bool = True) -> None:
        self.disk.append(self.file, encode_record(value))
        if sync:
            self.disk.fsync(self.file)

    def recover(self) -> list[Any]:
        """Every valid record; a torn last record is dropped and the file rewritten without it."""
        raws = self.disk.read(self.file)
        values = []
        for i, raw in enumerate(raws):
            value = decode_record(raw)
            if value is None:
                if i != len(raws) - 1:
                    raise JournalError(f"{self.file}: record {i + 1} of {len(raws)} fails its "
                                       "checksum and is not the last: the journal is corrupt")
                self.torn += 1
                self.disk.delete(self.file)
                for good in raws[:-1]:
                    self.disk.append(self.file, good)
                self.disk.fsync(self.file)
                break
            values.append(value)
        return values


class FileDisk:
    """:class:`~labsupport.sim.SimDisk`'s interface over a real directory: one file per name,
    records framed by a 4-byte length, ``fsync`` as ``os.fsync``. A kill -9 loses nothing that
    was written (the page cache survives the process); a record cut short by a crash of the
    machine reads back as a short last record, which the journal's checksum rejects."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._fds: dict[str, int] = {}

    def _fd(self, file: str) -> int:
        fd = self._fds.get(file)
        if fd is None:
            fd = self._fds[file] = os.open(self.root / file, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                           0o644)
        return fd

    def append(self, file: str, record: bytes) -> None:
        os.write(self._fd(file), struct.pack(">I", len(record)) + record)

    def fsync(self, file: str | None = None) -> None:
        for name in [file] if file is not None else list(self._fds):
            if name in self._fds:
                os.fsync(self._fds[name])

    def read(self, file: str) -> list[bytes]:
        try:
            data = (self.root / file).read_bytes()
        except FileNotFoundError:
            return []
        out, pos = [], 0
        while pos + 4 <= len(data):
            (n,) = struct.unpack_from(">I", data, pos)
            out.append(data[pos + 4:pos + 4 + n])
            pos += 4 + n
        return out

    def delete(self, file: str) -> None:
        fd = self._fds.pop(file, None)
        if fd is not None:
            os.close(fd)
        (self.root / file).unlink(missing_ok=True)
