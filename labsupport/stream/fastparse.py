"""Parsing a whole batch of source lines in one compiled pass, strict, with a per-line fallback.

``parse_batch(raws)`` returns the same ticks as :func:`~.clean.parse` applied to each line, as
columns, without a Python call per line. The batch's bytes are joined once and scanned by one
kernel (:func:`_scan`, compiled with numba when it is installed, the same function run as
Python otherwise) that accepts only a strict subset of the grammar:

- seq, ts_ns, size: ``-?[0-9]{1,19}``, a 19th digit only after 18 that are below
  ``922337203685477580`` (so the value surely fits an int64: no overflow check needed);
- symbol: ``[A-Za-z0-9._/-]{1,32}``;
- price: ``-?[0-9]+(\\.[0-9]*)?`` or ``-?\\.[0-9]+``, at most 15 digits and no exponent.

Within that subset the price is ``m / 10**k`` with ``m`` the digits as an integer (< 2**53) and
``k`` the digits after the point (<= 15): both are exact doubles, and an IEEE division is
correctly rounded, so the result is the correctly rounded decimal, which is what ``float()``
returns (Clinger's fast path). Every line outside the subset (19-digit ints, exponents, long
prices, ``\\r``, bytes that are not ASCII, wrong field counts: rare in a real feed) goes through
the per-line regex parser, so ``malformed`` keeps exactly its one definition. The tests hold the
compiled kernel, its Python twin and the per-line parser equal on arbitrary bytes.

Symbols come out as one fixed-width ``S32`` column gathered from the kernel's spans, so
grouping by symbol is one ``numpy.unique``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .clean import PARTITIONS, parse

__all__ = ["HAVE_NUMBA", "Compiled", "ParsedBatch", "parse_batch", "partitions_of", "scan",
           "scan_python", "key_parts", "warm"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None  # the ``fast`` extra


class Compiled:
    """``fn`` compiled with numba on its first call (or loaded from numba's cache), so importing
    the package does not import numba; ``fn`` itself where numba is not installed."""

    def __init__(self, fn: Callable) -> None:
        self.py_func, self._fn = fn, None

    def __call__(self, *args):
        if self._fn is None:
            if HAVE_NUMBA:
                from numba import njit

                self._fn = njit(cache=True, nogil=True)(self.py_func)
            else:  # pragma: no cover - exercised where numba is absent
                self._fn = self.py_func
        return self._fn(*args)

    @property
    def is_compiled(self) -> bool:
        """True once a call has run the numba-compiled version."""
        return self._fn is not None and self._fn is not self.py_func

_POW10 = np.array([10.0 ** k for k in range(16)], dtype=np.float64)  # exact doubles
SYMBOL_WIDTH = 32


def _scan_impl(buf, starts, ends, pow10, seq, ts, price, size, sym_a, sym_n, ok):
    """Fill the columns for lines ``buf[starts[i]:ends[i]]``; ``ok[i]`` False: use the fallback."""
    for i in range(starts.size):
        j, end = starts[i], ends[i]
        good = True
        s0 = s1 = s2 = 0
        for f in range(5):
            if f == 2:  # the symbol
                a = j
                while j < end and buf[j] != 44:
                    c = int(buf[j])
                    if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122
                            or c == 46 or c == 95 or c == 47 or c == 45):
                        good = False
                        break
                    j += 1
                n = j - a
                if not good or n < 1 or n > 32:
                    good = False
                    break
                sym_a[i], sym_n[i] = a, n
            elif f == 3:  # the price
                neg = j < end and buf[j] == 45
                if neg:
                    j += 1
                m, digits, frac, point = 0, 0, 0, False
                while j < end and buf[j] != 44:
                    c = int(buf[j])
                    if 48 <= c <= 57:
                        m = m * 10 + (c - 48)
                        digits += 1
                        if point:
                            frac += 1
                    elif c == 46 and not point:
                        point = True
                    else:
                        good = False
                        break
                    j += 1
                if not good or digits == 0 or digits > 15:
                    good = False
                    break
                pv = m / pow10[frac]
                price[i] = -pv if neg else pv
            else:  # seq, ts_ns, size
                neg = j < end and buf[j] == 45
                if neg:
                    j += 1
                v, digits = 0, 0
                while j < end and buf[j] != 44:
                    c = int(buf[j])
                    if not 48 <= c <= 57 or (digits == 18 and v >= 922337203685477580):
                        good = False  # not a digit, or a 19th that might not fit an int64
                        break
                    v = v * 10 + (c - 48)
                    digits += 1
                    j += 1
                if not good or digits == 0 or digits > 19:
                    good = False
                    break
                v = -v if neg else v
                if f == 0:
                    s0 = v
                elif f == 1:
                    s1 = v
                else:
                    s2 = v
            if f < 4:
                if j >= end:  # fewer than five fields
                    good = False
                    break
                j += 1  # the comma
            elif j != end:  # a sixth field
                good = False
        if good:
            seq[i], ts[i], size[i] = s0, s1, s2
        ok[i] = good


def _crc_table() -> np.ndarray:
    """The table of the reflected CRC-32 (polynomial 0xEDB88320), zlib's."""
    t = np.zeros(256, dtype=np.int64)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t[n] = c
    return t


_CRC = _crc_table()


def _key_parts_impl(buf, starts, ends, table, partitions, out):
    """``zlib.crc32`` of each line's third comma-separated field (the symbol, also in a
    malformed line; empty when the line has fewer than two commas), modulo ``partitions``."""
    for i in range(starts.size):
        j, end, commas = starts[i], ends[i], 0
        while j < end and commas < 2:
            if buf[j] == 44:
                commas += 1
            j += 1
        crc = 0xFFFFFFFF
        if commas == 2:
            while j < end and buf[j] != 44:
                crc = table[(crc ^ int(buf[j])) & 0xFF] ^ (crc >> 8)
                j += 1
        out[i] = (crc ^ 0xFFFFFFFF) % partitions


scan_python = _scan_impl
scan = Compiled(_scan_impl)
key_parts = Compiled(_key_parts_impl)


@dataclass(slots=True)
class ParsedBatch:
    """The parsed lines of a batch as columns; ``ok[i]`` False: line ``i`` is malformed."""

    ok: np.ndarray
    seq: np.ndarray
    ts_ns: np.ndarray
    price: np.ndarray
    size: np.ndarray
    symbol: np.ndarray  # S32; b"" where not ok


def _joined(raws: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines in one buffer, each followed by one b"\\n": (buffer, starts, ends)."""
    lens = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    ends = np.cumsum(lens + 1) - 1
    return np.frombuffer(b"\n".join(raws) + b"\n", dtype=np.uint8), ends - lens, ends


def _gather(buf: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Fixed-width ``S32`` rows of ``buf[a[i]:a[i] + n[i]]`` (bytes past the end zeroed)."""
    cols = np.arange(SYMBOL_WIDTH)
    take = np.minimum(a[:, None] + cols, buf.size - 1)
    rows = np.where(cols < n[:, None], buf[take], 0).astype(np.uint8)
    return np.ascontiguousarray(rows).view(f"S{SYMBOL_WIDTH}").reshape(a.size)


def partitions_of(raws: Sequence[bytes], partitions: int = PARTITIONS, *, kernel=None
                  ) -> np.ndarray:
    """:func:`~.clean.partition_of` of every line (int16), in one compiled pass."""
    out = np.zeros(len(raws), dtype=np.int64)
    if raws:
        buf, starts, ends = _joined(raws)
        (kernel or key_parts)(buf, starts, ends, _CRC, partitions, out)
    return out.astype(np.int16)


def parse_batch(raws: Sequence[bytes], *, kernel=None) -> ParsedBatch:
    """Every line of ``raws`` parsed as :func:`~.clean.parse` would, a batch at a time."""
    n = len(raws)
    buf, starts, ends = _joined(raws)
    seq, ts, size = (np.zeros(n, np.int64) for _ in range(3))
    price = np.zeros(n, np.float64)
    sym_a, sym_n = np.zeros(n, np.int64), np.zeros(n, np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    (kernel or scan)(buf, starts, ends, _POW10, seq, ts, price, size, sym_a, sym_n, ok)
    symbol = _gather(buf, sym_a, sym_n)
    for i in np.flatnonzero(~ok).tolist():  # outside the fast subset: the per-line parser
        t = parse(raws[i])
        if t is not None:
            ok[i] = True
            seq[i], ts[i], price[i], size[i] = t.seq, t.ts_ns, t.price, t.size
            symbol[i] = t.symbol.encode("ascii")
    return ParsedBatch(ok, seq, ts, price, size, symbol)


def warm() -> None:
    """Compile (or load from numba's cache) the kernels now, e.g. before forking workers, so
    each worker does not pay for it on its first batch."""
    from .vector import clean_batch

    clean_batch([2], [b"1,1,A,1.0,1"], {}, method="kernel")  # "auto" may not call the kernel
