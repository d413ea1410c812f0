"""Seeded dirty tick files: a random walk per symbol with every kind of reject mixed in.

The input of the tests, the notebook and the benchmark: ``seq,ts_ns,symbol,price,size`` with
``seq`` per symbol, ts_ns 1 ms apart on average, and with probability ``dirt`` each line is
spoiled in one of the five ways the cleaning rules catch (a garbled or non-UTF-8 line, a zero
size, a repeated seq, a timestamp seconds in the past, a price jump), so a run exercises every
rule; never the first line (a stream that opened with a tick seconds in the past would make a
paced replay wait those seconds before the second). Deterministic for a seed.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["make_ticks", "write_ticks"]

_GARBAGE = (b"not,a,tick", b"\xff\xfe\x00bytes", b"1,2,SYM,abc,5", b"", b"1,2,3,4,5,6",
            b"-,--,X,1.0,1")


def make_ticks(n: int, *, symbols: int = 8, dirt: float = 0.05, seed: int = 0,
               start_ns: int = 1_700_000_000_000_000_000, step_ns: int = 1_000_000) -> list[bytes]:
    """``n`` data lines (no header)."""
    rng = np.random.default_rng(seed)
    names = [f"S{i:02d}" for i in range(symbols)]
    price = 100.0 + 10.0 * np.arange(symbols)
    seq = np.zeros(symbols, dtype=np.int64)
    ts = start_ns + np.cumsum(rng.integers(1, 2 * step_ns, size=n))
    sym = rng.integers(0, symbols, size=n)
    steps = rng.normal(0.0, 0.002, size=n)
    kind = np.where(rng.random(n) < dirt, rng.integers(0, 5, size=n), -1)
    kind[:1] = -1  # the first tick is clean: it is what the others are late or repeated against
    out = []
    for i in range(n):
        s = int(sym[i])
        price[s] *= 1.0 + steps[i]
        seq[s] += 1
        t, q, p, size = int(ts[i]), int(seq[s]), float(price[s]), int(rng.integers(1, 500))
        k = int(kind[i])
        if k == 0:
            out.append(_GARBAGE[int(rng.integers(0, len(_GARBAGE)))])
            continue
        if k == 1:
            size = 0
        elif k == 2:
            q = max(1, q - int(rng.integers(1, 4)))
            seq[s] -= 1
        elif k == 3:
            t -= int(rng.integers(2, 5)) * 1_000_000_000
        elif k == 4:
            p *= 1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.5)
        out.append(f"{q},{t},{names[s]},{p:.4f},{size}".encode())
    return out


def write_ticks(path: str | os.PathLike[str], n: int, **kw) -> str:
    """Write a tick file with its header; returns the path."""
    from .clean import HEADER

    with open(path, "wb") as f:
        f.write(HEADER + b"\n")
        lines = make_ticks(n, **kw)
        if lines:
            f.write(b"\n".join(lines) + b"\n")
    return os.fspath(path)
