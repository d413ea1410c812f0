"""Command line of the tick store: ingest, query, bars, stats, compact.

    python -m labsupport.tsdb ingest DB FILE.csv          # CSV ts,symbol,price,size (ts in ns)
    python -m labsupport.tsdb query DB --symbol S --start NS --end NS
    python -m labsupport.tsdb bars DB --symbol S --start NS --end NS --interval 10s
    python -m labsupport.tsdb stats DB
    python -m labsupport.tsdb compact DB

Output is CSV on stdout; errors are one line on stderr and a non-zero exit.
``ingest`` prints the count only after the data is flushed to a segment and synced.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys

import numpy as np
import pandas as pd

from .db import TickDB
from .errors import TsdbError

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


class CliError(Exception):
    """A problem with the command's input, reported as one line."""


def parse_interval(text: str) -> int:
    """'10s' -> 10_000_000_000; units ns, us, ms, s, m, h, d."""
    m = re.fullmatch(r"(\d+)(ns|us|ms|s|m|h|d)", text.strip())
    if not m or int(m.group(1)) == 0:
        raise CliError(
            f"bad interval {text!r}: use a positive integer and a unit (ns us ms s m h d), e.g. 10s"
        )
    return int(m.group(1)) * _UNITS[m.group(2)]


def _first_bad_line(path: str) -> str:
    """Find the first CSV row that does not parse, for an actionable message."""
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if lineno == 1:
                continue
            if len(row) != 4:
                return f"line {lineno}: expected 4 fields ts,symbol,price,size, got {len(row)}"
            try:
                int(row[0])
            except ValueError:
                return f"line {lineno}: ts {row[0]!r} is not an integer number of ns"
            try:
                float(row[2])
            except ValueError:
                return f"line {lineno}: price {row[2]!r} is not a number"
            try:
                int(row[3])
            except ValueError:
                return f"line {lineno}: size {row[3]!r} is not an integer"
    return "unreadable CSV"


def ingest(db_path: str, csv_path: str, chunk_rows: int = 1_000_000) -> int:
    with open(csv_path, newline="") as f:
        head = f.readline().strip().split(",")
    if head != HEADER:
        raise CliError(
            f"{csv_path}: line 1: header must be {','.join(HEADER)}, got {','.join(head)}"
        )
    dtypes = {"ts": np.int64, "symbol": str, "price": np.float64, "size": np.int64}
    total = 0
    with TickDB(db_path, fsync="none") as db:
        try:
            for chunk in pd.read_csv(
                csv_path, dtype=dtypes, chunksize=chunk_rows, keep_default_na=False
            ):
                if chunk["symbol"].eq("").any():
                    raise CliError(
                        f"{csv_path}: empty symbol near row {total + int(chunk['symbol'].eq('').argmax()) + 2}"
                    )
                db.write(chunk["ts"].to_numpy(), chunk["symbol"].to_numpy(), price=chunk["price"].to_numpy(),
                         size=chunk["size"].to_numpy())  # fmt: skip
                total += len(chunk)
        except (ValueError, pd.errors.ParserError):
            raise CliError(f"{csv_path}: {_first_bad_line(csv_path)}") from None
        db.flush()  # segment written, fsync'ed and renamed; WAL synced on close
    return total


def cmd_query(args) -> None:
    with TickDB(args.db) as db:
        out = sys.stdout
        out.write(",".join(HEADER) + "\n")
        for c in db.iter_query(args.symbol, args.start, args.end):
            df = pd.DataFrame(
                {"ts": c["ts"], "symbol": args.symbol, "price": c["price"], "size": c["size"]}
            )
            df.to_csv(out, header=False, index=False, lineterminator="\n")


def cmd_bars(args) -> None:
    with TickDB(args.db) as db:
        bars = db.bars(args.symbol, args.start, args.end, parse_interval(args.interval))
    cols = BAR_HEADER + (["vwap"] if args.vwap else [])
    bars[cols].to_csv(sys.stdout, index=False, lineterminator="\n")


def cmd_stats(args) -> None:
    with TickDB(args.db) as db:
        s = db.stats()
    print("points,segments,bytes_on_disk,bytes_per_point")
    print(f"{s['points']},{s['segments']},{s['bytes_on_disk']},{s['bytes_per_point']:.3f}")


def cmd_compact(args) -> None:
    with TickDB(args.db) as db:
        before = len(db.segments)
        db.flush()
        db.compact(full=True)
        print(f"compacted {before} segments into {len(db.segments)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m labsupport.tsdb", description="Tick store: LSM + Gorilla compression."
    )
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "ingest":
            n = ingest(args.db, args.csv)
            print(n)
        else:
            {"query": cmd_query, "bars": cmd_bars, "stats": cmd_stats, "compact": cmd_compact}[
                args.cmd
            ](args)
    except (CliError, TsdbError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
