"""Command line of the stream processor.

    python -m labsupport.stream run --source TICKS.csv --transport zmq --db DIR [--workers N]
        [--late-ns NS] [--max-dev-pct P] [--broker URL] [--batch B] [--sink tsdb|duckdb]
    python -m labsupport.stream run --source replay:TICKS.csv ...   # at the recorded pace

``TICKS.csv`` has the header ``seq,ts_ns,symbol,price,size``; ``DIR`` is a tick store (read it
with ``python -m labsupport.tsdb query DIR --symbol S``) and ``DIR/dead_letters.csv`` holds the
rejects (``seq,symbol,reason,raw``); with ``--sink duckdb`` the same run goes into
``DIR/stream.duckdb`` instead (tables ``ticks``, ``dead_letters``, ``marks``). Running the same
command again adds nothing. A paced source (``replay:``) closes a batch when it is full or 1 ms
of recorded time after its first tick, whichever comes first. Without
``--broker``, Redis and RabbitMQ runs start their broker and stop it at the end. Prints one
summary line (and a progress bar on a terminal). The convention of ``labsupport.cli``: bad
arguments, a missing source and a bad header exit 2 with one line; anything else is a bug.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import cli
from .brokers import running_broker
from .clean import DEFAULT_LATE_NS, DEFAULT_MAX_DEV_PCT, PARTITIONS, Rules
from .errors import StreamError
from .pipeline import Pipeline
from .sink import StreamSink
from .source import DEFAULT_LINGER_NS, TickSource, parse_source_arg
from .transport import TRANSPORTS, TransportSpec

PROG = "python -m labsupport.stream"
SINKS = ("tsdb", "duckdb")


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise ValueError(text)
    return v


def _nonneg_float(text: str) -> float:
    v = float(text)
    if not v >= 0 or v == float("inf"):
        raise ValueError(text)
    return v


_positive_int.__name__ = "positive integer"
_nonneg_float.__name__ = "non-negative number"


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="stream a tick file into a tick store, exactly once")
    run.error = parser.error  # type: ignore[method-assign]  # one line, the convention's
    run.add_argument("--source", required=True, help="TICKS.csv, or replay:TICKS.csv (paced)")
    run.add_argument("--transport", choices=TRANSPORTS, default="zmq")
    run.add_argument("--db", required=True, help="the tick store directory (created if absent)")
    run.add_argument("--workers", type=_positive_int, default=2,
                     help=f"worker processes, 1..{PARTITIONS} (default 2)")
    run.add_argument("--late-ns", type=int, default=DEFAULT_LATE_NS,
                     help="a tick older than its symbol's newest by more is late (default 1 s)")
    run.add_argument("--max-dev-pct", type=_nonneg_float, default=DEFAULT_MAX_DEV_PCT,
                     help="outlier threshold, percent from the median of 20 (default 10)")
    run.add_argument("--broker", default=None, help="broker URL (default: start one)")
    run.add_argument("--batch", type=_positive_int, default=1000, help="ticks per message")
    run.add_argument("--sink", choices=SINKS, default="tsdb",
                     help="the tick store (default) or DuckDB (DIR/stream.duckdb)")
    return parser


def _progress_bar(total: int):
    if not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="tick", file=sys.stderr, leave=False)

    def update(p: Pipeline) -> None:
        r = p.result
        bar.n = r.accepted + r.rejected
        lag = " ".join(f"p{i}:{n}" for i, n in enumerate(p.lag()) if n)
        bar.set_postfix(lag=lag or "0", dead=dict(r.reasons), refresh=False)
        bar.refresh()

    return bar, update


def _duck_sink():
    from .duck import DuckSink  # imports duckdb, a peers dependency: only when asked for

    return DuckSink


@cli.entry(PROG, input_errors=(StreamError,))
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workers > PARTITIONS:
        parser.error(f"argument --workers: at most {PARTITIONS} (one per partition)")
    if args.late_ns < 0:
        parser.error("argument --late-ns: must be >= 0")
    path, paced = parse_source_arg(args.source)
    source = TickSource(path, batch=args.batch, linger_ns=DEFAULT_LINGER_NS if paced else None)
    sink = _duck_sink() if args.sink == "duckdb" else StreamSink
    rules = Rules(args.late_ns, args.max_dev_pct)
    with running_broker(args.transport, args.broker) as url:
        spec = TransportSpec(args.transport, url=url, workers=args.workers)
        bar, update = _progress_bar(len(source))
        try:
            r = Pipeline(source, args.db, spec, rules=rules, paced=paced, progress=update,
                         sink=sink).run()
        finally:
            if bar is not None:
                bar.close()
    reasons = " ".join(f"{k}={r.reasons[k]}" for k in sorted(r.reasons))
    print(f"{r.transport}: {r.ticks} new lines, {r.accepted} accepted, {r.rejected} dead letters"
          f"{' (' + reasons + ')' if reasons else ''}, {r.seconds:.2f} s, {r.rate:,.0f} ticks/s,"
          f" {r.restarts} worker restarts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
