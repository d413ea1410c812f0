"""Column codecs: which encoding each column of a block gets, and decoding by codec id.

- timestamps: Gorilla delta-of-delta with bucketed prefix codes (gorilla.py), or fixed-width
  bit-packed deltas, whichever is smaller for the block;
- floats: integers on a decimal tick grid when every value sits exactly on one (prices in
  cents), otherwise Gorilla XOR (gorilla.py);
- ints: fixed-width bit packing of (v - min), zigzag deltas, or deltas minus their minimum.

Every codec returns ``bytes`` that start with a one-byte codec id and its own small header,
so a block decodes without outside knowledge except the count. The gorilla and prefix-code
names are re-exported here so callers need one module.
"""

from __future__ import annotations

import struct

import numpy as np

from . import bits, kernels
from .bits import U64, bit_width, pack_fixed, unpack_fixed, unzigzag, zigzag
from .gorilla import (  # noqa: F401 - re-exported
    ADAPTIVE,
    _ts_plan,
    _write_ts,
    adaptive_table,
    decode_ts,
    decode_xor,
    encode_ts,
    encode_xor,
    ts_cost_bits,
    xor_windows,
    xor_windows_scan,
)
from .prefix import (  # noqa: F401 - re-exported
    BUCKET_TABLES,
    CODEC_NAMES,
    GRID,
    INT_PACK,
    RAW,
    TS_DOD,
    XOR,
    CodecError,
    parse_prefix_codes,
    prefix_code_fields,
)

# ---------------------------------------------------------------- integers
_INT_HDR = struct.Struct("<BBBqq")  # codec, mode, width, base, min delta
INT_MODES = {0: "frame of reference", 1: "zigzag delta", 2: "delta frame of reference"}


def encode_int(values: np.ndarray) -> bytes:
    """Int64 -> fixed-width bit packing, in whichever of three forms is narrowest.

    mode 0: v - min(v); mode 1: zigzag(v[i] - v[i-1]); mode 2: (v[i] - v[i-1]) - min delta,
    which suits sorted timestamps (no sign bit spent on deltas that are never negative).
    """
    v = np.ascontiguousarray(values, dtype=np.int64)
    if v.size == 0:
        return _INT_HDR.pack(INT_PACK, 0, 0, 0, 0)
    lo = v.min()
    n = v.size
    w0 = int(bit_width((v - lo).view(U64)).max())
    best = (w0 * n, w0, 0)  # (bits, width, mode)
    if n > 1:
        d = np.diff(v)
        zd = zigzag(d)
        dmin = d.min()
        for mode, arr in ((1, zd), (2, (d - dmin).view(U64))):
            w = int(bit_width(arr).max())
            best = min(best, (w * (n - 1), w, mode))
    _, width, mode = best
    if mode == 0:
        return _INT_HDR.pack(INT_PACK, 0, width, int(lo), 0) + pack_fixed((v - lo).view(U64), width)
    if mode == 1:
        return _INT_HDR.pack(INT_PACK, 1, width, int(v[0]), 0) + pack_fixed(zd, width)
    return _INT_HDR.pack(INT_PACK, 2, width, int(v[0]), int(dmin)) + pack_fixed(
        (d - dmin).view(U64), width
    )


def decode_int(data: bytes | memoryview, n: int) -> np.ndarray:
    codec, mode, width, base, dmin = _INT_HDR.unpack_from(data, 0)
    if codec != INT_PACK or mode > 2 or width > 64:
        raise CodecError(f"not an int-pack column (codec {codec}, mode {mode}, width {width})")
    body = memoryview(data)[_INT_HDR.size :]
    if mode == 0:
        return unpack_fixed(body, n, width).view(np.int64) + np.int64(base)
    out = np.empty(n, dtype=np.int64)
    if n and bits.USE_KERNELS:
        words = bits._words(body)
        if ((n - 1) * width) // 64 + 1 >= words.size:
            raise CodecError("int-pack stream too short")
        kernels.unpack_deltas_words(words, 0, width, base, dmin, mode == 1, out)
    elif n:
        raw = unpack_fixed(body, n - 1, width)
        d = unzigzag(raw) if mode == 1 else raw.view(np.int64) + np.int64(dmin)
        out[0] = base
        out[1:] = np.cumsum(d) + np.int64(base)
    return out


def encode_timestamps(ts: np.ndarray) -> bytes:
    """The timestamp column of a block: bucketed prefix codes or fixed-width deltas, the smaller.

    Fixed-width deltas (int-pack mode 2) are priced from the spread of the deltas alone, so
    only the winner is actually encoded.
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    if ts.size < 2:
        return encode_ts(ts)
    plan = _ts_plan(ts, None, None)
    d = np.diff(ts)
    pack_bits_needed = (ts.size - 1) * (int(d.max()) - int(d.min())).bit_length()
    if pack_bits_needed + 24 < plan[0]:
        return encode_int(ts)
    if plan[0] + 24 < pack_bits_needed:
        return _write_ts(ts, plan)
    a, b = _write_ts(ts, plan), encode_int(ts)  # too close to call from the estimates
    return a if len(a) <= len(b) else b


# ---------------------------------------------------------------- tick-grid floats
_GRID_HDR = struct.Struct("<BB")  # codec, decimal exponent


def grid_exponent(values: np.ndarray, max_exp: int = 8) -> int | None:
    """Smallest k such that every value is exactly an integer count of 10**-k (None if none)."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    if v.size == 0 or not np.isfinite(v).all():
        return None
    top = float(np.abs(v).max())
    # Guess k on a small sample, then check the whole block once with that k.
    guess = _grid_exponent_exact(v[:64], top, max_exp)
    if guess is not None and _on_grid(v, guess):
        return guess
    return _grid_exponent_exact(v, top, max_exp)


def _on_grid(v: np.ndarray, k: int) -> bool:
    scale = 10.0**k
    # Same arithmetic as the decoder (int64 ticks / scale), compared bit for bit,
    # so a -0.0 (whose tick count is a plain 0) is refused here.
    back = np.rint(v * scale).astype(np.int64) / scale
    return bool(np.array_equal(back.view(U64), v.view(U64)))


def _grid_exponent_exact(v: np.ndarray, top: float, max_exp: int) -> int | None:
    for k in range(max_exp + 1):
        if top * 10.0**k >= 2.0**52:
            return None
        if _on_grid(v, k):
            return k
    return None


def encode_grid(values: np.ndarray, exponent: int) -> bytes:
    ticks = np.rint(np.asarray(values, dtype=np.float64) * 10.0**exponent).astype(np.int64)
    return _GRID_HDR.pack(GRID, exponent) + encode_int(ticks)


def decode_grid(data: bytes | memoryview, n: int) -> np.ndarray:
    codec, exponent = _GRID_HDR.unpack_from(data, 0)
    if codec != GRID:
        raise CodecError(f"not a tick-grid column (codec {codec})")
    ticks = decode_int(memoryview(data)[_GRID_HDR.size :], n)
    return ticks / 10.0**exponent


# ---------------------------------------------------------------- dispatch
def encode_raw(values: np.ndarray) -> bytes:
    a = np.ascontiguousarray(values)
    kind = {"f": b"f", "i": b"i"}[a.dtype.kind]
    return bytes([RAW]) + kind + a.astype(a.dtype.newbyteorder("<")).tobytes()


def decode_raw(data: bytes | memoryview, n: int) -> np.ndarray:
    mv = memoryview(data)
    dtype = "<f8" if bytes(mv[1:2]) == b"f" else "<i8"
    return np.frombuffer(mv[2 : 2 + 8 * n], dtype=dtype).astype(dtype[1:])


def encode_float(values: np.ndarray) -> bytes:
    """Tick grid when every value sits exactly on one, otherwise Gorilla XOR."""
    k = grid_exponent(values)
    return encode_xor(values) if k is None else encode_grid(values, k)


def decode_column(data: bytes | memoryview, n: int) -> np.ndarray:
    """Decode any column by its codec id."""
    if len(data) == 0:
        raise CodecError("empty column")
    codec = data[0]
    try:
        fn = _DECODERS[codec]
    except KeyError:
        raise CodecError(f"unknown codec id {codec}") from None
    try:
        return fn(data, n)
    except CodecError:
        raise
    except (struct.error, ValueError, IndexError) as e:  # truncated or inconsistent streams
        raise CodecError(f"{CODEC_NAMES[codec]} column is malformed: {e}") from None


_DECODERS = {
    TS_DOD: decode_ts,
    XOR: decode_xor,
    INT_PACK: decode_int,
    GRID: decode_grid,
    RAW: decode_raw,
}


def codec_name(data: bytes | memoryview) -> str:
    return CODEC_NAMES.get(data[0], "?")
