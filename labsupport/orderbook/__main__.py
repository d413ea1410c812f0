"""Command line: ``python -m labsupport.orderbook replay EVENTS.csv --out DIR [--engine E]``.

Replays an event CSV through the matching engine and writes ``trades.csv``, ``rejects.csv``,
``depth.csv`` (the final book, every level) and ``pnl.csv`` into DIR, echoing order ids and
accounts exactly as the input gave them (``o1``, ``acc3``, ``12``). It follows the lab's one
command-line convention (:mod:`labsupport.cli`): a malformed row stops the replay with one line
``python -m labsupport.orderbook: error: FILE, line N, field F: what is wrong`` and exit status
2, and no output file is written; a bad option or a missing file also exits 2 with one line.
Business rejects are not errors, they go to ``rejects.csv``. ``--engine numba|cython`` replays
through Lab 11's compiled engines (:mod:`labsupport.fastbook`) instead of this lab's Python one
(the default): the same four files, byte for byte.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from labsupport import cli

from . import csvio
from .engine import MatchingEngine
from .levels import LADDERS
from .listener import Recorder
from .types import PRICE_SCALE, OrderBookError

PROG = "python -m labsupport.orderbook"


def fee_ticks(text: str) -> int | Fraction:
    """``--fee-per-share`` in currency -> ticks per share (an int when it is whole, which keeps
    the PnL arithmetic fast); argparse turns the ArgumentTypeError into a usage error."""
    try:
        ticks = Fraction(Decimal(text)) * PRICE_SCALE
    except (InvalidOperation, ValueError, OverflowError):  # "abc"; "NaN"; "Infinity"
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number") from None
    if ticks < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return int(ticks) if ticks.denominator == 1 else ticks


ENGINES = ("python", "numba", "cython")


def replay(events_path: Path, out_dir: Path, *, ladder: str = "sorted-list",
           fee_per_share: str | int | Fraction = 0, engine: str = "python") -> dict[str, int]:
    """Replay a file; returns counts. Raises EventFormatError (naming file, line and field) or
    OSError; nothing is written unless the whole file parsed. ``engine``: one of
    :data:`ENGINES` (the compiled ones ignore ``ladder``)."""
    fee = fee_ticks(fee_per_share) if isinstance(fee_per_share, str) else fee_per_share
    if engine == "python":
        rec = Recorder()
        eng = MatchingEngine(ladder=ladder, listener=rec, fee_per_share_ticks=fee)
        n = 0
        for n, event in enumerate(csvio.read_events_file(events_path), 1):  # noqa: B007
            eng.process(event)
        trades, rejects = rec.trades, rec.rejects
    else:
        from labsupport.fastbook import FastEngine

        eng = FastEngine(engine, fee_per_share_ticks=fee)
        rows = [(e.seq, e.symbol, e.action, e.order_id, e.side, e.type, e.price_ticks, e.qty,
                 e.account) for e in csvio.read_events_file(events_path)]
        n = eng.process_rows(rows)
        trades, rejects = eng.trades(), eng.rejects()
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "trades.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_trades(trades, f)
    with open(out_dir / "rejects.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_rejects(rejects, f)
    with open(out_dir / "depth.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_depth(eng, f)
    with open(out_dir / "pnl.csv", "w", encoding="utf-8", newline="") as f:
        csvio.write_pnl(eng, f)
    return {"events": n, "trades": len(trades), "rejects": len(rejects),
            "live_orders": eng.live_order_count}


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description="Limit order book and matching engine "
                                "(Lab 02).")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="replay an event CSV and write trades/rejects/depth/pnl",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("events", type=Path, help="event CSV (seq,symbol,action,order_id,...)")
    rp.add_argument("--out", type=Path, required=True, help="output directory (created)")
    rp.add_argument("--ladder", choices=sorted(LADDERS), default="sorted-list",
                    help="price-level structure (default: sorted-list)")
    rp.add_argument("--fee-per-share", type=fee_ticks, default=0, metavar="CURRENCY",
                    help="fee charged to both sides per share, in currency (e.g. 0.001; default 0)")
    rp.add_argument("--engine", choices=ENGINES, default="python",
                    help="matching engine: this lab's Python one (default) or Lab 11's "
                    "compiled numba / cython one")
    return parser


def _engine_errors() -> tuple[type[BaseException], ...]:
    """The compiled engines' errors (an unbuilt extension says how to build it, exit 2)."""
    from labsupport.fastbook import FastBookError

    return (FastBookError,)


@cli.entry(PROG, input_errors=(OrderBookError, *_engine_errors()))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = replay(args.events, args.out, ladder=args.ladder, fee_per_share=args.fee_per_share,
                    engine=args.engine)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
