"""What a run should have produced and what it did: the check behind "exactly once".

:func:`expected` runs the per-tick reference over the source; :func:`stored` reads the tick
store and the dead-letter file back; both give the same two tables (accepted ticks keyed by
their source line; dead letters as text), so a test or a notebook cell compares them with one
``equals``. :func:`checksum` folds a table into one number (CRC-32 of its CSV form) for the
"counts and a checksum against the source" a crash test reports.
"""

from __future__ import annotations

import os
import zlib

import pandas as pd

from ..tsdb import TickDB
from .clean import Rules, clean_reference
from .sink import COLUMNS, DEAD_LETTERS, META
from .source import TickSource

__all__ = ["ACCEPTED", "expected", "stored", "checksum", "same", "sort_dead_letters"]

ACCEPTED = ["line", "symbol", "seq", "ts_ns", "price", "size"]
_DL = ["seq", "symbol", "reason", "raw"]


def expected(source: str | os.PathLike[str], rules: Rules | None = None
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted, dead letters) the reference computes for the whole source."""
    src = TickSource(source)
    acc, rej = clean_reference(zip(src.lines.tolist(), src.raws), rules)
    a = pd.DataFrame([(ln, t.symbol, t.seq, t.ts_ns, t.price, t.size) for ln, t in acc],
                     columns=ACCEPTED)
    d = pd.DataFrame([(r.seq, r.symbol, r.reason, r.raw) for r in rej], columns=_DL, dtype=str)
    return _norm(a), sort_dead_letters(d)


def stored(db: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accepted, dead letters) as the store and ``dead_letters.csv`` hold them."""
    frames = []
    with TickDB(os.fspath(db), columns=COLUMNS) as t:
        for s in t.symbols():
            if s != META:
                q = t.query(s, frame=True)
                frames.append(q.rename(columns={"ts": "ts_ns"}))
    a = pd.concat(frames) if frames else pd.DataFrame(columns=ACCEPTED)
    d = pd.read_csv(os.path.join(db, DEAD_LETTERS), dtype=str, keep_default_na=False)
    return _norm(a[ACCEPTED]), sort_dead_letters(d)


def _norm(a: pd.DataFrame) -> pd.DataFrame:
    a = a.astype({"line": "int64", "seq": "int64", "ts_ns": "int64", "price": "float64",
                  "size": "int64", "symbol": str})
    return a.sort_values("line").reset_index(drop=True)


def sort_dead_letters(d: pd.DataFrame) -> pd.DataFrame:
    return d[_DL].sort_values(_DL).reset_index(drop=True)


def checksum(frame: pd.DataFrame) -> int:
    """CRC-32 of the table's CSV text (rows in their order)."""
    return zlib.crc32(frame.to_csv(index=False).encode("utf-8", "surrogateescape"))


def same(a: tuple[pd.DataFrame, pd.DataFrame], b: tuple[pd.DataFrame, pd.DataFrame]) -> bool:
    return a[0].equals(b[0]) and a[1].equals(b[1])
