"""python -m labsupport.exchange up|down|status|serve: run the microservice exchange.

    python -m labsupport.exchange up --dir DIR [--symbols A,B,C] [--matchers N] [--mode services|monolith]
                                 [--engine lab02|lab11]
    python -m labsupport.exchange status --dir DIR
    python -m labsupport.exchange down --dir DIR
    python -m labsupport.exchange plan --dir DIR [--symbols ...] [--matchers N]   (containers)

``up`` starts every service under the supervisor, writes DIR/ports.json (fix, md_zmq, md_udp,
rpc) and runs in the foreground until ``down`` or SIGTERM. ``serve ROLE`` is what the
supervisor runs for each service.
"""

from __future__ import annotations

import json
from pathlib import Path

from labsupport import cli
from labsupport.risk import RiskError
from labsupport.services import ServiceError

from .matching import DEFAULT_ENGINE, ENGINES
from .session import ExchangeError

PROG = "python -m labsupport.exchange"


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="start the exchange and run until down or SIGTERM")
    u.add_argument("--dir", required=True, type=Path, help="run directory (logs, ports.json)")
    u.add_argument("--symbols", default="AAPL,MSFT,GOOG",
                   help="comma-separated symbols (default AAPL,MSFT,GOOG)")
    u.add_argument("--matchers", type=int, default=1, help="matching processes (default 1)")
    u.add_argument("--mode", choices=("services", "monolith"), default="services",
                   help="separate processes (default) or one process with in-memory queues")
    u.add_argument("--limits", type=Path, help="Lab 06 risk limits TOML (default: generous)")
    u.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                   help=f"matching engine: Lab 02's or Lab 11's (default {DEFAULT_ENGINE})")
    for name, text in (("down", "stop the exchange running in DIR"),
                       ("status", "show each service of the exchange in DIR")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--dir", required=True, type=Path)
    s = sub.add_parser("plan", help="only write DIR/wiring.json and DIR/ports.json (containers)")
    s.add_argument("--dir", required=True, type=Path)
    s.add_argument("--symbols", default="AAPL,MSFT,GOOG")
    s.add_argument("--matchers", type=int, default=1)
    s.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE)
    s = sub.add_parser("serve", help="run one service (what the supervisor starts)")
    s.add_argument("role")
    s.add_argument("--dir", required=True, type=Path)
    return p


@cli.entry(PROG, input_errors=(ExchangeError, RiskError, ServiceError))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "up":
        from .system import up

        symbols = [s for s in args.symbols.split(",") if s]
        limits = None
        if args.limits is not None:
            from labsupport.risk import parse_limits

            limits = args.limits.read_text(encoding="utf-8")
            parse_limits(limits)  # a bad file fails here, before anything starts
        kw = {"limits": limits} if limits is not None else {}
        return up(args.dir, symbols, args.matchers, args.mode, engine=args.engine, **kw)
    if args.command == "down":
        from .system import down

        n = down(args.dir)
        print(f"exchange down: {n} process{'es' if n != 1 else ''} stopped")
        return 0
    if args.command == "status":
        from .system import status

        for row in status(args.dir):
            print(json.dumps(row, sort_keys=True))
        return 0
    if args.command == "plan":
        from .system import plan

        plan(args.dir.resolve(), [s for s in args.symbols.split(",") if s], args.matchers,
             engine=args.engine)
        print((args.dir / "ports.json").read_text(encoding="utf-8"))
        return 0
    from .node import serve

    return serve(args.role, args.dir)


if __name__ == "__main__":
    raise SystemExit(main())
