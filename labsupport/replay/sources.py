"""Sources: every recorded feed behind one interface, an iterable of ``(timestamp_ns, message)``.

What it mirrors: a replay tool's readers (tcpreplay reads pcap, kdb+ tickerplant replay reads
its log, vendors' "market replay" read their tick archive). Here:

* :class:`ItchSource`: a NASDAQ TotalView-ITCH 5.0 file (Lab 13's framed format, ``.gz`` too);
  the message is Lab 13's tuple ``(letter, locate, tracking, timestamp, *body)`` or, with
  ``raw=True``, the message's own bytes (what a UDP sink forwards without re-encoding).
  Timestamps are nanoseconds since midnight, as in the file.
* :class:`TickStoreSource`: a Lab 08 :class:`~labsupport.tsdb.TickDB` query of one or more
  symbols, merged in time order; the message is ``(symbol, *columns)``.
* :class:`FlowSource`: generated order flow (``labsupport.marketdata.generate_order_flow``); the
  message is the row Lab 02's ``MatchingEngine.process_rows`` takes, with the ticker as symbol.
* :class:`TickFrameSource`: ticks from ``labsupport.marketdata`` as a DataFrame, or a Parquet /
  CSV file of them (``ts_ns, symbol, price, size``); the message is ``(symbol, price, size)``.

A damaged ITCH file yields every message before the damage, then raises :class:`SourceError`
with the byte offset (Lab 13's parser stops exactly there). :func:`ordered` applies an
out-of-order policy to any of them (see its docstring) and counts what it did.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocols.itch.parser import ItchError, iter_tuples, read_itch_file
from .errors import OutOfOrderError, ReplayError, SourceError

__all__ = ["ItchSource", "FlowSource", "TickStoreSource", "TickFrameSource", "OrderStats", "ordered", "open_source",
           "POLICIES"]

POLICIES = ("error", "clamp", "reorder")


class ItchSource:
    """The messages of an ITCH 5.0 file or buffer with their timestamps, in file order."""

    def __init__(self, data: bytes | str | Path, *, raw: bool = False, name: str | None = None) -> None:
        if isinstance(data, (str, Path)):
            self.name = name or str(data)
            try:
                self.data = read_itch_file(data)
            except ItchError as exc:
                raise SourceError(exc.reason, file=self.name) from None
        else:
            self.name, self.data = name, bytes(data)
        self.raw = raw

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        data, n = self.data, 0
        try:
            if not self.raw:
                for t in iter_tuples(data):
                    n += 1
                    yield t[3], t
            else:
                # Frame with the parser (which validates), then slice: same messages, as bytes.
                pos = 0
                for t in iter_tuples(data):
                    ln = (data[pos] << 8) | data[pos + 1]
                    n += 1
                    yield t[3], data[pos + 2:pos + 2 + ln]
                    pos += 2 + ln
        except ItchError as exc:
            raise SourceError(exc.reason, file=self.name, offset=exc.offset, delivered=n) from None


class FlowSource:
    """Events of a generated order flow as Lab 02 engine rows ``(seq, symbol, action, order_id,
    side, type, price_ticks, qty, account)``, stamped with their ``ts_ns``."""

    def __init__(self, flow: Any) -> None:
        ev = flow.events
        rows = ev[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks", "qty",
                   "account"]].tolist()
        syms = flow.symbols
        self.ts = ev["ts_ns"].tolist()
        self.rows = [(r[0], syms[r[1]], *r[2:]) for r in rows]

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return zip(self.ts, self.rows)


class TickStoreSource:
    """Points of a Lab 08 tick store, several symbols merged by timestamp (ties: symbol order)."""

    def __init__(self, db: Any, symbols: Iterable[str], start_ns: int | None = None,
                 end_ns: int | None = None) -> None:
        self.db, self.symbols = db, list(symbols)
        self.start_ns, self.end_ns = start_ns, end_ns

    def _one(self, symbol: str) -> Iterator[tuple[int, Any]]:
        kw = {}
        if self.start_ns is not None:
            kw["start_ns"] = self.start_ns
        if self.end_ns is not None:
            kw["end_ns"] = self.end_ns
        names = list(self.db.column_names)
        for chunk in self.db.iter_query(symbol, **kw):
            cols = [chunk[c].tolist() for c in names]
            for i, ts in enumerate(chunk["ts"].tolist()):
                yield ts, (symbol, *(c[i] for c in cols))

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return heapq.merge(*(self._one(s) for s in self.symbols), key=lambda e: e[0])


class TickFrameSource:
    """Rows ``ts_ns, symbol, price, size`` of a DataFrame, a Parquet file or a CSV file, in row order."""

    COLUMNS = ("ts_ns", "symbol", "price", "size")

    def __init__(self, frame_or_path: Any) -> None:
        import pandas as pd

        if isinstance(frame_or_path, (str, Path)):
            path = Path(frame_or_path)
            self.name = str(path)
            try:
                frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            except (ValueError, pd.errors.ParserError) as exc:
                raise SourceError(f"not a tick table ({' '.join(str(exc).split())})", file=self.name) from None
        else:
            self.name, frame = None, frame_or_path
        missing = [c for c in self.COLUMNS if c not in frame.columns]
        if missing:
            raise SourceError(f"tick table lacks column(s) {missing}", file=self.name)
        self.ts = frame["ts_ns"].astype("int64").tolist()
        self.rows = list(zip(frame["symbol"].astype(str).tolist(), frame["price"].tolist(),
                             frame["size"].tolist()))

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return zip(self.ts, self.rows)


def open_source(path: str | Path, *, raw: bool = False) -> ItchSource | TickFrameSource:
    """The source a file name calls for: ``.parquet`` / ``.csv`` ticks, anything else ITCH."""
    suffix = Path(path).suffix
    if suffix in (".parquet", ".csv"):
        return TickFrameSource(path)
    return ItchSource(path, raw=raw)


@dataclass
class OrderStats:
    """What :func:`ordered` saw and did."""

    messages: int = 0
    out_of_order: int = 0  # timestamps earlier than the latest one seen so far
    clamped: int = 0  # released with the previous timestamp instead of their own
    reordered: int = 0  # released in timestamp order, earlier than their file position
    max_backstep_ns: int = 0


def ordered(events: Iterable[tuple[int, Any]], policy: str = "error", *, window: int = 64,
            stats: OrderStats | None = None) -> Iterator[tuple[int, Any]]:
    """Apply an out-of-order policy to ``(ts, msg)`` pairs; what was done is counted in ``stats``.

    * ``error``: raise :class:`OutOfOrderError` on the first timestamp before the previous one;
    * ``clamp``: send it anyway, stamped with the previous timestamp (sent "now", in file order);
    * ``reorder``: hold up to ``window`` messages in a heap and release the earliest, so a message
      at most ``window`` places late is put back in time order; one later than that is clamped.
    """
    if policy not in POLICIES:
        raise ReplayError(f"unknown out-of-order policy {policy!r} (expected one of {POLICIES})")
    st = stats if stats is not None else OrderStats()
    high = None  # latest timestamp seen
    if policy != "reorder":
        for ts, msg in events:
            st.messages += 1
            if high is not None and ts < high:
                st.out_of_order += 1
                st.max_backstep_ns = max(st.max_backstep_ns, high - ts)
                if policy == "error":
                    raise OutOfOrderError(st.messages - 1, ts, high)
                st.clamped += 1
                ts = high
            high = ts
            yield ts, msg
        return
    if window < 1:
        raise ReplayError(f"reorder window must be at least 1 message, got {window}")
    heap: list[tuple[int, int, Any]] = []
    last_out = None
    for i, (ts, msg) in enumerate(events):
        st.messages += 1
        if high is not None and ts < high:
            st.out_of_order += 1
            st.max_backstep_ns = max(st.max_backstep_ns, high - ts)
        high = ts if high is None else max(high, ts)
        heapq.heappush(heap, (ts, i, msg))
        if len(heap) > window:
            last_out = yield from _release(heap, last_out, st)
    while heap:
        last_out = yield from _release(heap, last_out, st)
    # A late message released without clamping went out before a message that preceded it.
    st.reordered = st.out_of_order - st.clamped


def _release(heap: list, last_out: int | None, st: OrderStats) -> Iterator[tuple[int, Any]]:
    ts, _, msg = heapq.heappop(heap)
    if last_out is not None and ts < last_out:  # later than the window: too late to reorder
        st.clamped += 1
        ts = last_out
    yield ts, msg
    return ts
