"""Immutable segment files: compressed column blocks per symbol, a block index, checksums.

The on-disk unit of the LSM tree, like an SSTable (LevelDB) or a TSM file (InfluxDB).
A segment is written once, front to back, into ``NAME.tmp``; then fsync, rename to
``NAME`` and fsync of the directory. The rename is the commit: a crash before it
leaves only a ``.tmp`` (removed on open), after it the file is complete.

Layout (little endian)::

    "TSDBSEG1"
    block*      header | column bytes ... | u32 crc32(header + columns)
                header = u32 sym | u32 count | i64 min_ts | i64 max_ts | u16 ncols
                         | u32 length per column (timestamps first)
    index       u32 json_len | json (symbols, columns, lo, hi, gen) | entries
                entries = one row per block: sym, count, min_ts, max_ts, offset, length
    footer      u64 index_offset | u32 index_len | u32 crc32(index) | "TSDBEND1"

Inside a segment, the blocks of one symbol are in time order and do not overlap, so a
range query finds its blocks with two binary searches over the index and decodes only
those. ``lo..hi`` is the range of memtable generations (WAL file numbers) whose data the
segment holds; compaction outputs cover the union of their inputs, which is how a crash
between "new segment committed" and "old segments deleted" is resolved on open.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
import zlib

import numpy as np

from ..durable import fsync_dir
from . import codecs
from .errors import SegmentCorruptError

MAGIC = b"TSDBSEG1"
END = b"TSDBEND1"
FOOTER = struct.Struct("<QII8s")
BLOCK = struct.Struct("<IIqqH")
ENTRY = np.dtype(
    [
        ("sym", "<u4"),
        ("count", "<u4"),
        ("min_ts", "<i8"),
        ("max_ts", "<i8"),
        ("offset", "<u8"),
        ("length", "<u4"),
    ]
)


def segment_name(lo: int, hi: int, gen: int) -> str:
    return f"seg-{lo:08d}-{hi:08d}-{gen:03d}.seg"


def encode_column(values: np.ndarray, kind: str) -> bytes:
    """Float columns: tick grid or Gorilla XOR. Int columns: bit packing, or Gorilla XOR of the
    values as floats when they repeat often (trade sizes: 100, 100, 200, 100 ...) and are exact
    as float64; the smaller wins and ``decode_block`` casts back."""
    if kind == "float":
        return codecs.encode_float(values)
    packed = codecs.encode_int(values)
    v = np.asarray(values)
    if v.size > 1 and np.count_nonzero(v[1:] == v[:-1]) * 4 > v.size and np.abs(v).max() < 2**53:
        xor = codecs.encode_xor(v.astype(np.float64))
        if len(xor) < len(packed):
            return xor
    return packed


class SegmentWriter:
    """Streams blocks into ``NAME.tmp``; ``commit()`` makes the segment durable and visible."""

    def __init__(
        self, directory: str, lo: int, hi: int, gen: int, columns: list[tuple[str, str]]
    ) -> None:
        self.directory = directory
        self.name = segment_name(lo, hi, gen)
        self.meta = {"lo": lo, "hi": hi, "gen": gen, "columns": columns}
        self.columns = columns
        self._tmp = os.path.join(directory, self.name + ".tmp")
        self._f = open(self._tmp, "wb")  # noqa: SIM115 - closed by commit() or abort()
        self._f.write(MAGIC)
        self._pos = len(MAGIC)
        self._symbols: dict[str, int] = {}
        self._entries: list[tuple] = []
        self.points = 0

    def add_block(self, symbol: str, ts: np.ndarray, cols: list[np.ndarray]) -> None:
        """Encode one block (``ts`` sorted, this symbol's blocks added in time order)."""
        n = ts.size
        if n == 0:
            return
        sym = self._symbols.setdefault(symbol, len(self._symbols))
        parts = [codecs.encode_timestamps(ts)]
        parts += [encode_column(c, kind) for c, (_, kind) in zip(cols, self.columns)]
        head = BLOCK.pack(sym, n, int(ts[0]), int(ts[-1]), len(parts))
        head += struct.pack(f"<{len(parts)}I", *(len(p) for p in parts))
        crc = zlib.crc32(head)
        for p in parts:
            crc = zlib.crc32(p, crc)
        length = len(head) + sum(len(p) for p in parts) + 4
        self._f.write(head)
        for p in parts:
            self._f.write(p)
        self._f.write(struct.pack("<I", crc))
        self._entries.append((sym, n, int(ts[0]), int(ts[-1]), self._pos, length))
        self._pos += length
        self.points += n

    def commit(self) -> str:
        meta = dict(self.meta, symbols=list(self._symbols), points=self.points)
        js = json.dumps(meta).encode()
        entries = np.array(self._entries, dtype=ENTRY).tobytes()
        index = struct.pack("<I", len(js)) + js + entries
        self._f.write(index)
        self._f.write(FOOTER.pack(self._pos, len(index), zlib.crc32(index), END))
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        final = os.path.join(self.directory, self.name)
        os.replace(self._tmp, final)
        fsync_dir(self.directory)
        return final

    def abort(self) -> None:
        self._f.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


class Segment:
    """A committed segment opened for reading (memory-mapped; index held in memory)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = os.path.basename(path)
        self.size_bytes = os.path.getsize(path)
        if self.size_bytes < len(MAGIC) + FOOTER.size:
            raise SegmentCorruptError(self.name, f"file of {self.size_bytes} bytes is too short")
        with open(path, "rb") as f:
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        mm = self._mm
        if mm[: len(MAGIC)] != MAGIC:
            raise SegmentCorruptError(self.name, "bad magic at byte 0")
        off, ln, crc, end = FOOTER.unpack_from(mm, self.size_bytes - FOOTER.size)
        if end != END or off + ln != self.size_bytes - FOOTER.size:
            raise SegmentCorruptError(self.name, "bad footer (file truncated or overwritten)")
        index = mm[off : off + ln]
        if zlib.crc32(index) != crc:
            raise SegmentCorruptError(self.name, f"index CRC mismatch at byte {off}")
        (jl,) = struct.unpack_from("<I", index, 0)
        meta = json.loads(index[4 : 4 + jl])
        self.meta = meta
        self.lo, self.hi, self.gen = meta["lo"], meta["hi"], meta["gen"]
        self.columns = [tuple(c) for c in meta["columns"]]
        self.symbols: list[str] = meta["symbols"]
        self.points = meta["points"]
        self.entries = np.frombuffer(index, ENTRY, offset=4 + jl).copy()
        self._by_symbol: dict[str, np.ndarray] = {}
        order = np.argsort(self.entries["sym"], kind="stable")
        syms = self.entries["sym"][order]
        for i, name in enumerate(self.symbols):
            a, b = np.searchsorted(syms, [i, i + 1])
            self._by_symbol[name] = order[a:b]
        ents = self.entries
        self.min_ts = int(ents["min_ts"].min()) if ents.size else 0
        self.max_ts = int(ents["max_ts"].max()) if ents.size else -1

    def __repr__(self) -> str:
        return f"Segment({self.name}, points={self.points}, bytes={self.size_bytes})"

    def blocks_for(self, symbol: str, start: int, end: int) -> np.ndarray:
        """Entry numbers of this symbol's blocks that may hold points in [start, end)."""
        idx = self._by_symbol.get(symbol)
        if idx is None or idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        e = self.entries[idx]
        a = np.searchsorted(e["max_ts"], start, side="left")  # first block with max_ts >= start
        b = np.searchsorted(e["min_ts"], end, side="left")  # blocks with min_ts < end
        return idx[a:b]

    def read_block(self, i: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Decode block ``i`` after checking its CRC; raises SegmentCorruptError naming it."""
        e = self.entries[i]
        off, length, n = int(e["offset"]), int(e["length"]), int(e["count"])
        where = f"block {i} ({self.symbols[int(e['sym'])]}) at byte {off}"
        if off + length > self.size_bytes:
            raise SegmentCorruptError(self.name, f"{where} runs past end of file")
        mv = memoryview(self._mm)[off : off + length]
        (stored,) = struct.unpack_from("<I", mv, length - 4)
        if zlib.crc32(mv[: length - 4]) != stored:
            raise SegmentCorruptError(self.name, f"{where}: CRC mismatch")
        sym, count, _, _, ncols = BLOCK.unpack_from(mv, 0)
        if count != n or ncols != len(self.columns) + 1:
            raise SegmentCorruptError(self.name, f"{where}: header disagrees with the index")
        lens = struct.unpack_from(f"<{ncols}I", mv, BLOCK.size)
        pos = BLOCK.size + 4 * ncols
        arrays = []
        for ln in lens:
            arrays.append(codecs.decode_column(mv[pos : pos + ln], count))
            pos += ln
        cols = [a.astype(np.int64) if kind == "int" and a.dtype != np.int64 else a
                for a, (_, kind) in zip(arrays[1:], self.columns)]  # fmt: skip
        return arrays[0], cols

    def column_sizes(self) -> list[dict]:
        """Per block and column: encoded bytes and codec (for bytes-per-point tables)."""
        rows = []
        names = ["ts"] + [c[0] for c in self.columns]
        for i, e in enumerate(self.entries):
            off = int(e["offset"])
            _, count, _, _, ncols = BLOCK.unpack_from(self._mm, off)
            lens = struct.unpack_from(f"<{ncols}I", self._mm, off + BLOCK.size)
            pos = off + BLOCK.size + 4 * ncols
            for name, ln in zip(names, lens):
                rows.append(
                    {
                        "block": i,
                        "column": name,
                        "codec": codecs.CODEC_NAMES[self._mm[pos]],
                        "bytes": ln,
                        "points": count,
                    }
                )
                pos += ln
        return rows

    def verify(self) -> list[str]:
        """Check every block's CRC; the problems found, as messages naming the segment."""
        problems = []
        for i in range(self.entries.size):
            try:
                self.read_block(i)
            except (SegmentCorruptError, codecs.CodecError, ValueError, struct.error) as e:
                problems.append(
                    str(e)
                    if isinstance(e, SegmentCorruptError)
                    else f"segment {self.name}: block {i}: {e}"
                )
        return problems

    def close(self) -> None:
        # A caller may still hold a view; then the map goes away with the last one.
        with contextlib.suppress(BufferError):
            self._mm.close()
