"""Command line of the tick store: ingest, query, bars, stats, compact.

    python -m labsupport.tsdb ingest DB FILE.csv          # CSV ts,symbol,price,size (ts in ns)
    python -m labsupport.tsdb query DB --symbol S --start NS --end NS
    python -m labsupport.tsdb bars DB --symbol S --start NS --end NS --interval 10s
    python -m labsupport.tsdb stats DB
    python -m labsupport.tsdb compact DB

Output is CSV on stdout. ``ingest`` prints the count only after the data is flushed to a
segment and synced. The convention of ``labsupport.cli``: a bad argument, a missing file or
directory and malformed input (a CSV row, naming its file, line and field; a corrupt segment,
naming its file and block) exit 2 with one line on stderr; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import csv
import errno
import os
import re
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import cli
from .db import TickDB
from .errors import BadInputError, TsdbError

PROG = "python -m labsupport.tsdb"

HEADER = ["ts", "symbol", "price", "size"]
BAR_HEADER = ["start", "open", "high", "low", "close", "volume", "count"]
_UNITS = {
    "ns": 1,
    "us": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
}


def parse_interval(text: str) -> int:
    """'10s' -> 10_000_000_000; units ns, us, ms, s, m, h, d."""
    m = re.fullmatch(r"(\d+)(ns|us|ms|s|m|h|d)", text.strip())
    if not m or int(m.group(1)) == 0:
        raise BadInputError(
            f"bad interval {text!r}: use a positive integer and a unit (ns us ms s m h d), e.g. 10s"
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


_INT64 = (-(2**63), 2**63 - 1)


def _first_bad_line(path: str) -> str:
    """Find the first CSV row that does not parse, for an actionable message."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if lineno == 1:
                continue
            where = f"{path}, line {lineno}"
            if len(row) != 4:
                return f"{where}: expected 4 fields ts,symbol,price,size, got {len(row)}"
            try:
                if not _INT64[0] <= int(row[0]) <= _INT64[1]:
                    return f"{where}, field ts: {row[0]} does not fit a signed 64-bit integer"
            except ValueError:
                return f"{where}, field ts: {row[0]!r} is not an integer number of ns"
            try:
                float(row[2])
            except ValueError:
                return f"{where}, field price: {row[2]!r} is not a number"
            try:
                if not _INT64[0] <= int(row[3]) <= _INT64[1]:
                    return f"{where}, field size: {row[3]} does not fit a signed 64-bit integer"
            except ValueError:
                return f"{where}, field size: {row[3]!r} is not an integer"
    return f"{path}: not a CSV of ts,symbol,price,size"


def ingest(db_path: str, csv_path: str, chunk_rows: int = 1_000_000) -> int:
    """Load a CSV into the store; returns the number of rows, once they are in a synced segment."""
    with open(csv_path, newline="", encoding="utf-8", errors="replace") as f:
        head = f.readline().strip().split(",")
    if head != HEADER:
        raise BadInputError(
            f"{csv_path}, line 1: header must be {','.join(HEADER)}, got {','.join(head)[:80]}"
        )
    dtypes = {"ts": np.int64, "symbol": str, "price": np.float64, "size": np.int64}
    total = 0
    with TickDB(db_path, fsync="none") as db:
        try:
            for chunk in pd.read_csv(
                csv_path, dtype=dtypes, chunksize=chunk_rows, keep_default_na=False
            ):
                empty = chunk["symbol"].eq("")
                if empty.any():
                    line = total + int(empty.argmax()) + 2
                    raise BadInputError(f"{csv_path}, line {line}, field symbol: empty")
                db.write(chunk["ts"].to_numpy(), chunk["symbol"].to_numpy(), price=chunk["price"].to_numpy(),
                         size=chunk["size"].to_numpy())  # fmt: skip
                total += len(chunk)
        except (ValueError, OverflowError, pd.errors.ParserError) as exc:
            if isinstance(exc, TsdbError):  # a schema or codec error of ours: already says where
                raise
            raise BadInputError(_first_bad_line(csv_path)) from None
        db.flush()  # segment written, fsync'ed and renamed; WAL synced on close
    return total


def _existing(db_path: str) -> str:
    """Reading commands never create a database: a missing directory is an error."""
    if not os.path.isdir(db_path):
        raise FileNotFoundError(errno.ENOENT, "no such tick store directory", db_path)
    return db_path


def cmd_query(args) -> None:
    with TickDB(_existing(args.db)) as db:
        out = sys.stdout
        out.write(",".join(HEADER) + "\n")
        for c in db.iter_query(args.symbol, args.start, args.end):
            df = pd.DataFrame(
                {"ts": c["ts"], "symbol": args.symbol, "price": c["price"], "size": c["size"]}
            )
            df.to_csv(out, header=False, index=False, lineterminator="\n")


def cmd_bars(args) -> None:
    with TickDB(_existing(args.db)) as db:
        bars = db.bars(args.symbol, args.start, args.end, parse_interval(args.interval))
    cols = BAR_HEADER + (["vwap"] if args.vwap else [])
    bars[cols].to_csv(sys.stdout, index=False, lineterminator="\n")


def cmd_stats(args) -> None:
    with TickDB(_existing(args.db)) as db:
        s = db.stats()
    print("points,segments,bytes_on_disk,bytes_per_point")
    print(f"{s['points']},{s['segments']},{s['bytes_on_disk']},{s['bytes_per_point']:.3f}")


def cmd_compact(args) -> None:
    with TickDB(_existing(args.db)) as db:
        before = len(db.segments)
        db.flush()
        db.compact(full=True)
        print(f"compacted {before} segments into {len(db.segments)}")


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description="Tick store: LSM + Gorilla compression.")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser(
        "ingest", help="load CSV ts,symbol,price,size (ts integer ns); prints the count"
    )
    a.add_argument("db")
    a.add_argument("csv")
    for name, helptext in (("query", "CSV ts,symbol,price,size in time order"),
                           ("bars", "CSV start,open,high,low,close,volume,count")):  # fmt: skip
        q = sub.add_parser(name, help=helptext)
        q.add_argument("db")
        q.add_argument("--symbol", required=True)
        q.add_argument("--start", type=int, required=True, help="inclusive, ns since the epoch")
        q.add_argument("--end", type=int, required=True, help="exclusive, ns since the epoch")
        if name == "bars":
            q.add_argument("--interval", required=True, help="bucket width, e.g. 500ms, 10s, 1m")
            q.add_argument("--vwap", action="store_true", help="add a vwap column")
    sub.add_parser("stats", help="points, segments, bytes on disk, bytes per point").add_argument(
        "db"
    )
    sub.add_parser("compact", help="flush and merge every segment into one").add_argument("db")
    return p


COMMANDS = {"query": cmd_query, "bars": cmd_bars, "stats": cmd_stats, "compact": cmd_compact}


@cli.entry(PROG, input_errors=(TsdbError,))
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "ingest":
        print(ingest(args.db, args.csv))
    else:
        COMMANDS[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
