"""Command line: ``python -m labsupport.orderbook replay EVENTS.csv --out DIR``.

Replays an event CSV through the matching engine and writes ``trades.csv``, ``rejects.csv``,
``depth.csv`` (the final book, every level) and ``pnl.csv`` into DIR. A malformed row stops
the replay with ``FILE:LINE: what is wrong`` on stderr and exit status 2, and no output file is
written; business rejects are not errors, they go to ``rejects.csv``.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from . import csvio
from .engine import MatchingEngine
from .levels import LADDERS
from .listener import Recorder
from .types import PRICE_SCALE, EventFormatError


def replay(events_path: Path, out_dir: Path, *, ladder: str = "sorted-list",
           fee_per_share: str = "0") -> dict[str, int]:
    """Replay a file; returns counts. Raises EventFormatError / OSError."""
    try:
        fee_ticks = Fraction(Decimal(fee_per_share)) * PRICE_SCALE
    except InvalidOperation:
        raise ValueError(f"--fee-per-share {fee_per_share!r} is not a decimal number") from None
    if fee_ticks < 0:
        raise ValueError("--fee-per-share must not be negative")
    if fee_ticks.denominator == 1:
        fee_ticks = int(fee_ticks)  # ints keep the PnL arithmetic fast
    rec = Recorder()
    engine = MatchingEngine(ladder=ladder, listener=rec, fee_per_share_ticks=fee_ticks)
    n = 0
    with open(events_path, encoding="utf-8", newline="") as f:
        for event in csvio.read_events(f):
            engine.process(event)
            n += 1
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "trades.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_trades(rec.trades, f)
    with open(out_dir / "rejects.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_rejects(rec.rejects, f)
    with open(out_dir / "depth.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_depth(engine, f)
    with open(out_dir / "pnl.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_pnl(engine, f)
    return {"events": n, "trades": len(rec.trades), "rejects": len(rec.rejects),
            "live_orders": engine.live_order_count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labsupport.orderbook",
        description="Limit order book and matching engine (Lab 02).")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="replay an event CSV and write trades/rejects/depth/pnl",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("events", type=Path, help="event CSV (seq,symbol,action,order_id,...)")
    rp.add_argument("--out", type=Path, required=True, help="output directory (created)")
    rp.add_argument("--ladder", choices=sorted(LADDERS), default="sorted-list",
                    help="price-level structure (default: sorted-list)")
    rp.add_argument("--fee-per-share", default="0",
                    help="fee charged to both sides per share, in currency (e.g. 0.001; default 0)")
    args = parser.parse_args(argv)
    try:
        counts = replay(args.events, args.out, ladder=args.ladder, fee_per_share=args.fee_per_share)
    except EventFormatError as exc:
        print(f"error: {args.events}:{exc.line}: {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
