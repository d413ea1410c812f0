"""Teaching views of the codecs: every record's prefix code and payload, as real bits.

These functions re-derive, for a handful of values, the fields that ``codecs.encode_ts``
and ``codecs.encode_xor`` write, and check them against the encoder's own output, so the
tables in the notebook are the bits on disk, not a drawing. Not used on any hot path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import codecs, gorilla
from .bits import bits_to_str, clz64, ctz64, zigzag


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b") if width else ""


def explain_ts(ts, order: int = 2, table: int = 0) -> pd.DataFrame:
    """One row per timestamp: difference, zigzag, bucket, prefix code and payload bits."""
    ts = np.asarray(ts, dtype=np.int64)
    data = codecs.encode_ts(ts, order=order, table=table)
    _, _, _, first, clen, plen = gorilla._TS_HDR.unpack_from(data, 0)
    h = gorilla._TS_HDR.size
    d = gorilla._ts_differences(ts, order)
    z = zigzag(d)
    widths = np.asarray(codecs.BUCKET_TABLES[table])
    b = np.searchsorted(widths, [int(v).bit_length() for v in z.tolist()])
    codes = ["0", "10", "110", "1110", "1111"]
    rows = [
        {"ts": int(ts[0]), "diff": "", "zigzag": "", "code": "(raw 64-bit header)", "payload": ""}
    ]
    for i in range(d.size):
        rows.append({"ts": int(ts[i + 1]), "diff": int(d[i]), "zigzag": int(z[i]), "code": codes[b[i]],
                     "payload": _bits(int(z[i]), int(widths[b[i]]))})  # fmt: skip
    df = pd.DataFrame(rows)
    control = "".join(codes[k] for k in b)
    payload = "".join(r["payload"] for r in rows)
    assert bits_to_str(data[h : h + clen], len(control)) == control  # the encoder wrote these bits
    assert bits_to_str(data[h + clen : h + clen + plen], len(payload)) == payload
    return df


def explain_xor(values) -> pd.DataFrame:
    """One row per float: its bits, XOR with the previous, Gorilla's code and stored bits."""
    x = np.asarray(values, dtype=np.float64)
    u = x.view(np.uint64)
    xr = np.concatenate(([0], u[1:] ^ u[:-1])).astype(np.uint64)
    lead = np.minimum(clz64(xr), 31)
    trail = ctz64(xr)
    rows = []
    wl = wt = None
    for i in range(x.size):
        bits64 = _bits(int(u[i]), 64)
        if i == 0:
            rows.append(
                {
                    "value": x[i],
                    "bits": bits64,
                    "xor": "",
                    "code": "(raw 64-bit header)",
                    "stored": "",
                }
            )
            continue
        v = int(xr[i])
        if v == 0:
            code, stored = "0", ""
        elif wl is not None and lead[i] >= wl and trail[i] >= wt:
            code, stored = "10", _bits(v >> wt, 64 - wl - wt)
        else:
            wl, wt = int(lead[i]), int(trail[i])
            m = 64 - wl - wt
            code = f"11 lead={wl:05b} len={m % 64:06b}"
            stored = _bits(v >> wt, m)
        rows.append(
            {"value": x[i], "bits": bits64, "xor": _bits(v, 64), "code": code, "stored": stored}
        )
    df = pd.DataFrame(rows)
    # The same bits must be in the encoder's three streams: codes, window headers, payloads.
    data = codecs.encode_xor(x)
    _, _, clen, hlen, plen = gorilla._XOR_HDR.unpack_from(data, 0)
    h = gorilla._XOR_HDR.size
    ctrl = "".join(c[:2] if c.startswith("11") else c for c in df.code[1:])
    heads = "".join(c[8:13] + c[18:24] for c in df.code[1:] if c.startswith("11"))
    stored = "".join(df.stored[1:])
    assert bits_to_str(data[h : h + clen], len(ctrl)) == ctrl
    assert bits_to_str(data[h + clen : h + clen + hlen], len(heads)) == heads
    assert bits_to_str(data[h + clen + hlen : h + clen + hlen + plen], len(stored)) == stored
    return df


def column_bytes(values, kind: str) -> pd.DataFrame:
    """Bytes per point of one column under every codec that applies (which one wins here?)."""
    v = np.asarray(values)
    n = max(v.size, 1)
    out = {
        "raw (8 bytes)": len(codecs.encode_raw(v.astype(np.float64 if kind != "ts" else np.int64)))
    }
    if kind == "ts":
        for order, name in ((1, "delta"), (2, "delta-of-delta")):
            out[f"{name}, Gorilla buckets"] = len(codecs.encode_ts(v, order=order, table=0))
            best_fixed = min(
                range(len(codecs.BUCKET_TABLES)), key=lambda t: len(codecs.encode_ts(v, order, t))
            )
            out[f"{name}, best fixed bucket table"] = len(
                codecs.encode_ts(v, order=order, table=best_fixed)
            )
            out[f"{name}, buckets fitted to the block"] = len(
                codecs.encode_ts(v, order=order, table=codecs.ADAPTIVE)
            )
        out["deltas bit-packed (fixed width)"] = len(codecs.encode_int(v))
    elif kind == "float":
        out["Gorilla XOR"] = len(codecs.encode_xor(v))
        k = codecs.grid_exponent(v)
        if k is not None:
            out[f"tick grid 10^-{k} + bit packing"] = len(codecs.encode_grid(v, k))
    else:
        out["Gorilla XOR (as float)"] = len(codecs.encode_xor(v.astype(np.float64)))
        out["zigzag / frame-of-reference bit-packed"] = len(codecs.encode_int(v))
    return pd.DataFrame({"bytes/point": {k: round(b / n, 3) for k, b in out.items()}})
