"""Vectorised bit streams: pack and unpack many variable-width fields at once.

Every codec in this package ends in the same two primitives. ``pack_bits`` takes an
array of unsigned values and an array of widths and lays the fields end to end,
most significant bit first, the way Facebook's Gorilla paper draws its streams. The
stream is held as big-endian 64-bit words, so the bytes on disk read left to right
in the same order as the bits on paper (``np.unpackbits`` shows them as drawn).

Theory of operation (no Python loop per value):
- The start offset of every field is an exclusive cumulative sum of the widths.
- A field of at most 64 bits starting at offset ``o`` touches word ``o // 64`` and,
  if it crosses the word boundary, word ``o // 64 + 1``. So each field contributes
  one "head" part to its own word and at most one "tail" part to the next word.
- Fields never overlap, so OR-ing the head parts of one word is a segmented
  reduction (``np.bitwise_or.reduceat`` over runs of equal word index), and no two
  tails land in the same word (only one field can cross a given boundary).
- Unpacking reads the two words around every field, joins them into the 64 bits
  that start at the field's offset and shifts the field down.

Shifts of 64 are undefined in C and therefore in numpy: every shift amount is
clamped to 63 and the cases that would need 64 are masked out with ``np.where``.
Cost: O(n) numpy work for n fields; about a dozen array passes.
"""

from __future__ import annotations

import numpy as np

from . import kernels

U64 = np.uint64
# Use the numba loops when available; tests flip this to check both paths agree.
USE_KERNELS = kernels.HAVE_NUMBA
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_ONE = np.uint64(1)
_C63 = np.uint64(63)


def popcount(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 (int64 result)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    # SWAR fallback for numpy < 2.0.
    x = x - ((x >> U64(1)) & U64(0x5555555555555555))
    x = (x & U64(0x3333333333333333)) + ((x >> U64(2)) & U64(0x3333333333333333))
    x = (x + (x >> U64(4))) & U64(0x0F0F0F0F0F0F0F0F)
    return ((x * U64(0x0101010101010101)) >> U64(56)).astype(np.int64)


def bit_width(x: np.ndarray) -> np.ndarray:
    """Bits needed to write each uint64 (0 for 0, 64 for values >= 2**63)."""
    x = np.asarray(x, dtype=U64)
    # The float exponent is the bit width, except that values above 2**53 may round
    # up to the next power of two; those few are corrected with an exact compare.
    e = np.frexp(x.astype(np.float64))[1].astype(np.int64)
    big = np.flatnonzero(x >= U64(1 << 53))
    if big.size:
        eb = e[big]
        e[big] = np.minimum(eb - (x[big] < (U64(1) << np.minimum(eb - 1, 63).astype(U64))), 64)
    return e


def clz64(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of each uint64 (64 for zero)."""
    return 64 - bit_width(x)


def ctz64(x: np.ndarray) -> np.ndarray:
    """Trailing zero bits of each uint64 (64 for zero)."""
    x = np.asarray(x, dtype=U64)
    lowest = x & (~x + _ONE)  # isolate the lowest set bit (two's complement)
    out = popcount(lowest - _ONE)
    out[x == 0] = 64
    return out


def zigzag(x: np.ndarray) -> np.ndarray:
    """Map signed int64 to uint64 so small magnitudes get small codes: 0,-1,1,-2 -> 0,1,2,3."""
    x = np.asarray(x, dtype=np.int64)
    return ((x << 1) ^ (x >> 63)).view(U64)


def unzigzag(u: np.ndarray) -> np.ndarray:
    """Inverse of :func:`zigzag`."""
    u = np.asarray(u, dtype=U64)
    return ((u >> _ONE) ^ (~(u & _ONE) + _ONE)).view(np.int64)


def _mask(widths: np.ndarray) -> np.ndarray:
    w = widths.astype(U64)
    return np.where(widths >= 64, _ALL, (_ONE << np.minimum(w, _C63)) - _ONE)


def pack_bits(values: np.ndarray, widths: np.ndarray) -> tuple[bytes, int]:
    """Write the low ``widths[i]`` bits of ``values[i]`` end to end, MSB first.

    Returns ``(stream, nbits)``; the stream is ``ceil(nbits / 8)`` bytes, zero padded.
    """
    values = np.ascontiguousarray(values, dtype=U64)
    widths = np.ascontiguousarray(widths, dtype=np.int64)
    if values.shape != widths.shape:
        raise ValueError("values and widths differ in length")
    if values.size == 0:
        return b"", 0
    if USE_KERNELS:
        words = np.zeros((int(widths.sum()) + 63) // 64 + 1, dtype=U64)
        total = int(kernels.pack_words(values, widths, words))
        return words.astype(">u8").tobytes()[: (total + 7) // 8], total
    return _pack_bits_numpy(values, widths)


def _pack_bits_numpy(values: np.ndarray, widths: np.ndarray) -> tuple[bytes, int]:
    ends = np.cumsum(widths)
    total = int(ends[-1])
    if total == 0:
        return b"", 0
    starts = ends - widths
    v = values & _mask(widths)
    word = starts >> 6
    s = starts & 63
    sw = s + widths
    fits = sw <= 64
    # Head part: shifted left into place when the field fits in its word,
    # otherwise its top bits shifted right so they end at the word boundary.
    left = np.minimum(np.where(fits, 64 - sw, 0), 63).astype(U64)
    right = np.where(fits, 0, sw - 64).astype(U64)
    head = np.where(fits, v << left, v >> right)
    nwords = (total + 63) // 64 + 1
    words = np.zeros(nwords, dtype=U64)
    starts_of_runs = np.flatnonzero(np.concatenate(([True], word[1:] != word[:-1])))
    words[word[starts_of_runs]] |= np.bitwise_or.reduceat(head, starts_of_runs)
    cross = ~fits
    if cross.any():
        tail_shift = (128 - sw[cross]).astype(U64)  # 1..63 for crossing fields
        words[word[cross] + 1] |= v[cross] << tail_shift
    raw = words.astype(">u8").tobytes()
    return raw[: (total + 7) // 8], total


def _words(stream: bytes | memoryview) -> np.ndarray:
    n = len(stream)
    buf = np.zeros((n + 7) // 8 * 8 + 16, dtype=np.uint8)
    buf[:n] = np.frombuffer(stream, dtype=np.uint8)
    return buf.view(">u8").astype(U64)


def unpack_bits(stream: bytes | memoryview, starts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Read fields of ``widths[i]`` bits at bit offsets ``starts[i]`` (inverse of pack_bits)."""
    starts = np.asarray(starts, dtype=np.int64)
    widths = np.asarray(widths, dtype=np.int64)
    if starts.size == 0:
        return np.zeros(0, dtype=U64)
    words = _words(stream)
    if int(starts.max(initial=0)) // 64 + 1 >= words.size:
        raise ValueError("bit stream too short for the requested fields")
    if USE_KERNELS:
        out = np.empty(starts.size, dtype=U64)
        kernels.unpack_words(words, starts, widths, out)
        return out
    w = starts >> 6
    s = (starts & 63).astype(U64)
    hi = words[w] << s
    lo = np.where(s > 0, words[w + 1] >> np.minimum(U64(64) - s, _C63), U64(0))
    top = hi | lo  # the 64 bits that start at the field's offset
    down = np.minimum(64 - widths, 63).astype(U64)
    return np.where(widths > 0, top >> down, U64(0))


def unpack_fixed(stream: bytes | memoryview, n: int, width: int, offset: int = 0) -> np.ndarray:
    """Read ``n`` fields of one fixed width starting at bit ``offset``."""
    if USE_KERNELS and n:
        words = _words(stream)
        if (offset + n * width) // 64 + 1 >= words.size:
            raise ValueError("bit stream too short for the requested fields")
        out = np.empty(n, dtype=U64)
        kernels.unpack_fixed_words(words, offset, width, out)
        return out
    starts = offset + np.arange(n, dtype=np.int64) * width
    return unpack_bits(stream, starts, np.full(n, width, dtype=np.int64))


def pack_fixed(values: np.ndarray, width: int) -> bytes:
    """Write every value in exactly ``width`` bits (frame-of-reference bit packing)."""
    values = np.asarray(values, dtype=U64)
    return pack_bits(values, np.full(values.size, width, dtype=np.int64))[0]


def bits_to_str(stream: bytes, nbits: int) -> str:
    """The first ``nbits`` of a stream as a string of 0 and 1 (for teaching)."""
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:nbits]
    return "".join("1" if b else "0" for b in bits)
