"""Command line of the risk engine (Lab 06).

``python -m labsupport.risk run EVENTS.csv --limits LIMITS.toml --out DIR``
    Feeds an event CSV (``seq,ts_ns,kind,account,symbol,side,qty,price,order_id``) through
    the engine and writes ``decisions.csv``, ``alerts.csv``, ``metrics.csv`` and
    ``timeline.csv`` into DIR. A malformed row stops the run with one line naming the file,
    its line number (the header is line 1) and the field, exit status 2, and nothing written.

``python -m labsupport.risk gen --events N --seed S --out EVENTS.csv [--limits LIMITS.toml]``
    Writes a seeded synthetic stream (and a limits file to go with it).

``python -m labsupport.risk serve --limits LIMITS.toml``
    Consumes event rows from a ZeroMQ PULL socket and publishes decisions and alerts on a PUB
    socket; both bind OS-assigned ports on 127.0.0.1, reported on stdout as one line
    ``events tcp://... publish tcp://...``. Runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labsupport import cli

from .engine import RiskEngine
from .events import RiskError, write_events
from .gen import FlowSpec, generate, limits_toml
from .report import run_files

PROG = "python -m labsupport.risk"


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return n


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description="Real-time risk engine (Lab 06).")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("run", help="run an event CSV through the engine, write four CSVs",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("events", type=Path, help="event CSV")
    rp.add_argument("--limits", type=Path, required=True, help="limits TOML")
    rp.add_argument("--out", type=Path, required=True, help="output directory (created)")
    gp = sub.add_parser("gen", help="write a seeded synthetic event stream")
    gp.add_argument("--events", type=_positive, default=10_000, help="number of events")
    gp.add_argument("--accounts", type=_positive, default=5)
    gp.add_argument("--symbols", type=_positive, default=10)
    gp.add_argument("--seed", type=int, default=0)
    gp.add_argument("--out", type=Path, required=True, help="event CSV to write")
    gp.add_argument("--limits", type=Path, help="also write a limits TOML for this flow")
    sp = sub.add_parser("serve", help="check events from a ZeroMQ socket, publish results")
    sp.add_argument("--limits", type=Path, required=True, help="limits TOML")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    return parser


@cli.entry(PROG, input_errors=(RiskError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        counts = run_files(args.events, args.limits, args.out)
        print(json.dumps(counts))
    elif args.command == "gen":
        # Closed loop: only orders the engine accepts with these limits come back filled.
        limits = limits_toml()
        events = generate(args.events, FlowSpec(accounts=args.accounts, symbols=args.symbols),
                          seed=args.seed, engine=RiskEngine(limits, clock=lambda: 0))
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            write_events(events, f)
        if args.limits is not None:
            args.limits.write_text(limits, encoding="utf-8")
        print(f"wrote {len(events)} events to {args.out}")
    else:
        from .serve import serve_forever  # pyzmq is only needed here

        serve_forever(args.limits, host=args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
