"""Write-ahead log: every batch is appended and (by policy) fsync'ed before it is acknowledged.

Mirrors the WAL of LevelDB/RocksDB and InfluxDB's TSM engine: an append-only file of
self-checking records; the memtable is only an in-memory copy of what the log holds.

Record layout (little endian)::

    u32 payload_len | u32 crc32(payload) | payload
    payload = u32 n | u16 n_names | u16 n_cols | names | ts i64[n] | code u32[n] | col_0[n] ...
    names   = (u16 len, utf-8 bytes) per symbol; code[i] indexes names
    columns = 8-byte values each (float64 or int64, as the table declares)

Every record carries its own symbol names, so any record can be replayed alone.

Durability policies (``fsync=``):
- ``"batch"``: fdatasync after every append; ``append`` returning means the batch is on disk.
- ``"interval"``: fdatasync when ``interval_s`` has passed since the last one (group commit:
  a crash can lose the last interval).
- ``"none"``: leave it to the OS (a crash of the machine can lose anything not yet written
  back; a crash of the process loses nothing, the data is in the page cache).

Replay reads records in order and stops at the first one that is short or fails its
CRC: that is a torn tail (the process died inside a write). The file is truncated at
the last good record and the cut is reported; since a batch is acknowledged only after
its record is complete (and synced, under "batch"), nothing acknowledged is cut.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, WalRecordError

REC = struct.Struct("<II")
BODY = struct.Struct("<IHH")
POLICIES = ("batch", "interval", "none")


@dataclass(frozen=True, slots=True)
class WalBatch:
    """One replayed record: timestamps, symbol codes into ``names``, value columns."""

    ts_ns: np.ndarray
    codes: np.ndarray
    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]


@dataclass(frozen=True, slots=True)
class TornTail:
    """Where a log was cut on replay and how many bytes were dropped."""

    file: str
    offset: int
    dropped_bytes: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: torn tail at byte {self.offset} ({self.dropped_bytes} bytes dropped: {self.reason})"


def encode_record(
    ts_ns: np.ndarray, codes: np.ndarray, names: Sequence[str], columns: Sequence[np.ndarray]
) -> list[bytes | memoryview]:
    """The pieces of one record, header first (written with one writev, no join copy)."""
    n = ts_ns.size
    name_bytes = b"".join(struct.pack("<H", len(b)) + b for b in (s.encode() for s in names))
    pieces: list[bytes | memoryview] = [
        BODY.pack(n, len(names), len(columns)),
        name_bytes,
        memoryview(np.ascontiguousarray(ts_ns, dtype="<i8")).cast("B"),
        memoryview(np.ascontiguousarray(codes, dtype="<u4")).cast("B"),
    ]
    for c in columns:
        pieces.append(memoryview(np.ascontiguousarray(c)).cast("B"))
    crc = 0
    length = 0
    for p in pieces:
        crc = zlib.crc32(p, crc)
        length += len(p)
    return [REC.pack(length, crc), *pieces]


def decode_payload(payload: memoryview, dtypes: Sequence[str], *, file: str | None = None,
                   offset: int | None = None, record: int | None = None) -> WalBatch:
    """One record's payload (its CRC already checked) as a batch; raises WalRecordError.

    ``file``, ``offset`` and ``record`` only go into the error's message, to say where it is.
    """

    def bad(detail: str) -> WalRecordError:
        return WalRecordError(detail, file=file, offset=offset, record=record)

    if len(payload) < BODY.size:
        raise bad(f"payload of {len(payload)} bytes is shorter than its {BODY.size}-byte header")
    n, n_names, n_cols = BODY.unpack_from(payload, 0)
    if n_cols != len(dtypes):
        raise bad(f"record has {n_cols} columns, table has {len(dtypes)}")
    pos = BODY.size
    names = []
    for i in range(n_names):
        if pos + 2 > len(payload):
            raise bad(f"symbol name {i} runs past the end of the payload")
        (ln,) = struct.unpack_from("<H", payload, pos)
        try:
            names.append(bytes(payload[pos + 2 : pos + 2 + ln]).decode())
        except UnicodeDecodeError:
            raise bad(f"symbol name {i} is not UTF-8") from None
        pos += 2 + ln
    need = pos + n * (8 + 4 + 8 * n_cols)
    if need != len(payload):
        raise bad(f"record length {len(payload)} != expected {need} for {n} points")
    ts = np.frombuffer(payload, "<i8", n, pos).copy()
    pos += 8 * n
    codes = np.frombuffer(payload, "<u4", n, pos).copy()
    pos += 4 * n
    cols = []
    for dt in dtypes:
        cols.append(np.frombuffer(payload, "<" + dt, n, pos).copy())
        pos += 8 * n
    if n and int(codes.max()) >= max(n_names, 1):
        raise bad(f"symbol code {int(codes.max())} out of range (the record names {n_names})")
    return WalBatch(ts, codes, tuple(names), tuple(cols))


class WalWriter:
    """Appends records to one log file under a durability policy."""

    def __init__(
        self,
        path: str,
        fsync: str = "batch",
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fsync not in POLICIES:
            raise ConfigError(f"fsync policy must be one of {POLICIES}, not {fsync!r}")
        self.path = path
        self.policy = fsync
        self.interval_s = interval_s
        self._clock = clock
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._last_sync = clock()
        self._dirty = False
        self.bytes_written = os.fstat(self._fd).st_size
        self.syncs = 0

    def append(self, ts_ns, codes, names, columns) -> None:
        pieces = encode_record(ts_ns, codes, names, columns)
        total = sum(len(p) for p in pieces)
        done = os.writev(self._fd, pieces)
        if done != total:  # short write (rare on files): finish with the rest
            rest = b"".join(bytes(p) for p in pieces)[done:]
            while rest:
                rest = rest[os.write(self._fd, rest) :]
        self.bytes_written += total
        self._dirty = True
        if self.policy == "batch" or (
            self.policy == "interval" and self._clock() - self._last_sync >= self.interval_s
        ):
            self.sync()

    def sync(self) -> None:
        if self._dirty:
            os.fdatasync(self._fd) if hasattr(os, "fdatasync") else os.fsync(self._fd)
            self.syncs += 1
            self._dirty = False
        self._last_sync = self._clock()

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()  # a clean close is durable whatever the policy
            os.close(self._fd)
            self._fd = -1


def replay(
    path: str, dtypes: Sequence[str], truncate: bool = True
) -> tuple[list[WalBatch], TornTail | None]:
    """Read every complete record; cut (and report) a torn or corrupt tail."""
    with open(path, "rb") as f:
        data = f.read()
    mv = memoryview(data)
    batches: list[WalBatch] = []
    pos = 0
    torn = None
    name = os.path.basename(path)
    while pos < len(data):
        reason = None
        if pos + REC.size > len(data):
            reason = "partial record header"
        else:
            length, crc = REC.unpack_from(mv, pos)
            end = pos + REC.size + length
            if end > len(data):
                reason = f"record of {length} bytes runs past end of file"
            elif zlib.crc32(mv[pos + REC.size : end]) != crc:
                reason = "CRC mismatch"
            else:
                try:
                    batches.append(decode_payload(mv[pos + REC.size : end], dtypes, file=name,
                                                  offset=pos, record=len(batches)))
                except WalRecordError as e:
                    reason = f"malformed record {len(batches)} ({e.detail})"
        if reason is not None:
            torn = TornTail(name, pos, len(data) - pos, reason)
            break
        pos = end
    if torn is not None and truncate:
        with open(path, "r+b") as f:
            f.truncate(pos)
            f.flush()
            os.fsync(f.fileno())
    return batches, torn
