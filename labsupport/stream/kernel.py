"""The three stateful rules of one symbol's run of ticks in one compiled loop (numba).

The same decisions as ``vector._run_symbol_loop`` (and so as the per-tick reference), written
over arrays so numba can compile it: the symbol's state goes in as a few scalars and two small
arrays, comes out updated, and is written back into the :class:`~.clean.SymbolState`:

- duplicate: ``prior[i]`` says whether seq ``i`` was accepted before the run (a set lookup done
  in Python, and only for seqs at or below the largest accepted, i.e. almost never); within the
  run, a seq above the running maximum cannot repeat, any other is looked up among the seqs the
  run accepted so far (a short scan: that is the rare duplicate);
- late: ``newest - ts > late_ns`` in int64, used only where no operand reaches 2**62, so the
  difference cannot wrap (the caller keeps the Python loop for the other runs);
- outlier: the last 20 accepted prices as a ring (arrival order) plus the same prices sorted; the
  median is the middle element or ``(a + b) / 2`` of the middle two, which is what
  ``numpy.median`` returns for a finite window; the comparison is the reference's expression,
  in the same IEEE operations (numba does not reassociate floats without ``fastmath``).

``rules_python`` is the same function uncompiled: the path used without numba, and the twin
the tests hold equal to the compiled one.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .clean import MIN_ACCEPTED, WINDOW, Rules, SymbolState
from .fastparse import Compiled

__all__ = ["SAFE", "rules_kernel", "rules_python", "run_symbol_kernel"]

SAFE = 1 << 62  # |ts|, |newest| and |late_ns| below this: their differences fit an int64


def _rules_impl(seq, ts, price, prior, late_ns, pct, min_acc, has_newest, newest, accepted,
                has_top, top, ring, ring_n, head, ordw, reason, took):
    """Decide each tick of the run; ``reason``: 0 accepted, 1 duplicate, 2 late, 3 outlier.
    ``took`` receives the accepted seqs in order; returns the new scalars and their count."""
    width = ring.size
    k = 0
    for i in range(seq.size):
        s, t, p = seq[i], ts[i], price[i]
        dup = prior[i]
        if not dup and (not has_top or s <= top):
            for j in range(k):
                if took[j] == s:
                    dup = True
                    break
        if dup:
            reason[i] = 1
            continue
        if has_newest and newest - t > late_ns:
            reason[i] = 2
            continue
        if accepted >= min_acc:
            h = ring_n >> 1
            m = ordw[h] if ring_n & 1 else (ordw[h - 1] + ordw[h]) / 2
            if abs(p - m) * 100.0 > pct * m:
                reason[i] = 3
                continue
        reason[i] = 0
        took[k] = s
        k += 1
        if not has_top or s > top:
            top, has_top = s, True
        if not has_newest or t > newest:
            newest, has_newest = t, True
        if ring_n == width:  # drop the oldest from the sorted copy, then from the ring
            old = ring[head]
            a = 0
            while ordw[a] < old:
                a += 1
            for b in range(a, ring_n - 1):
                ordw[b] = ordw[b + 1]
            ring[head] = p
            head = (head + 1) % width
            n_sorted = ring_n - 1
        else:
            ring[ring_n] = p
            ring_n += 1
            n_sorted = ring_n - 1
        b = n_sorted  # insert p after any equal values (insort_right)
        while b > 0 and ordw[b - 1] > p:
            ordw[b] = ordw[b - 1]
            b -= 1
        ordw[b] = p
        accepted += 1
    return has_newest, newest, accepted, has_top, top, ring_n, head, k


rules_python = _rules_impl
rules_kernel = Compiled(_rules_impl)
_NAMES = (None, "duplicate", "late", "outlier")


def run_symbol_kernel(st: SymbolState, idx: np.ndarray, seq: np.ndarray, ts: np.ndarray,
                      price: np.ndarray, rules: Rules, verdicts: list, *, kernel=None) -> None:
    """``vector``'s per-symbol step through the kernel (same signature as the loop's)."""
    from .vector import _run_symbol_loop

    newest = st.newest_ts
    if (abs(rules.late_ns) >= SAFE or (newest is not None and abs(newest) >= SAFE)
            or (ts.size and int(np.abs(ts).max()) >= SAFE)):
        _run_symbol_loop(st, idx, seq, ts, price, rules, verdicts)  # int64 could wrap
        return
    prior = np.zeros(seq.size, dtype=np.bool_)
    if st.max_seq is not None:
        low = np.flatnonzero(seq <= st.max_seq)
        if low.size:
            prior[low] = [s in st.seqs for s in seq[low].tolist()]
    ring = np.zeros(WINDOW, dtype=np.float64)
    ring_n = len(st.window)
    ring[:ring_n] = st.window
    ordw = np.zeros(WINDOW, dtype=np.float64)
    ordw[:ring_n] = st.ordered
    reason = np.zeros(seq.size, dtype=np.int8)
    took = np.zeros(seq.size, dtype=np.int64)
    has_newest, newest_v, accepted, has_top, top, ring_n, head, k = (kernel or rules_kernel)(
        seq, ts, price, prior, rules.late_ns, float(rules.max_dev_pct), MIN_ACCEPTED,
        newest is not None, 0 if newest is None else newest, st.accepted,
        st.max_seq is not None, 0 if st.max_seq is None else st.max_seq,
        ring, ring_n, 0, ordw, reason, took)
    st.seqs.update(took[:k].tolist())
    st.newest_ts = int(newest_v) if has_newest else None
    st.max_seq = int(top) if has_top else None
    st.accepted = int(accepted)
    st.window = deque(np.concatenate([ring[head:ring_n], ring[:head]]).tolist(), maxlen=WINDOW)
    st.ordered = ordw[:ring_n].tolist()
    for j in np.flatnonzero(reason).tolist():
        verdicts[int(idx[j])] = _NAMES[reason[j]]
