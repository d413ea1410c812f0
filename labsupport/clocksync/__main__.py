"""``python -m labsupport.clocksync``: simulate PTP-lite or NTP, or run a master and slaves on UDP.

    simulate --protocol ptp|ntp --seed S --duration-s D [--timestamping hw|sw] [--ppm X]
             [--jitter-ns J] [--asymmetry-ns A] [--sync-rate-hz R] --out DIR
    master   --port P [--sync-rate-hz R] [--duration-s D] [--timestamps auto|kernel|rx|user]
             [--no-warm-up]
    slave    --master 127.0.0.1:P [--ppm X] [--offset-ns O] [--duration-s D] [--out FILE]
             [--timestamps auto|kernel|rx|user]

``simulate`` writes ``DIR/offsets.csv`` (one row per completed exchange) and ``DIR/summary.txt``
and prints the summary. ``master`` prints ``listening on 127.0.0.1:PORT`` once bound (port 0
picks a free one), then the timestamping mode. ``slave`` prints one CSV row per exchange (or
writes them to ``--out``) and the summary of its true offset and its timestamping mode at the
end. ``--timestamps``: ``kernel`` (transmit and receive, ``SO_TIMESTAMPING``), ``rx`` (receive
only), ``user`` (none), ``auto`` the best this kernel grants.
"""

from __future__ import annotations

import contextlib
import csv
import sys
from pathlib import Path

from .. import cli
from .errors import ClockSyncError
from .real import RealStats, parse_hostport, run_slave, serve_master
from .simulation import CSV_HEADER, Scenario, run, write_csv
from .stamps import MODES
from .summary import summarize

PROG = "python -m labsupport.clocksync"


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="a seeded simulation to the nanosecond")
    s.add_argument("--protocol", choices=("ptp", "ntp"), default="ptp")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--duration-s", type=float, default=60.0)
    s.add_argument("--timestamping", choices=("hw", "sw"), default="hw")
    s.add_argument("--ppm", type=float, default=20.0, help="slave oscillator frequency error")
    s.add_argument("--jitter-ns", type=float, default=1000.0,
                   help="mean exponential queueing delay per direction")
    s.add_argument("--asymmetry-ns", type=int, default=0,
                   help="extra master-to-slave base delay")
    s.add_argument("--sync-rate-hz", type=float, default=16.0, help="PTP Sync rate")
    s.add_argument("--out", required=True, help="output folder (created if missing)")
    m = sub.add_parser("master", help="a PTP-lite master on 127.0.0.1")
    m.add_argument("--port", type=int, default=0)
    m.add_argument("--sync-rate-hz", type=float, default=16.0)
    m.add_argument("--duration-s", type=float, default=None, help="stop after (default: never)")
    m.add_argument("--timestamps", choices=("auto", *MODES), default="auto")
    m.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                   help="send each Sync straight after the timer's wakeup")
    sl = sub.add_parser("slave", help="a PTP-lite slave steering a virtual clock")
    sl.add_argument("--master", required=True, help="127.0.0.1:PORT")
    sl.add_argument("--ppm", type=float, default=50.0, help="frequency error to start with")
    sl.add_argument("--offset-ns", type=int, default=1_000_000, help="offset to start with")
    sl.add_argument("--duration-s", type=float, default=10.0)
    sl.add_argument("--out", default=None, help="CSV file for the rows (default: stdout)")
    sl.add_argument("--timestamps", choices=("auto", *MODES), default="auto")
    return p


def _simulate(args) -> int:
    sc = Scenario(protocol=args.protocol, seed=args.seed, duration_s=args.duration_s,
                  timestamping=args.timestamping, ppm=args.ppm, jitter_ns=args.jitter_ns,
                  asymmetry_ns=args.asymmetry_ns, sync_rate_hz=args.sync_rate_hz)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in run(sc) if r.slave == "slave1"]
    write_csv(rows, out / "offsets.csv")
    summary = summarize([r.t_s for r in rows], [r.true_offset_ns for r in rows])
    text = "\n".join(summary.lines()) + "\n"
    (out / "summary.txt").write_text(text)
    sys.stdout.write(text)
    return 0


def _slave(args) -> int:
    master = parse_hostport(args.master)
    with contextlib.ExitStack() as stack:
        f = stack.enter_context(open(args.out, "w", newline="")) if args.out else sys.stdout
        w = csv.writer(f)
        w.writerow(CSV_HEADER)

        def row(r) -> None:
            w.writerow([f"{r.t_s:.6f}", r.true_offset_ns, f"{r.estimated_offset_ns:.1f}",
                        f"{r.freq_adj_ppb:.3f}", f"{r.path_delay_ns:.1f}"])
            f.flush()

        stats = RealStats()
        rows = run_slave(master, ppm=args.ppm, offset_ns=args.offset_ns,
                         duration_s=args.duration_s, timestamps=args.timestamps, on_row=row,
                         stats=stats)
    summary = summarize([r.t_s for r in rows], [r.true_offset_ns for r in rows])
    lines = [*summary.lines(), f"timestamps: {stats.timestamps}, {stats.tx_fallbacks} transmit "
             "stamps from the program"]
    print("\n".join(f"# {line}" for line in lines), flush=True)
    return 0


@cli.entry(PROG, input_errors=(ClockSyncError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "master":
        if not 0 <= args.port < 65536:
            raise cli.InputError(f"--port {args.port}: not a port number")
        def ready(port: int, mode: str) -> None:
            print(f"listening on 127.0.0.1:{port}\ntimestamps: {mode}", flush=True)

        serve_master(args.port, sync_rate_hz=args.sync_rate_hz, duration_s=args.duration_s,
                     timestamps=args.timestamps, warm_up=args.warm_up, on_ready=ready)
        return 0
    return _slave(args)


if __name__ == "__main__":
    sys.exit(main())
