"""Gorilla's two encodings: delta-of-delta timestamps and XOR floats, on split bit streams.

Follows "Gorilla: A Fast, Scalable, In-Memory Time Series Database" (Pelkonen et al.,
VLDB 2015), section 4.1, with two changes that keep the bit count and make both
directions vectorisable:

1. Streams are split. Gorilla interleaves a prefix code and its payload, so the
   position of record i depends on every record before it. We write the very same
   prefix codes into one stream and the payloads into another (and, for XOR, the
   5+6 bit window headers into a third). The total number of bits is unchanged;
   the split only costs the padding of each stream to a byte, and the numpy decoder
   finds every field's offset with a cumulative sum (numba decodes sequentially).
2. Timestamps here are nanoseconds, not Gorilla's seconds, so a delta-of-delta
   rarely fits in Gorilla's 7/9/12-bit buckets. The encoder prices every block with
   a few fixed bucket tables (Gorilla's own is table 0) and with bucket widths fitted
   to the block by dynamic programming, for first and second differences, and keeps
   the cheapest; the choice is in the header.

XOR floats: the encoder's choice between "reuse the previous window" ('10') and
"new window" ('11') is a greedy scan in Gorilla. A window set at record j stays in
force until the first later record whose leading or trailing zero count is smaller,
so we compute that "next reset" pointer for every record with a sparse-table binary
search, then walk the chain from the first record by pointer doubling. Same output
as the scan, O(n log n) vectorised work (numba runs the scan itself).

Round trips are bit exact: floats travel as their uint64 bit patterns (NaN payloads,
infinities and -0.0 survive), int64 arithmetic wraps the same way in both directions.
"""

from __future__ import annotations

import struct

import numpy as np

from . import bits, kernels
from .bits import (
    U64,
    bit_width,
    clz64,
    ctz64,
    pack_bits,
    pack_fixed,
    unpack_bits,
    unpack_fixed,
    unzigzag,
    zigzag,
)
from .prefix import BUCKET_TABLES, TS_DOD, XOR, CodecError, parse_prefix_codes, prefix_code_fields

# ---------------------------------------------------------------- timestamps
_TS_HDR = struct.Struct("<BBBqII")  # codec, order, table, first, control bytes, payload bytes


def _ts_differences(ts: np.ndarray, order: int) -> np.ndarray:
    d = np.diff(ts)  # wraps on overflow, and so does the inverse cumsum
    if order == 2:
        d = np.diff(d, prepend=np.int64(0))
    return d


def _bucket_of(width: np.ndarray, table: tuple[int, ...]) -> np.ndarray:
    return np.searchsorted(np.asarray(table), width, side="left")


def _cost_matrix() -> tuple[np.ndarray, np.ndarray]:
    """Per table and value width 0..64: prefix-code bits and payload bits."""
    w = np.arange(65)
    ctrl = np.zeros((len(BUCKET_TABLES), 65), dtype=np.int64)
    pay = np.zeros_like(ctrl)
    for t, table in enumerate(BUCKET_TABLES):
        b = _bucket_of(w, table)
        ctrl[t] = np.minimum(b + 1, 4)
        pay[t] = np.asarray(table)[b]
    return ctrl, pay


_CTRL_BITS, _PAY_BITS = _cost_matrix()


def _table_costs(width_hist: np.ndarray) -> np.ndarray:
    """Bits per bucket table, priced from a histogram of value widths (0..64)."""
    return (_CTRL_BITS + _PAY_BITS) @ width_hist


def _ts_widths(ts: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zigzag differences, their bit widths, histogram of widths 0..64)."""
    if bits.USE_KERNELS:
        n = max(ts.size - 1, 0)
        z = np.empty(n, dtype=U64)
        width = np.empty(n, dtype=np.int64)
        hist = np.zeros(65, dtype=np.int64)
        kernels.ts_diff_widths(ts, order, z, width, hist)
        return z, width, hist
    z = zigzag(_ts_differences(ts, order))
    width = bit_width(z)
    return z, width, np.bincount(width, minlength=65)


ADAPTIVE = 255  # table id of per-block bucket widths, stored after the header
_CODE_LEN = (1, 2, 3, 4, 4)  # bits of the prefix codes '0', '10', '110', '1110', '1111'


def adaptive_table(width_hist: np.ndarray) -> tuple[tuple[int, ...], int]:
    """Bucket widths fitted to one block's histogram of value widths, and the bits they cost.

    Dynamic programming over the widths present: bucket k (code length L_k) covers the
    values whose width lies in (end of bucket k-1, w_k] and pays L_k + w_k bits for each.
    Five buckets, at most 65 distinct widths: a handful of 66x66 array passes.
    """
    p = np.flatnonzero(width_hist)
    if p.size == 0:
        return (0, 0, 0, 0, 0), 0
    c0 = np.concatenate(([0], np.cumsum(width_hist[p])))  # values with width <= p[s-1]
    wid = np.concatenate(([0], p))  # payload width of a bucket that ends at state s
    big = np.int64(1) << 62
    dp = np.full(p.size + 1, big, dtype=np.int64)
    dp[0] = 0
    cols = np.arange(p.size + 1)
    invalid = cols[:, None] > cols[None, :]
    back = []
    for code_len in _CODE_LEN:
        m = dp[:, None] + (code_len + wid[None, :]) * (c0[None, :] - c0[:, None])
        m[invalid] = big
        arg = m.argmin(axis=0)
        dp = m[arg, cols]
        back.append(arg)
    ends = [p.size]
    for arg in reversed(back[1:]):
        ends.append(int(arg[ends[-1]]))
    ends.reverse()  # state after each bucket; equal neighbours mean an empty bucket
    return tuple(int(wid[e]) for e in ends), int(dp[p.size])


def ts_cost_bits(ts: np.ndarray) -> dict[tuple[int, int], int]:
    """Bits each (order, table) choice would need for this block (for teaching and choosing)."""
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    out = {}
    for order in (1, 2):
        hist = _ts_widths(ts, order)[2]
        for t, c in enumerate(_table_costs(hist)):
            out[(order, t)] = int(c)
        out[(order, ADAPTIVE)] = adaptive_table(hist)[1]
    return out


def _bucket_luts(widths: tuple[int, ...]):
    """Per width 0..64: bucket; per bucket: payload bits, prefix code value and bits."""
    bucket_of = np.minimum(_bucket_of(np.arange(65), widths), 4).astype(np.int64)
    code_val, code_bits = prefix_code_fields(np.arange(5), 4)
    return bucket_of, np.asarray(widths, dtype=np.int64), code_val, code_bits.astype(np.int64)


_LUTS = [_bucket_luts(t) for t in BUCKET_TABLES]


def _ts_plan(ts: np.ndarray, order: int | None, table: int | None):
    """The cheapest (bits, order, table, zigzags, widths, bucket widths) for this block."""
    best = None
    hists = {}
    for o in (1, 2) if order is None else (order,):
        z, width, hist = _ts_widths(ts, o)
        hists[o] = (z, width, hist)
        costs = _table_costs(hist)
        for t in range(len(BUCKET_TABLES)) if table is None else (table,):
            if t != ADAPTIVE and (best is None or costs[t] < best[0]):
                best = (int(costs[t]), o, t, z, width, BUCKET_TABLES[t])
    if table is None or table == ADAPTIVE:
        # Fit buckets for the order whose fixed tables did better (the other rarely wins).
        o = best[1] if best is not None else order
        z, width, hist = hists[o]
        widths, cost = adaptive_table(hist)
        if best is None or cost + 40 < best[0]:  # the table costs 5 header bytes
            best = (cost + 40, o, ADAPTIVE, z, width, widths)
    return best


def encode_ts(ts: np.ndarray, order: int | None = None, table: int | None = None) -> bytes:
    """Timestamps (any int64, any order) -> bytes. Picks the cheapest order and table if not given.

    ``table`` is an index into BUCKET_TABLES or ADAPTIVE (widths fitted to this block).
    """
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    if ts.size == 0:
        return _TS_HDR.pack(TS_DOD, 2, 0, 0, 0, 0)
    return _write_ts(ts, _ts_plan(ts, order, table))


def encode_ts_with_widths(ts: np.ndarray, widths: tuple[int, ...], order: int = 1) -> bytes:
    """Timestamps encoded with a bucket table given by the caller (five payload widths, one per
    prefix code '0', '10', '110', '1110', '1111'), stored in the block like an adaptive table.

    This is how a new table is tried before it joins :data:`BUCKET_TABLES`: the block decodes
    with :func:`decode_ts` like any other. A table whose last bucket is too narrow for some
    difference does not raise: it loses the value's high bits, which a round trip shows.
    """
    widths = tuple(int(w) for w in widths)
    if (len(widths) != 5 or not all(0 <= w <= 64 for w in widths) or list(widths) != sorted(widths)
            or order not in (1, 2)):
        raise CodecError(f"a bucket table is five widths in 0..64 and order 1 or 2, not {widths}, {order}")
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    if ts.size == 0:
        return encode_ts(ts)
    z, width, _ = _ts_widths(ts, order)
    return _write_ts(ts, (0, order, ADAPTIVE, z, width, widths))


def _write_ts(ts: np.ndarray, plan) -> bytes:
    _, order, table, z, width, widths = plan
    bucket_of, bucket_bits, code_val, code_bits = (
        _LUTS[table] if table != ADAPTIVE else _bucket_luts(widths)
    )
    b = bucket_of[width]
    control, _ = pack_bits(code_val[b], code_bits[b])
    payload, _ = pack_bits(z, bucket_bits[b])
    extra = bytes(widths) if table == ADAPTIVE else b""
    head = _TS_HDR.pack(TS_DOD, order, table, int(ts[0]), len(control), len(payload))
    return head + extra + control + payload


def decode_ts(data: bytes | memoryview, n: int) -> np.ndarray:
    codec, order, table, first, clen, plen = _TS_HDR.unpack_from(data, 0)
    if (
        codec != TS_DOD
        or order not in (1, 2)
        or (table >= len(BUCKET_TABLES) and table != ADAPTIVE)
    ):
        raise CodecError(f"not a timestamp column (codec {codec}, order {order}, table {table})")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    mv = memoryview(data)
    h = _TS_HDR.size
    if table == ADAPTIVE:
        table_widths = np.frombuffer(mv[h : h + 5], dtype=np.uint8).astype(np.int64)
        if table_widths.size != 5 or table_widths.max() > 64:
            raise CodecError("bad adaptive bucket table")
        h += 5
    else:
        table_widths = np.asarray(BUCKET_TABLES[table])
    if bits.USE_KERNELS:
        out = np.empty(n, dtype=np.int64)
        ctrl, pay = bits._words(mv[h : h + clen]), bits._words(mv[h + clen : h + clen + plen])
        if len(mv) < h + clen + plen or kernels.dod_decode_loop(
            ctrl, 8 * clen, pay, 8 * plen, table_widths, order, first, out
        ):
            raise CodecError("timestamp streams are shorter than the count says")
        return out
    b, _ = parse_prefix_codes(mv[h : h + clen], n - 1, 4)
    widths = table_widths[b]
    starts = np.cumsum(widths) - widths
    d = unzigzag(unpack_bits(mv[h + clen : h + clen + plen], starts, widths))
    if order == 2:
        d = np.cumsum(d)
    out = np.empty(n, dtype=np.int64)
    out[0] = first
    out[1:] = np.cumsum(d) + np.int64(first)
    return out


# ---------------------------------------------------------------- Gorilla XOR
_XOR_HDR = struct.Struct("<BQIII")  # codec, first bits, control, header, payload bytes


def _next_smaller(a: np.ndarray) -> np.ndarray:
    """For each j, the first i > j with a[i] < a[j] (len(a) if none); sparse table + lifting."""
    n = a.size
    tables = [a]
    k = 1
    while (1 << k) <= n:
        prev, half = tables[-1], 1 << (k - 1)
        cur = prev.copy()
        cur[: n - half] = np.minimum(prev[: n - half], prev[half:])
        tables.append(cur)
        k += 1
    pos = np.arange(1, n + 1)
    for k in range(len(tables) - 1, -1, -1):
        step = 1 << k
        probe = np.minimum(pos, n - 1)
        ok = (pos + step <= n) & (tables[k][probe] >= a)
        pos = np.where(ok, pos + step, pos)
    return pos


def _chain_from_zero(nxt: np.ndarray) -> np.ndarray:
    """Indices visited by 0 -> nxt[0] -> ... (until len(nxt)), by pointer doubling."""
    n = nxt.size
    jump = np.concatenate((nxt, [n]))  # node n is the sink
    levels = [jump]
    while (1 << len(levels)) <= n:
        levels.append(levels[-1][levels[-1]])
    nodes = np.zeros(1, dtype=np.int64)
    for lvl in reversed(levels):
        nodes = np.union1d(nodes, lvl[nodes])  # adds the 2**k-th successor of every node
    return nodes[nodes < n]


def xor_windows(lead: np.ndarray, trail: np.ndarray) -> np.ndarray:
    """Which nonzero XORs open a new window ('11') under Gorilla's greedy rule (bool array)."""
    m = lead.size
    reset = np.zeros(m, dtype=bool)
    if m and bits.USE_KERNELS:
        kernels.xor_windows_loop(lead, trail, reset)
    elif m:
        nxt = np.minimum(_next_smaller(lead), _next_smaller(trail))
        reset[_chain_from_zero(nxt)] = True
    return reset


def xor_windows_scan(lead: np.ndarray, trail: np.ndarray) -> np.ndarray:
    """The same rule as a plain loop (reference for tests; not used on the hot path)."""
    reset = np.zeros(lead.size, dtype=bool)
    wl, wt = 99, 99
    for i, (ld, tr) in enumerate(zip(lead.tolist(), trail.tolist())):
        if ld < wl or tr < wt:
            reset[i] = True
            wl, wt = ld, tr
    return reset


def encode_xor(values: np.ndarray) -> bytes:
    """Float64 values -> Gorilla XOR bytes (bit exact for every pattern)."""
    u = np.ascontiguousarray(values, dtype=np.float64).view(U64)
    if u.size == 0:
        return _XOR_HDR.pack(XOR, 0, 0, 0, 0)
    x = u[1:] ^ u[:-1]
    nzi = np.flatnonzero(x)
    xs = x[nzi]
    lead = np.minimum(clz64(xs), 31)
    trail = ctz64(xs)
    reset = xor_windows(lead, trail)
    # The window in force at each nonzero record: the last reset at or before it.
    last = np.maximum.accumulate(np.where(reset, np.arange(xs.size), 0))
    wl, wt = lead[last], trail[last]
    mlen = 64 - wl - wt
    codes = np.zeros(x.size, dtype=np.int64)
    codes[nzi] = np.where(reset, 2, 1)
    cval, cwid = prefix_code_fields(codes, 2)
    control, _ = pack_bits(cval, cwid)
    hdr_vals = (lead[reset].astype(U64) << U64(6)) | (mlen[reset] & 63).astype(U64)
    headers = pack_fixed(hdr_vals, 11)
    payload, _ = pack_bits(xs >> wt.astype(U64), mlen)
    return (
        _XOR_HDR.pack(XOR, int(u[0]), len(control), len(headers), len(payload))
        + control
        + headers
        + payload
    )


def decode_xor(data: bytes | memoryview, n: int) -> np.ndarray:
    codec, first, clen, hlen, plen = _XOR_HDR.unpack_from(data, 0)
    if codec != XOR:
        raise CodecError(f"not a Gorilla XOR column (codec {codec})")
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    mv = memoryview(data)
    h = _XOR_HDR.size
    if bits.USE_KERNELS:
        out = np.empty(n, dtype=U64)
        p = h + clen + hlen
        streams = [bits._words(mv[a:b]) for a, b in ((h, h + clen), (h + clen, p), (p, p + plen))]
        if len(mv) < p + plen or kernels.xor_decode_loop(
            streams[0], 8 * clen, streams[1], 8 * hlen, streams[2], 8 * plen, np.uint64(first), out
        ):
            raise CodecError("XOR streams are shorter than the count says, or malformed")
        return out.view(np.float64)
    codes, _ = parse_prefix_codes(mv[h : h + clen], n - 1, 2)
    nz = codes > 0
    reset = codes[nz] == 2
    k = int(reset.sum())
    hv = unpack_fixed(mv[h + clen : h + clen + hlen], k, 11).astype(np.int64)
    lead_r, len_r = hv >> 6, hv & 63
    len_r = np.where(len_r == 0, 64, len_r)
    which = np.cumsum(reset) - 1  # index of the window in force for each nonzero record
    if which.size and which[0] < 0:
        raise CodecError("XOR stream reuses a window before defining one")
    mlen = len_r[which]
    trail = 64 - lead_r[which] - mlen
    starts = np.cumsum(mlen) - mlen
    pay = unpack_bits(mv[h + clen + hlen : h + clen + hlen + plen], starts, mlen)
    x = np.zeros(n - 1, dtype=U64)
    x[nz] = pay << trail.astype(U64)
    out = np.empty(n, dtype=U64)
    out[0] = first
    # Each value is the previous value XOR the stored difference: a prefix XOR.
    np.bitwise_xor.accumulate(x, out=x)
    out[1:] = x ^ U64(first)
    return out.view(np.float64)
