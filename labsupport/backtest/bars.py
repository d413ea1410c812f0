"""Bars: one symbol's OHLCV series as numpy columns, checked once on the way in.

A :class:`Bars` is what every engine reads: ``ts_ns`` (bar start, integer epoch nanoseconds,
strictly increasing), ``open``, ``high``, ``low``, ``close`` (float64, currency units) and
``volume``. It mirrors a backtrader data feed or a backtesting.py DataFrame, without the
framework around it: plain arrays, so the vectorised path indexes them directly and a Dask
task pickles them cheaply.

Theory of operation
-------------------
:func:`bars_from_frame` is the single gate between the outside world and the engines. It
parses ``ts`` (ISO 8601 text, any UTC offset, or integer epoch ns), splits the rows by
``symbol`` and rejects, naming the file, the line and the column:

- a missing column (``ts,symbol,open,high,low,close,volume``; ``symbol`` may come from the
  file name instead),
- a timestamp that does not parse, or one that is not after the previous bar of the same
  symbol (unsorted or duplicate),
- a NaN or non-positive price, a NaN or negative volume, a bar whose high is below its low or
  whose open/close lie outside [low, high].

Gaps (a missing minute, a night, a weekend) are not errors: a bar series is the bars that
traded, and every engine steps from one bar to the next one present, as backtrader does.
:func:`resample_ticks` folds time-ordered tick chunks into bars with Lab 08's
:func:`~labsupport.tsdb.fold_bars`, one chunk at a time, so ticks never need to fit in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..tsdb import fold_bars
from .errors import DataError

BAR_FIELDS = ("ts", "symbol", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """One symbol's bars; arrays of equal length, ``ts_ns`` strictly increasing."""

    symbol: str
    ts_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.ts_ns.size)

    def __repr__(self) -> str:
        if not len(self):
            return f"Bars({self.symbol!r}, empty)"
        a, b = (pd.Timestamp(int(t), tz="UTC") for t in (self.ts_ns[0], self.ts_ns[-1]))
        return f"Bars({self.symbol!r}, {len(self)} bars, {a:%Y-%m-%d %H:%M} .. {b:%Y-%m-%d %H:%M})"

    def slice(self, start: int, stop: int) -> Bars:
        """Bars ``start:stop`` (by position), e.g. an in-sample and an out-of-sample half."""
        return Bars(self.symbol, *(a[start:stop] for a in self.columns()))

    def columns(self) -> tuple[np.ndarray, ...]:
        return (self.ts_ns, self.open, self.high, self.low, self.close, self.volume)

    def frame(self) -> pd.DataFrame:
        """A DataFrame indexed by UTC time, columns Open High Low Close Volume (the peers' shape)."""
        return pd.DataFrame({"Open": self.open, "High": self.high, "Low": self.low,
                             "Close": self.close, "Volume": self.volume},
                            index=pd.to_datetime(self.ts_ns, utc=True).tz_localize(None))


def parse_ts(values: pd.Series, where: str) -> np.ndarray:
    """Epoch ns from integer ns or ISO 8601 text; a bad value names its line."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(np.int64)
    text = values.astype(str)
    is_int = text.str.fullmatch(r"-?\d+").to_numpy()
    if is_int.all():
        return text.astype(np.int64).to_numpy()
    if is_int[0]:  # epoch ns from the first row on: the first row that is not an integer is wrong
        i = int((~is_int).argmax())
        raise DataError(f"{where}, line {i + 2}, column ts: {text.iloc[i]!r} is not integer epoch "
                        "nanoseconds (as the first row is)")
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError(f"{where}, line {i + 2}, column ts: {text.iloc[i]!r} is neither ISO 8601 "
                        "nor integer epoch nanoseconds")
    return parsed.dt.tz_convert(None).to_numpy("datetime64[ns]").astype(np.int64)


def _check_series(symbol: str, cols: dict[str, np.ndarray], lines: np.ndarray, where: str) -> None:
    ts = cols["ts"]
    back = np.flatnonzero(np.diff(ts) <= 0)
    if back.size:
        i = int(back[0]) + 1
        kind = "duplicate" if ts[i] == ts[i - 1] else "unsorted"
        raise DataError(f"{where}, line {lines[i]}, column ts: {kind} timestamp for {symbol} "
                        f"({pd.Timestamp(int(ts[i]), tz='UTC')} after "
                        f"{pd.Timestamp(int(ts[i - 1]), tz='UTC')}); sort the bars by time")
    for name in (*PRICES, "volume"):
        v = cols[name]
        bad = ~np.isfinite(v) | ((v <= 0) if name != "volume" else (v < 0))
        if bad.any():
            i = int(bad.argmax())
            what = "NaN" if np.isnan(v[i]) else f"{v[i]!r}"
            need = "a finite price above 0" if name != "volume" else "a finite volume >= 0"
            raise DataError(f"{where}, line {lines[i]}, column {name}: {what} ({symbol}); need {need}")
    lo, hi = cols["low"], cols["high"]
    bad = (hi < lo) | (cols["open"] < lo) | (cols["open"] > hi) | (cols["close"] < lo) | (cols["close"] > hi)
    if bad.any():
        i = int(bad.argmax())
        raise DataError(f"{where}, line {lines[i]}: bar of {symbol} is not consistent "
                        f"(open {cols['open'][i]}, high {hi[i]}, low {lo[i]}, close {cols['close'][i]})")


def bars_from_frame(df: pd.DataFrame, where: str = "bars", symbol: str | None = None) -> dict[str, Bars]:
    """Validate a frame of ``ts,symbol,open,high,low,close,volume`` and split it by symbol."""
    need = [c for c in BAR_FIELDS if not (c == "symbol" and symbol is not None)]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError(f"{where}: missing column {', '.join(missing)} (need {','.join(BAR_FIELDS)}; "
                        f"got {','.join(map(str, df.columns))[:80]})")
    ts = parse_ts(df["ts"], where)
    syms = np.full(len(df), symbol, dtype=object) if symbol is not None else df["symbol"].astype(str).to_numpy()
    lines = np.arange(2, len(df) + 2)
    cols = {}
    for name in (*PRICES, "volume"):
        v = pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64)
        bad = np.isnan(v) & df[name].notna().to_numpy()
        if bad.any():
            i = int(bad.argmax())
            raise DataError(f"{where}, line {i + 2}, column {name}: {df[name].iloc[i]!r} is not a number")
        cols[name] = v
    out: dict[str, Bars] = {}
    for s in sorted(set(syms)):
        m = syms == s
        part = {"ts": ts[m], **{k: v[m] for k, v in cols.items()}}
        _check_series(s, part, lines[m], where)
        out[s] = Bars(s, part["ts"], part["open"], part["high"], part["low"], part["close"], part["volume"])
    return out


def bars_from_fold(symbol: str, folded: pd.DataFrame) -> Bars:
    """Bars from Lab 08's fold_bars output (columns start, open, ..., volume)."""
    return Bars(symbol, folded["start"].to_numpy(np.int64),
                *(folded[c].to_numpy(np.float64) for c in (*PRICES, "volume")))


def resample_ticks(symbol: str, chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
                   interval_ns: int) -> Bars:
    """Bars of ``interval_ns`` from time-ordered (ts_ns, price, size) chunks, streamed.

    Each chunk is folded on its own by Lab 08's ``fold_bars`` (which copies its one part into
    compact arrays) and the bar cut by a chunk boundary is merged here. Folding all chunks in one
    ``fold_bars`` call would keep each chunk's tick-sized scratch buffers alive through the views
    it returns: 64 bytes per tick, the whole dataset again, measured by the out-of-core test.
    """
    cols = ("start", *PRICES, "volume")
    parts: list[dict[str, np.ndarray]] = []
    for chunk in _checked_ticks(symbol, chunks):
        folded = fold_bars(iter([chunk]), int(interval_ns))
        cur = {c: folded[c].to_numpy(np.int64 if c == "start" else np.float64).copy() for c in cols}
        if parts and parts[-1]["start"][-1] == cur["start"][0]:  # one bar cut by the chunk edge
            prev = parts[-1]
            cur["open"][0] = prev["open"][-1]
            cur["high"][0] = max(cur["high"][0], prev["high"][-1])
            cur["low"][0] = min(cur["low"][0], prev["low"][-1])
            cur["volume"][0] += prev["volume"][-1]
            parts[-1] = {c: v[:-1].copy() for c, v in prev.items()}
        parts.append(cur)
    out = {c: (np.concatenate([p[c] for p in parts]) if parts else np.zeros(0, np.int64 if c == "start"
                                                                             else np.float64))
           for c in cols}
    return Bars(symbol, out["start"], *(out[c] for c in (*PRICES, "volume")))


def _checked_ticks(symbol: str, chunks) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    last = None
    for ts, price, size in chunks:
        ts = np.asarray(ts, np.int64)
        price = np.asarray(price, np.float64)
        if ts.size == 0:
            continue
        back = np.flatnonzero(np.diff(ts) < 0)
        if last is not None and ts[0] < last:
            raise DataError(f"ticks of {symbol}: unsorted timestamp {int(ts[0])} after {last}")
        if back.size:
            i = int(back[0]) + 1
            raise DataError(f"ticks of {symbol}: unsorted timestamp {int(ts[i])} after {int(ts[i - 1])}")
        bad = ~np.isfinite(price) | (price <= 0)
        if bad.any():
            raise DataError(f"ticks of {symbol}: price {float(price[int(bad.argmax())])!r} at ts "
                            f"{int(ts[int(bad.argmax())])}; need a finite price above 0")
        last = int(ts[-1])
        yield ts, price, np.asarray(size, np.int64)
