"""Command line: generate a stream and write it as CSV / Parquet, or print its statistics.

    python -m labsupport.marketdata --events 100000 --symbols 4 --seed 7 --csv events.csv
    python -m labsupport.marketdata --events 1000000 --parquet events.parquet --ticks ticks.parquet
    python -m labsupport.marketdata --events 50000 --stats

Errors (a bad parameter, an unwritable path) print one line on stderr and exit with status 2
(the convention of :mod:`labsupport.cli`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from ..cli import ArgumentParser, entry
from .config import MarketDataError, OrderFlowConfig
from .flow import generate_order_flow
from .io import write_events_csv, write_parquet
from .stats import flow_statistics


@entry("python -m labsupport.marketdata", input_errors=(MarketDataError,))
def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m labsupport.marketdata",
        description="Generate seeded synthetic order flow (NASDAQ TotalView-like) and its tape.",
    )
    parser.add_argument("--events", type=int, default=100_000, help="number of order events")
    parser.add_argument("--symbols", type=int, default=4, help="number of symbols")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    parser.add_argument("--rate", type=float, default=None, help="mean events per second")
    parser.add_argument("--csv", metavar="PATH", help="write the event CSV (Lab 02 format)")
    parser.add_argument("--parquet", metavar="PATH", help="write the events as Parquet")
    parser.add_argument("--trades", metavar="PATH", help="write the model's trades as Parquet")
    parser.add_argument("--quotes", metavar="PATH", help="write the model's quotes as Parquet")
    parser.add_argument("--ticks", metavar="PATH", help="write trade ticks as Parquet")
    parser.add_argument("--stats", action="store_true", help="print the statistics table")
    args = parser.parse_args(argv)

    extra = {} if args.rate is None else {"mean_rate_per_s": args.rate}
    cfg = OrderFlowConfig(n_events=args.events, n_symbols=args.symbols, seed=args.seed, **extra)
    t0 = time.perf_counter()
    flow = generate_order_flow(cfg)
    elapsed = time.perf_counter() - t0
    if args.csv:
        write_events_csv(flow, args.csv)
    outputs = {
        args.parquet: flow.events_frame,
        args.trades: flow.trades_frame,
        args.quotes: flow.quotes_frame,
        args.ticks: flow.ticks_frame,
    }
    for path, view in outputs.items():
        if path:
            write_parquet(view(), path)
    print(f"{flow!r} generated in {elapsed:.3f} s", file=sys.stderr)
    if args.stats:
        table = flow_statistics(flow).T
        print(table.to_string(float_format=lambda x: f"{x:,.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
