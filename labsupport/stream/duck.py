"""DuckDB as an alternative sink: the same exactly-once commit as one SQL transaction.

Where the tick store needs the high-water marks smuggled into its WAL record (it has no
transactions across series), a database has them: one ``BEGIN ... COMMIT`` inserts the accepted
ticks, the dead letters and the new marks together, and DuckDB's write-ahead log makes the
commit durable before ``COMMIT`` returns. Tables in ``DIR/stream.duckdb``::

    ticks(line, symbol, seq, ts_ns, price, size)     dead_letters(line, seq, symbol, reason, raw)
    marks(partition PRIMARY KEY, line)

It has :class:`~.sink.StreamSink`'s interface (``hwm``, ``commit``, ``states``, ``close``), so
``Pipeline(..., sink=DuckSink)`` runs the same pipeline into it. DuckDB is a ``peers``
dependency: importing this module without it raises :class:`~.errors.SinkError` saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .clean import PARTITIONS, SymbolState, key_partition
from .errors import SinkError
from .sink import Delivery

try:
    import duckdb
except ImportError:  # pragma: no cover - the peers extra is not installed
    duckdb = None

__all__ = ["DuckSink", "FILE"]

FILE = "stream.duckdb"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (line BIGINT, symbol VARCHAR, seq BIGINT, ts_ns BIGINT,
                                  price DOUBLE, size BIGINT);
CREATE TABLE IF NOT EXISTS dead_letters (line BIGINT, seq VARCHAR, symbol VARCHAR,
                                         reason VARCHAR, raw VARCHAR);
CREATE TABLE IF NOT EXISTS marks (partition INTEGER PRIMARY KEY, line BIGINT);
"""


class DuckSink:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        if duckdb is None:
            raise SinkError("the DuckDB sink needs duckdb (pip install duckdb)")
        self.path = os.fspath(path)
        os.makedirs(self.path, exist_ok=True)
        self.con = duckdb.connect(os.path.join(self.path, FILE))
        self.con.execute(_SCHEMA)
        self.hwm = np.zeros(PARTITIONS, dtype=np.int64)
        for p, line in self.con.execute("SELECT partition, line FROM marks").fetchall():
            self.hwm[p] = line
        self.accepted = self.rejected = 0

    def commit(self, deliveries: Sequence[Delivery]) -> tuple[int, int]:
        """One transaction: ticks, dead letters and marks, or nothing."""
        frames, rows, marks = [], [], {}
        for d in deliveries:
            mark = max(int(self.hwm[d.partition]), marks.get(d.partition, 0))
            if d.last_line <= mark:
                continue
            b = d.batch
            new = b.line > mark
            frames.append(pd.DataFrame({
                "line": b.line[new], "symbol": np.array(b.names, dtype=object)[b.codes[new]],
                "seq": b.seq[new], "ts_ns": b.ts_ns[new], "price": b.price[new],
                "size": b.size[new]}))
            rows += [(r.line, r.seq, r.symbol, r.reason, r.raw) for r in b.rejected if r.line > mark]
            marks[d.partition] = d.last_line
        if not marks:
            return 0, 0
        ticks = pd.concat(frames) if frames else pd.DataFrame()
        con = self.con
        con.execute("BEGIN")
        try:
            if len(ticks):
                con.register("batch", ticks)
                con.execute("INSERT INTO ticks SELECT * FROM batch")
                con.unregister("batch")
            if rows:
                con.executemany("INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?)", rows)
            con.executemany("INSERT OR REPLACE INTO marks VALUES (?, ?)", list(marks.items()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for p, line in marks.items():
            self.hwm[p] = line
        self.accepted += len(ticks)
        self.rejected += len(rows)
        return len(ticks), len(rows)

    def states(self, partitions: Iterable[int] | None = None) -> dict[str, SymbolState]:
        want = set(range(PARTITIONS) if partitions is None else partitions)
        q = self.con.execute("SELECT symbol, seq, ts_ns, price FROM ticks ORDER BY line").df()
        out = {}
        for sym, g in q.groupby("symbol", sort=False):
            if key_partition(str(sym).encode()) in want:
                out[str(sym)] = SymbolState.from_accepted(g["seq"], g["ts_ns"], g["price"])
        return out

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(ticks by line, dead letters) as stored."""
        t = self.con.execute("SELECT * FROM ticks ORDER BY line").df()
        d = self.con.execute("SELECT seq, symbol, reason, raw FROM dead_letters").df()
        return t, d

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
