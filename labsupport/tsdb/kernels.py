"""Optional numba kernels for the bit-stream primitives (the ``fast`` extra).

The numpy versions in :mod:`bits` and :mod:`codecs` are complete and are the
reference; these loops compute exactly the same thing one field at a time, which
numba compiles to a few machine instructions per field instead of a dozen array
passes. They are used when numba imports and ``TSDB_NO_NUMBA`` is not set; the
tests run both and compare them bit for bit.
"""

from __future__ import annotations

import os

import numpy as np

try:  # pragma: no cover - depends on the environment
    if os.environ.get("TSDB_NO_NUMBA"):
        raise ImportError("disabled by TSDB_NO_NUMBA")
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

if HAVE_NUMBA:
    _ONE = np.uint64(1)

    @njit(cache=True, nogil=True)
    def pack_words(values, widths, words):  # pragma: no cover - compiled
        """OR fields MSB-first into ``words`` (native uint64, zeroed); returns bits written."""
        pos = np.int64(0)
        for i in range(values.size):
            w = np.int64(widths[i])
            if w == 0:
                continue
            v = values[i]
            if w < 64:
                v &= (_ONE << np.uint64(w)) - _ONE
            word = pos >> 6
            s = pos & 63
            if s + w <= 64:
                words[word] |= v << np.uint64(64 - s - w)
            else:
                words[word] |= v >> np.uint64(s + w - 64)
                words[word + 1] |= v << np.uint64(128 - s - w)
            pos += w
        return pos

    @njit(cache=True, nogil=True)
    def unpack_words(words, starts, widths, out):  # pragma: no cover - compiled
        """Read ``widths[i]`` bits at ``starts[i]`` from native uint64 words into ``out``."""
        for i in range(starts.size):
            w = np.int64(widths[i])
            if w == 0:
                out[i] = 0
                continue
            st = np.int64(starts[i])
            word = st >> 6
            s = np.uint64(st & 63)
            top = words[word] << s
            if s > 0:
                top |= words[word + 1] >> (np.uint64(64) - s)
            out[i] = top >> np.uint64(64 - w)

    @njit(cache=True, nogil=True)
    def unpack_fixed_words(words, offset, width, out):  # pragma: no cover - compiled
        """Read ``out.size`` fields of one width starting at bit ``offset``."""
        if width == 0:
            out[:] = 0
            return
        down = np.uint64(64 - width)
        st = np.int64(offset)
        for i in range(out.size):
            word = st >> 6
            s = np.uint64(st & 63)
            top = words[word] << s
            if s > 0:
                top |= words[word + 1] >> (np.uint64(64) - s)
            out[i] = top >> down
            st += width

    @njit(cache=True, nogil=True)
    def unpack_deltas_words(words, offset, width, base, dmin, zig, out):  # pragma: no cover
        """Decode fixed-width deltas (zigzag, or offset by ``dmin``) and prefix-sum them into ``out``."""
        acc = np.int64(base)
        out[0] = acc
        down = np.uint64(64 - width) if width > 0 else np.uint64(0)
        st = np.int64(offset)
        for i in range(1, out.size):
            raw = np.uint64(0)
            if width > 0:
                word = st >> 6
                s = np.uint64(st & 63)
                top = words[word] << s
                if s > 0:
                    top |= words[word + 1] >> (np.uint64(64) - s)
                raw = top >> down
                st += width
            if zig:
                d = np.int64(raw >> np.uint64(1)) ^ -np.int64(raw & np.uint64(1))
            else:
                d = np.int64(raw) + dmin
            acc += d
            out[i] = acc

    @njit(cache=True, nogil=True)
    def bars_loop(
        ts, price, size, interval, start, opn, high, low, close, volume, count, pv
    ):  # pragma: no cover
        """One pass of OHLCV over time-ordered ticks; returns the number of buckets written."""
        k = -1
        cur = np.int64(0)
        for i in range(ts.size):
            t = ts[i]
            q = t // interval  # floor division, also for negative timestamps
            b = q * interval
            p = price[i]
            if k < 0 or b != cur:
                k += 1
                cur = b
                start[k] = b
                opn[k] = p
                high[k] = p
                low[k] = p
                volume[k] = 0
                count[k] = 0
                pv[k] = 0.0
            if p > high[k]:
                high[k] = p
            if p < low[k]:
                low[k] = p
            close[k] = p
            volume[k] += size[i]
            count[k] += 1
            pv[k] += p * size[i]
        return k + 1

    _LEAD_ONES = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 4], dtype=np.int64)

    @njit(cache=True, nogil=True)
    def _read(words, pos, w):  # pragma: no cover - compiled
        """``w`` bits (0..64) at bit ``pos`` of MSB-first words."""
        if w == 0:
            return np.uint64(0)
        word = pos >> 6
        s = np.uint64(pos & 63)
        top = words[word] << s
        if s > 0:
            top |= words[word + 1] >> (np.uint64(64) - s)
        return top >> np.uint64(64 - w)

    @njit(cache=True, nogil=True)
    def dod_decode_loop(ctrl, cbits, pay, pbits, widths, order, first, out):  # pragma: no cover
        """Sequential decode of the timestamp streams (prefix codes, payloads) into ``out``.

        Returns 0, or -1 if a stream runs out (malformed input; nothing is read past it)."""
        cpos = np.int64(0)
        ppos = np.int64(0)
        acc = np.int64(first)
        d = np.int64(0)
        out[0] = acc
        for i in range(1, out.size):
            # Peek 4 control bits; the prefix code is the run of leading ones (at most 4).
            word = cpos >> 6
            sh = np.uint64(cpos & 63)
            top = ctrl[word] << sh
            if sh > 0:
                top |= ctrl[word + 1] >> (np.uint64(64) - sh)
            peek = np.int64(top >> np.uint64(60))
            k = _LEAD_ONES[peek]
            cpos += k + 1 if k < 4 else 4
            if cpos > cbits:
                return -1
            w = np.int64(widths[k])
            if ppos + w > pbits:
                return -1
            z = np.uint64(0)
            if w > 0:  # the _read logic, written out: a call per value costs more than the read
                word = ppos >> 6
                sh = np.uint64(ppos & 63)
                top = pay[word] << sh
                if sh > 0:
                    top |= pay[word + 1] >> (np.uint64(64) - sh)
                z = top >> np.uint64(64 - w)
            ppos += w
            v = np.int64(z >> np.uint64(1)) ^ -np.int64(z & np.uint64(1))
            if order == 2:
                d += v
                acc += d
            else:
                acc += v
            out[i] = acc
        return 0

    @njit(cache=True, nogil=True)
    def xor_decode_loop(ctrl, cbits, heads, hbits, pay, pbits, first, out):  # pragma: no cover
        """Sequential decode of Gorilla XOR streams (codes, window headers, payloads) into ``out``.

        Returns 0, or -1 if a stream runs out or a window is reused before one is defined."""
        cpos = np.int64(0)
        hpos = np.int64(0)
        ppos = np.int64(0)
        prev = np.uint64(first)
        mlen = np.int64(64)
        trail = np.int64(0)
        out[0] = prev
        have_window = False
        for i in range(1, out.size):
            if cpos >= cbits:
                return -1
            bit = (ctrl[cpos >> 6] >> np.uint64(63 - (cpos & 63))) & np.uint64(1)
            cpos += 1
            if bit:
                if cpos >= cbits:
                    return -1
                bit2 = (ctrl[cpos >> 6] >> np.uint64(63 - (cpos & 63))) & np.uint64(1)
                cpos += 1
                if bit2:
                    if hpos + 11 > hbits:
                        return -1
                    have_window = True
                    h = np.int64(_read(heads, hpos, 11))
                    hpos += 11
                    mlen = h & 63
                    if mlen == 0:
                        mlen = 64
                    trail = 64 - (h >> 6) - mlen
                    if trail < 0:
                        return -1
                if not have_window or ppos + mlen > pbits:
                    return -1
                word = ppos >> 6
                sh = np.uint64(ppos & 63)
                top = pay[word] << sh
                if sh > 0:
                    top |= pay[word + 1] >> (np.uint64(64) - sh)
                v = top >> np.uint64(64 - mlen)
                ppos += mlen
                prev ^= v << np.uint64(trail)
            out[i] = prev
        return 0

    @njit(cache=True, nogil=True)
    def xor_windows_loop(lead, trail, reset):  # pragma: no cover - compiled
        """Gorilla's greedy window choice as the scan the paper describes."""
        wl = 99
        wt = 99
        for i in range(lead.size):
            if lead[i] < wl or trail[i] < wt:
                reset[i] = True
                wl = lead[i]
                wt = trail[i]

    @njit(cache=True, nogil=True)
    def ts_diff_widths(ts, order, z, width, hist):  # pragma: no cover - compiled
        """Zigzag of first (order 1) or second (order 2) differences, their widths, a histogram."""
        prev_d = np.int64(0)
        for i in range(1, ts.size):
            d = ts[i] - ts[i - 1]
            v = d - prev_d if order == 2 else d
            prev_d = d
            u = np.uint64((v << 1) ^ (v >> 63))
            z[i - 1] = u
            # bit width by binary search on the highest set bit
            w = 0
            if u >> np.uint64(32):
                u >>= np.uint64(32)
                w += 32
            if u >> np.uint64(16):
                u >>= np.uint64(16)
                w += 16
            if u >> np.uint64(8):
                u >>= np.uint64(8)
                w += 8
            if u >> np.uint64(4):
                u >>= np.uint64(4)
                w += 4
            if u >> np.uint64(2):
                u >>= np.uint64(2)
                w += 2
            if u >> np.uint64(1):
                u >>= np.uint64(1)
                w += 1
            w += np.int64(u)
            width[i - 1] = w
            hist[w] += 1

else:  # pragma: no cover
    pack_words = unpack_words = unpack_fixed_words = unpack_deltas_words = bars_loop = None
    xor_windows_loop = ts_diff_widths = dod_decode_loop = xor_decode_loop = None


def warm_up() -> None:
    """Compile (or load from cache) every kernel once, so first timings are not compile time."""
    if not HAVE_NUMBA:
        return
    v = np.arange(4, dtype=np.uint64)
    w = np.full(4, 3, dtype=np.int64)
    words = np.zeros(3, dtype=np.uint64)
    pack_words(v, w, words)
    unpack_words(words, np.arange(4, dtype=np.int64) * 3, w, np.zeros(4, dtype=np.uint64))
    xor_windows_loop(w, w, np.zeros(4, dtype=bool))
    unpack_fixed_words(words, 0, 3, np.zeros(4, dtype=np.uint64))
    f = np.zeros(4)
    i8 = np.zeros(4, dtype=np.int64)
    bars_loop(i8, f, i8, 10, i8, f, f, f, f, i8.copy(), i8.copy(), f)
    dod_decode_loop(words, 0, words, 0, i8[:5], 2, 0, i8[:1].copy())
    xor_decode_loop(words, 0, words, 0, words, 0, np.uint64(0), np.zeros(1, dtype=np.uint64))
    for zig in (True, False):
        unpack_deltas_words(words, 0, 3, 0, 0, zig, np.zeros(4, dtype=np.int64))
    ts = np.arange(5, dtype=np.int64)
    z = np.zeros(4, dtype=np.uint64)
    hist = np.zeros(65, dtype=np.int64)
    ts_diff_widths(ts, 2, z, w, hist)
