"""Codec ids, the codec error, and the truncated unary prefix codes every bucketed codec uses.

A prefix code of m buckets is "k ones then a zero" for bucket k < m, and "m ones" for
the last bucket: Gorilla's '0', '10', '110', '1110', '1111' for timestamps (m = 4) and
'0', '10', '11' for XOR floats (m = 2). Because the codes sit in a stream of their own
(see gorilla.py), the stream parses without a loop: a run of r ones followed by a zero
holds r // m codes "m ones" and then one code "r % m ones, zero".
"""

from __future__ import annotations

import numpy as np

from .bits import U64
from .errors import TsdbError

# Codec ids (first byte of every encoded column).
TS_DOD = 1  # timestamps: delta or delta-of-delta, bucketed prefix codes
XOR = 2  # floats: Gorilla XOR
INT_PACK = 3  # ints: frame-of-reference or zigzag-delta, fixed-width bit packing
GRID = 4  # floats on a decimal tick grid: integer ticks then INT_PACK
RAW = 5  # anything: raw little-endian bytes (reference / fallback)

CODEC_NAMES = {
    TS_DOD: "dod",
    XOR: "gorilla-xor",
    INT_PACK: "int-pack",
    GRID: "tick-grid",
    RAW: "raw",
}

# Payload widths of the five timestamp buckets, codes '0','10','110','1110','1111'.
# Table 0 is Gorilla's (its last bucket widened from 32 to 64 bits for int64).
BUCKET_TABLES: tuple[tuple[int, ...], ...] = (
    (0, 7, 9, 12, 64),
    (0, 12, 18, 24, 64),
    (0, 16, 22, 28, 64),
    (0, 20, 26, 32, 64),
)


class CodecError(TsdbError, ValueError):
    """Encoded bytes are not a valid column (wrong codec id, truncated or inconsistent stream)."""


# ---------------------------------------------------------------- prefix codes
def prefix_code_fields(codes: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, width) of truncated unary codes: k < m -> k ones then '0'; k == m -> m ones."""
    codes = codes.astype(np.int64)
    ones = (np.int64(1) << codes) - 1
    value = np.where(codes < m, ones << 1, ones)
    width = np.where(codes < m, codes + 1, m)
    return value.astype(U64), width


def parse_prefix_codes(stream: bytes | memoryview, n: int, m: int) -> tuple[np.ndarray, int]:
    """Decode ``n`` truncated unary codes; returns (codes, bits consumed)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
    zeros = np.flatnonzero(bits == 0)
    zeros = np.concatenate((zeros, [bits.size]))  # sentinel terminator
    runs = np.diff(zeros, prepend=-1) - 1  # ones before each zero
    counts = runs // m + 1
    ends = np.cumsum(counts) - 1
    if ends[-1] + 1 < n:
        raise CodecError(f"control stream holds fewer than {n} codes")
    codes = np.full(int(ends[-1]) + 1, m, dtype=np.int64)
    codes[ends] = runs % m
    codes = codes[:n]
    _, width = prefix_code_fields(codes, m)
    return codes, int(width.sum())
