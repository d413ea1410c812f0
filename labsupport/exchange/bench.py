"""Benchmark: the exchange as services and as a monolith, under the same bot load.

``python -m labsupport.exchange.bench [--orders N] [--rate R] [--subscribers N]`` starts each
venue in processes of its own (never in this process: the bots are here), then measures:

- ``sustained``: offered far above capacity (open loop), the acknowledgement rate the venue
  keeps up (orders through gateway, risk and matching, each answered by an ExecutionReport);
- ``at R/s``: order-to-ack p50/p99 as the clients see it at R orders/s offered (default 5 000),
  with the venue's per-hop p99 (gateway -> risk, risk, risk -> matching, matching, back);
- ``fan-out``: N subscribers (default 1, 10, 50) on the L2 feed; divergences from the
  matcher's book (must be 0) and publish-to-receive latency.

The table is printed and written as JSON (``build/bench/exchange.json``). Targets (2 cores):
20 k orders/s sustained, p99 <= 1 ms at 5 k/s, 0 divergences. While it runs, a line on stderr
says which phase it is in and, every few seconds, how far a long wait has got; a wait that
passes its deadline ends the run with an error naming what it was waiting for.
"""

from __future__ import annotations

import sys
import time

from .. import cli
from ..measure import BenchReport, scaled
from . import runs
from .matching import DEFAULT_ENGINE, ENGINES
from .session import ExchangeError

PROG = "python -m labsupport.exchange.bench"


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=scaled(2_000, 20_000, 100_000))
    p.add_argument("--rate", type=float, default=5_000.0, help="offered orders/s for the p99")
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--subscribers", default=scaled("1,10", "1,10,50"),
                   help="comma-separated subscriber counts for the fan-out")
    p.add_argument("--modes", default="services,monolith")
    p.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE,
                   help=f"the matchers' engine (default {DEFAULT_ENGINE})")
    return p


@cli.entry(PROG, input_errors=(ExchangeError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = BenchReport("exchange")
    t0 = time.monotonic()

    def say(line: str) -> None:  # progress on stderr; the table alone goes to stdout
        print(f"[bench {time.monotonic() - t0:5.0f} s] {line}", file=sys.stderr, flush=True)

    for mode in args.modes.split(","):
        say(f"{mode}: starting the venue")
        with runs.start(mode, engine=args.engine) as venue:
            say(f"{mode}: sustained, {args.orders} orders offered at once")
            top = runs.load(venue, 1e6, args.orders, args.sessions, progress=say)
            report.add(f"{mode}: sustained", section="throughput", offered_per_s="max",
                       acks_per_s=top["acks_per_s"], acks=top["acks"], fills=top["fills"])
            say(f"{mode}: {args.orders} orders at {args.rate:.0f}/s")
            at = runs.load(venue, args.rate, args.orders, args.sessions, seed=1, progress=say)
            hops = {f"{k} p99_us": v["p99_us"] for k, v in at["hops"].items()}
            report.add(f"{mode}: at {args.rate:.0f}/s", section="latency",
                       acks_per_s=at["acks_per_s"], ack_p50_us=at["ack_p50_us"],
                       ack_p99_us=at["ack_p99_us"], **hops)
            for n in (int(x) for x in args.subscribers.split(",")):
                say(f"{mode}: fan-out to {n} subscribers")
                f = runs.fanout(venue, n, max(200, args.orders // 4), progress=say)
                report.add(f"{mode}: {n} subscribers", section="fan-out", **{
                    k: v for k, v in f.items() if k != "subscribers"})
    report.print()
    print(f"written to {report.write()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
