"""The cleaning rules, one tick at a time: the reference every faster version is checked against.

Each tick of a symbol passes five checks in this order; the first that fails is the reason it is
rejected and written to the dead-letter file (``seq,symbol,reason,raw``):

============  ====================================================================================
reason        rejected when
============  ====================================================================================
malformed     the line is not 5 comma-separated fields or a field does not parse (seq, ts_ns and
              size are decimal int64; symbol is 1-32 of ``A-Z a-z 0-9 . _ / -``; price a finite
              decimal). Bytes that are not UTF-8 are malformed too: the regex is over bytes.
nonpositive   price <= 0 or size <= 0
duplicate     the pair (symbol, seq) was already *accepted* (a duplicate of a reject is not one)
late          ts_ns is older than the symbol's newest accepted ts_ns by more than ``late_ns``
outlier       at least 5 ticks of the symbol are accepted, and price is more than ``max_dev_pct``
              percent away from ``numpy.median`` of its last (up to) 20 accepted prices, taken in
              arrival order: ``abs(price - m) * 100 > max_dev_pct * m``
============  ====================================================================================

Theory of operation: the only state is per symbol and is made of *accepted* ticks only (the set
of accepted seqs, the newest accepted ts_ns, the last 20 accepted prices and how many were
accepted), so rejects never change a later decision and the state can be rebuilt from what the
tick store holds (:meth:`SymbolState.from_accepted`). This is what lets a restarted worker carry
on exactly where the committed store ends. ``vector.py`` computes the same verdicts a batch at a
time with numpy; the tests hold the two equal on arbitrary streams.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["HEADER", "REASONS", "DEFAULT_LATE_NS", "DEFAULT_MAX_DEV_PCT", "WINDOW", "MIN_ACCEPTED",
           "PARTITIONS", "Tick", "DeadLetter", "Rules", "SymbolState", "parse", "dead_letter",
           "partition_of", "key_partition", "is_outlier", "verdict", "Cleaner", "clean_reference"]

HEADER = b"seq,ts_ns,symbol,price,size"
REASONS = ("malformed", "nonpositive", "duplicate", "late", "outlier")
DEFAULT_LATE_NS = 1_000_000_000
DEFAULT_MAX_DEV_PCT = 10.0
WINDOW = 20  # prices in the median
MIN_ACCEPTED = 5  # accepted ticks before the outlier rule applies
PARTITIONS = 16  # fixed, like a Kafka topic's: the high-water marks are kept per partition
_I64 = 1 << 63

_LINE = re.compile(
    rb"(-?[0-9]{1,19}),(-?[0-9]{1,19}),([A-Za-z0-9._/-]{1,32}),"
    rb"(-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?),(-?[0-9]{1,19})")


@dataclass(frozen=True, slots=True)
class Tick:
    seq: int
    ts_ns: int
    symbol: str
    price: float
    size: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected line: where it was in the source (``line``), why, and its bytes as text."""

    line: int
    seq: str
    symbol: str
    reason: str
    raw: str

    def __reduce__(self):  # pickled as its fields: 10x faster than a frozen dataclass's default
        return DeadLetter, (self.line, self.seq, self.symbol, self.reason, self.raw)


@dataclass(frozen=True, slots=True)
class Rules:
    late_ns: int = DEFAULT_LATE_NS
    max_dev_pct: float = DEFAULT_MAX_DEV_PCT


def parse(raw: bytes) -> Tick | None:
    """The tick on one line (no newline), or None if it is malformed."""
    m = _LINE.fullmatch(raw)
    if m is None:
        return None
    seq, ts, size = int(m[1]), int(m[2]), int(m[5])
    price = float(m[4])
    if not (-_I64 <= seq < _I64 and -_I64 <= ts < _I64 and -_I64 <= size < _I64):
        return None
    if price in (float("inf"), float("-inf")):  # 1e999: parses, but not as a finite price
        return None
    return Tick(seq, ts, m[3].decode("ascii"), price, size)


def dead_letter(line: int, raw: bytes, reason: str) -> DeadLetter:
    """The dead-letter row of ``raw``: seq and symbol as far as the line has them, as text."""
    fields = raw.split(b",")
    text = [f.decode("utf-8", "backslashreplace") for f in fields[:3]]
    return DeadLetter(line, text[0], text[2] if len(text) > 2 else "", reason,
                      raw.decode("utf-8", "backslashreplace"))


def key_partition(key: bytes, partitions: int = PARTITIONS) -> int:
    """The partition of a symbol (as bytes): a stable hash, the same in every process and run."""
    return zlib.crc32(key) % partitions


def partition_of(raw: bytes, partitions: int = PARTITIONS) -> int:
    """Keyed partitioning: every line with the same symbol field lands on the same partition."""
    fields = raw.split(b",", 3)
    return key_partition(fields[2] if len(fields) > 2 else b"", partitions)


@dataclass(slots=True)
class SymbolState:
    """What the rules remember of one symbol: made of accepted ticks only.

    ``ordered`` is ``window`` kept sorted (bisect in, bisect out) so the fast path reads the
    median in O(1): the middle element, or the mean of the two middle ones, ``(a + b) / 2``,
    which is exactly what ``numpy.median`` computes for a finite window.
    """

    seqs: set[int] = field(default_factory=set)
    newest_ts: int | None = None
    window: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    accepted: int = 0
    max_seq: int | None = None  # max(seqs): a seq above it cannot be a duplicate
    ordered: list[float] = field(default_factory=list)

    def accept(self, seq: int, ts_ns: int, price: float) -> None:
        self.seqs.add(seq)
        if self.max_seq is None or seq > self.max_seq:
            self.max_seq = seq
        if self.newest_ts is None or ts_ns > self.newest_ts:
            self.newest_ts = ts_ns
        self._push(price)
        self.accepted += 1

    def _push(self, price: float) -> None:
        if len(self.window) == WINDOW:  # the deque drops its oldest: so must the sorted copy
            del self.ordered[bisect.bisect_left(self.ordered, self.window[0])]
        self.window.append(price)
        bisect.insort(self.ordered, price)

    def median(self) -> float:
        o, n = self.ordered, len(self.ordered)
        return o[n // 2] if n % 2 else (o[n // 2 - 1] + o[n // 2]) / 2

    def accept_many(self, seqs: list[int], newest_ts: int, prices: list[float]) -> None:
        """:meth:`accept` for a run of ticks at once (``newest_ts``: the largest of theirs)."""
        if not seqs:
            return
        self.seqs.update(seqs)
        top = max(seqs)
        if self.max_seq is None or top > self.max_seq:
            self.max_seq = top
        if self.newest_ts is None or newest_ts > self.newest_ts:
            self.newest_ts = newest_ts
        for p in prices[-WINDOW:]:
            self._push(p)
        self.accepted += len(seqs)

    @classmethod
    def from_accepted(cls, seq: Iterable[int], ts_ns: Iterable[int], price: Iterable[float]
                      ) -> SymbolState:
        """Rebuild the state from accepted ticks given in arrival order (e.g. from the store)."""
        st = cls()
        for s, t, p in zip(seq, ts_ns, price):
            st.accept(int(s), int(t), float(p))
        return st


def verdict(st: SymbolState, t: Tick, rules: Rules) -> str | None:
    """The reason ``t`` is rejected given its symbol's state, or None: the stateful rules."""
    if t.price <= 0 or t.size <= 0:
        return "nonpositive"
    if t.seq in st.seqs:
        return "duplicate"
    if st.newest_ts is not None and st.newest_ts - t.ts_ns > rules.late_ns:
        return "late"
    if is_outlier(st.window, st.accepted, t.price, rules.max_dev_pct):
        return "outlier"
    return None


def is_outlier(window: Iterable[float], accepted: int, price: float, max_dev_pct: float) -> bool:
    """The outlier rule: ``window`` holds the last (up to 20) accepted prices, ``accepted``
    how many were accepted in all."""
    if accepted < MIN_ACCEPTED:
        return False
    m = float(np.median(np.asarray(list(window), dtype=np.float64)))
    return abs(price - m) * 100.0 > max_dev_pct * m


class Cleaner:
    """The per-tick reference: ``push`` one source line, get the tick or its dead letter."""

    def __init__(self, rules: Rules | None = None,
                 states: dict[str, SymbolState] | None = None) -> None:
        self.rules = rules or Rules()
        self.states: dict[str, SymbolState] = states if states is not None else {}

    def push(self, line: int, raw: bytes) -> tuple[int, Tick] | DeadLetter:
        t = parse(raw)
        if t is None:
            return dead_letter(line, raw, "malformed")
        st = self.states.get(t.symbol)
        if st is None:
            st = self.states[t.symbol] = SymbolState()
        reason = verdict(st, t, self.rules)
        if reason is not None:
            return dead_letter(line, raw, reason)
        st.accept(t.seq, t.ts_ns, t.price)
        return line, t


def clean_reference(lines: Iterable[tuple[int, bytes]], rules: Rules | None = None
                    ) -> tuple[list[tuple[int, Tick]], list[DeadLetter]]:
    """Every line through one :class:`Cleaner`: (accepted (line, tick) pairs, dead letters)."""
    c = Cleaner(rules)
    accepted: list[tuple[int, Tick]] = []
    rejected: list[DeadLetter] = []
    for line, raw in lines:
        out = c.push(line, raw)
        (rejected if isinstance(out, DeadLetter) else accepted).append(out)
    return accepted, rejected
