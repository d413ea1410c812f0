"""The cleaning rules a batch at a time: the same verdicts as ``clean.py``, faster.

A batch is the source lines a worker took from one transport message. It is parsed in one
compiled pass (:mod:`.fastparse`: the batch's bytes joined once, the numeric columns converted
by a numba kernel, the rare line outside its strict subset through the per-line regex, so
``malformed`` means exactly what the reference says), ``nonpositive`` is one numpy mask, and
the ticks are grouped by symbol with one ``numpy.unique``. The three stateful rules of a symbol
depend on which earlier ticks were accepted; four ways to run them are kept, all held equal to
the reference by the tests:

- ``method="kernel"``: :mod:`.kernel`, one compiled loop over the symbol's run, the state
  handed in and back as a few scalars and arrays;
- ``method="loop"`` (the default without numba): the same loop in Python, the state's fields
  in locals and the window also kept sorted, so the median is one or two list reads;
- ``method="auto"`` (the default where numba is installed): the kernel for a symbol's run of
  ``KERNEL_MIN`` ticks or more, the loop for a shorter one (a low-latency batch of a few dozen
  ticks: the kernel's fixed cost per call, ~40 us, is more than the loop spends on them);
- ``method="numpy"``, *optimistic* passes: assume every remaining tick of the symbol is
  accepted, compute the three masks at once (first occurrence of each seq, running maximum of
  ts_ns, ``numpy.median`` over ``sliding_window_view`` rows) and find the first tick that fails.
  Everything before it was really accepted, that tick is really rejected, and the pass restarts
  after it, over about twice the last clean run (``MIN_SPAN`` to ``CHUNK`` ticks).

Measured (``bench.clean_rates``, 5% dirty lines, 8 symbols, 1000-line batches, smoke runs on a
loaded 2-core machine): the whole batch, parse included, 1.3-1.5x faster with the kernel than
with the Python loop, and the loop several times the numpy passes. A symbol's run in a batch is
~125 ticks and a stateful reject comes every ~30, so each numpy pass pays a dozen calls' fixed
cost for a few dozen ticks: the vectorised design a learner reaches for first loses to a plain
loop. The kernel's own gain is bounded the same way: it is one call per symbol and batch, whose
fixed cost (handing the state in and out) is comparable to the loop it replaces.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .clean import MIN_ACCEPTED, WINDOW, DeadLetter, Rules, SymbolState, dead_letter
from .fastparse import HAVE_NUMBA, parse_batch
from .kernel import run_symbol_kernel

__all__ = ["CHUNK", "DEFAULT_METHOD", "KERNEL_MIN", "METHODS", "CleanBatch", "clean_batch",
           "late_mask", "split_by_partition"]

CHUNK = 512
MIN_SPAN = 16


@dataclass(slots=True)
class CleanBatch:
    """Accepted ticks as columns in arrival order, and the dead letters of one batch.

    Symbols are one code per accepted tick into the batch's distinct ``names`` (no Python
    object per tick: the batch crosses a process boundary and the sink writes codes);
    :attr:`symbol` spells them out for a reader."""

    line: np.ndarray
    seq: np.ndarray
    ts_ns: np.ndarray
    price: np.ndarray
    size: np.ndarray
    names: list[str]
    codes: np.ndarray  # uint32 index into names, one per accepted tick
    rejected: list[DeadLetter]

    def __len__(self) -> int:
        return int(self.line.size)

    @property
    def symbol(self) -> list[str]:
        return np.array(self.names, dtype=object)[self.codes].tolist() if self.names else []

    def __reduce__(self):
        # pickled as raw column bytes: a worker sends one batch per partition per wake-up, and
        # numpy's reduce of each small array was most of a results message's cost (8 batches
        # of 6 ticks, dumps + loads: ~0.56 ms before, ~0.33 ms so)
        cols = tuple((a.dtype.str, a.tobytes()) for a in (self.line, self.seq, self.ts_ns,
                                                           self.price, self.size, self.codes))
        return _rebuild_batch, (cols, self.names, self.rejected)

    def take(self, mask: np.ndarray, rejected: list[DeadLetter]) -> CleanBatch:
        """The accepted ticks where ``mask`` holds, with ``rejected`` as the dead letters."""
        return CleanBatch(self.line[mask], self.seq[mask], self.ts_ns[mask], self.price[mask],
                          self.size[mask], self.names, self.codes[mask], rejected)


def _rebuild_batch(cols: tuple[tuple[str, bytes], ...], names: list[str],
                   rejected: list[DeadLetter]) -> CleanBatch:
    line, seq, ts_ns, price, size, codes = (np.frombuffer(bytearray(b), dtype=d)
                                            for d, b in cols)
    return CleanBatch(line, seq, ts_ns, price, size, names, codes, rejected)


def late_mask(newest_ts: int | None, ts: np.ndarray, late_ns: int) -> np.ndarray:
    """``late`` for each of ``ts`` if every earlier one were accepted: older than the newest
    accepted ts_ns before it (``newest_ts`` before the run, None: none yet) by more than
    ``late_ns``. A running maximum shifted by one is "the newest before each"."""
    n = ts.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    prev = np.empty(n, dtype=np.int64)
    prev[0] = newest_ts if newest_ts is not None else 0
    prev[1:] = np.maximum.accumulate(ts)[:-1]
    if newest_ts is not None:
        np.maximum(prev, newest_ts, out=prev)
    has = np.ones(n, dtype=bool)
    has[0] = newest_ts is not None
    if np.any(np.abs(prev) >= 1 << 62) or np.any(np.abs(ts) >= 1 << 62):  # would wrap int64
        return has & np.array([a - b > late_ns for a, b in zip(prev.tolist(), ts.tolist())],
                              dtype=bool)
    return has & (prev - ts > late_ns)


def _stateful(st: SymbolState, seq: np.ndarray, ts: np.ndarray, price: np.ndarray,
              rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Masks (duplicate, late, outlier) for ticks of one symbol if all of them were accepted."""
    n = seq.size
    # duplicate: in the accepted set, or an earlier tick of this run has the same seq
    seen = np.zeros(n, dtype=bool)
    if st.max_seq is not None:  # only a seq at or below the largest accepted can be a repeat
        low = np.flatnonzero(seq <= st.max_seq)
        seen[low] = [s in st.seqs for s in seq[low].tolist()]
    _, first = np.unique(seq, return_index=True)
    repeat = np.ones(n, dtype=bool)
    repeat[first] = False
    dup = seen | repeat
    late = late_mask(st.newest_ts, ts, rules.late_ns)
    # outlier: median of the last WINDOW accepted prices before each tick
    hist = np.fromiter(st.window, dtype=np.float64, count=len(st.window))
    arr = np.concatenate([hist, price])
    ends = hist.size + np.arange(n)  # the window of tick i is arr[max(0, end-WINDOW):end]
    counts = st.accepted + np.arange(n)
    med = np.full(n, np.nan)
    full = ends >= WINDOW
    if full.any():
        rows = sliding_window_view(arr, WINDOW)
        med[full] = np.median(rows[ends[full] - WINDOW], axis=1)
    for i in np.flatnonzero(~full & (counts >= MIN_ACCEPTED)):  # the first few of a symbol
        med[i] = np.median(arr[:ends[i]])
    with np.errstate(invalid="ignore"):
        out = (counts >= MIN_ACCEPTED) & (np.abs(price - med) * 100.0 > rules.max_dev_pct * med)
    reason = np.zeros(n, dtype=np.int8)  # 0 accepted, 1 duplicate, 2 late, 3 outlier
    reason[out] = 3
    reason[late] = 2
    reason[dup] = 1
    return reason, med


_NAMES = (None, "duplicate", "late", "outlier")


def _run_symbol(st: SymbolState, idx: np.ndarray, seq: np.ndarray, ts: np.ndarray,
                price: np.ndarray, rules: Rules, verdicts: list) -> None:
    """Decide the ticks ``idx`` of one symbol (arrival order); write reasons into ``verdicts``."""
    start, n, span = 0, idx.size, CHUNK
    while start < n:
        stop = min(n, start + span)
        s, t, p = seq[start:stop], ts[start:stop], price[start:stop]
        reason, _ = _stateful(st, s, t, p, rules)
        bad = np.flatnonzero(reason)
        good = int(bad[0]) if bad.size else stop - start
        if good:  # really accepted: their checks saw the true state
            st.accept_many(s[:good].tolist(), int(t[:good].max()), p[:good].tolist())
        if bad.size:
            verdicts[idx[start + good]] = _NAMES[reason[good]]
            start += good + 1
            span = max(MIN_SPAN, 2 * good)  # the next pass: about twice the last clean run
        else:
            start, span = stop, min(CHUNK, 2 * span)


def _run_symbol_loop(st: SymbolState, idx: np.ndarray, seq: np.ndarray, ts: np.ndarray,
                     price: np.ndarray, rules: Rules, verdicts: list) -> None:
    """The same decisions tick by tick, the median read from the sorted window, the state's
    fields held in locals for the run and written back once (:meth:`SymbolState.accept`
    inlined)."""
    late_ns, pct = rules.late_ns, rules.max_dev_pct
    seqs, window, ordered = st.seqs, st.window, st.ordered
    newest, accepted, top = st.newest_ts, st.accepted, st.max_seq
    add, push = seqs.add, window.append
    for i, s, t, p in zip(idx.tolist(), seq.tolist(), ts.tolist(), price.tolist()):
        if s in seqs:
            verdicts[i] = "duplicate"
            continue
        if newest is not None and newest - t > late_ns:
            verdicts[i] = "late"
            continue
        if accepted >= MIN_ACCEPTED:
            h = len(ordered) >> 1
            m = ordered[h] if len(ordered) & 1 else (ordered[h - 1] + ordered[h]) / 2
            if abs(p - m) * 100.0 > pct * m:
                verdicts[i] = "outlier"
                continue
        add(s)
        if top is None or s > top:
            top = s
        if newest is None or t > newest:
            newest = t
        if len(window) == WINDOW:  # the deque drops its oldest: so must the sorted copy
            del ordered[bisect_left(ordered, window[0])]
        push(p)
        insort(ordered, p)
        accepted += 1
    st.newest_ts, st.accepted, st.max_seq = newest, accepted, top


KERNEL_MIN = 64  # a symbol's run this long or longer goes to the kernel under "auto"


def _run_symbol_auto(st: SymbolState, idx: np.ndarray, seq: np.ndarray, ts: np.ndarray,
                     price: np.ndarray, rules: Rules, verdicts: list) -> None:
    """The kernel for a long run, the loop for a short one (the kernel's fixed cost per call,
    handing the state in and out, is more than the loop spends on a few dozen ticks)."""
    if idx.size >= KERNEL_MIN:
        run_symbol_kernel(st, idx, seq, ts, price, rules, verdicts)
    else:
        _run_symbol_loop(st, idx, seq, ts, price, rules, verdicts)


METHODS = {"loop": _run_symbol_loop, "numpy": _run_symbol, "kernel": run_symbol_kernel,
           "auto": _run_symbol_auto}
DEFAULT_METHOD = "auto" if HAVE_NUMBA else "loop"


def clean_batch(lines: Sequence[int], raws: Sequence[bytes], states: dict[str, SymbolState],
                rules: Rules | None = None, *, method: str = DEFAULT_METHOD) -> CleanBatch:
    """Clean one batch of source lines (``lines[i]`` is the line number of ``raws[i]``)."""
    rules = rules or Rules()
    run_symbol = METHODS[method]
    pb = parse_batch(raws)
    n = len(raws)
    verdicts: list[str | None] = [None] * n
    nonpos = pb.ok & ((pb.price <= 0) | (pb.size <= 0))
    for i in np.flatnonzero(~pb.ok).tolist():
        verdicts[i] = "malformed"
    for i in np.flatnonzero(nonpos).tolist():
        verdicts[i] = "nonpositive"
    keep = np.flatnonzero(pb.ok & ~nonpos)
    keys, inv = np.unique(pb.symbol[keep], return_inverse=True)
    names = [k.decode("ascii") for k in keys.tolist()]
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(names) + 1))
    for g in np.argsort(order[bounds[:-1]], kind="stable").tolist():  # by first appearance
        k = keep[order[bounds[g]:bounds[g + 1]]]
        st = states.get(names[g])
        if st is None:
            st = states[names[g]] = SymbolState()
        run_symbol(st, k, pb.seq[k], pb.ts_ns[k], pb.price[k], rules, verdicts)
    acc = np.fromiter((v is None for v in verdicts), dtype=bool, count=n)
    line_arr = np.asarray(lines, dtype=np.int64)
    rejected = [dead_letter(int(line_arr[i]), raws[i], v) for i, v in enumerate(verdicts)
                if v is not None]
    code = np.zeros(n, dtype=np.uint32)
    code[keep] = inv
    return CleanBatch(line_arr[acc], pb.seq[acc], pb.ts_ns[acc], pb.price[acc], pb.size[acc],
                      names, code[acc], rejected)


def split_by_partition(b: CleanBatch, lines: np.ndarray, parts: np.ndarray
                       ) -> dict[int, CleanBatch]:
    """``b`` (cleaned from source lines ``lines``, line ``lines[i]`` of partition ``parts[i]``)
    cut into one batch per partition: what a worker that cleaned several messages in one call
    hands to the sink, one delivery per partition."""
    order = np.argsort(lines, kind="stable")
    sorted_lines, sorted_parts = lines[order], parts[order]
    acc_part = sorted_parts[np.searchsorted(sorted_lines, b.line)]
    rej_part = sorted_parts[np.searchsorted(sorted_lines, [d.line for d in b.rejected])] \
        if b.rejected else np.zeros(0, dtype=parts.dtype)
    out = {}
    for p in np.unique(parts).tolist():
        rej = [d for d, q in zip(b.rejected, rej_part.tolist()) if q == p]
        out[p] = b.take(acc_part == p, rej)
    return out
