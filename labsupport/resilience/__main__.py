"""``python -m labsupport.resilience``: the fault matrix in simulation, or the workflow for real.

::

    python -m labsupport.resilience simulate --runs 600 --seed 0 --faults all --out out/
    python -m labsupport.resilience simulate --runs 50 --faults crash --sabotage no-journal --out o/
    python -m labsupport.resilience live --faults kill-oms,delay --duration 4 --out live/

``simulate`` writes ``DIR/matrix.csv`` (``fault,component,runs,violations``: runs with at least
one violation), ``DIR/violations.jsonl`` (one line per violation: seed, fault, component,
invariant, message, the explanation with its excerpt and replay command) and
``DIR/summary.txt``; it prints the summary and the first violation's explanation. Both commands
exit 0 when no invariant was violated, 1 otherwise (2 for bad usage, as every lab's CLI).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from labsupport import cli

from .checker import explain
from .errors import ResilienceError
from .nemesis import COMPONENTS, parse_components, parse_faults
from .scenario import SABOTAGE, run_matrix, summary_rows

PROG = "python -m labsupport.resilience"


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="seeded runs of the fault matrix, checked")
    sim.add_argument("--runs", type=int, required=True, help="number of seeded runs")
    sim.add_argument("--seed", type=int, default=0, help="seed of the first run (default 0)")
    sim.add_argument("--faults", default="all", help="all, or a comma-separated list")
    sim.add_argument("--components", default="all",
                     help=f"all, or a comma-separated list of {', '.join(COMPONENTS)}")
    sim.add_argument("--sabotage", choices=SABOTAGE, help="break one mechanism on purpose")
    sim.add_argument("--out", required=True, type=Path, help="output directory")
    live = sub.add_parser("live", help="real processes, the fault proxy, kill -9 and SIGSTOP")
    live.add_argument("--faults", default="kill-oms,delay",
                      help="comma-separated: kill-oms, kill-exchange, stop-oms, delay, cut, "
                           "kill-switch (default kill-oms,delay)")
    live.add_argument("--duration", type=float, default=4.0, help="seconds of trading")
    live.add_argument("--seed", type=int, default=0)
    live.add_argument("--out", required=True, type=Path, help="output directory")
    for p in (parser, sim, live):
        p.error = parser.error  # type: ignore[method-assign]  # one error line, from PROG
    return parser


def simulate(args) -> int:
    if args.runs < 1:
        raise ResilienceError(f"--runs {args.runs}: at least one run")
    faults, components = parse_faults(args.faults), parse_components(args.components)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results, first = [], None
    with open(args.out / "violations.jsonl", "w") as vio:
        for r in run_matrix(args.runs, args.seed, faults, components, args.sabotage):
            results.append(r)
            for v in r.violations:
                vio.write(json.dumps({"seed": r.spec.seed, "fault": r.spec.fault,
                                      "component": r.spec.component, "sabotage": args.sabotage,
                                      **v.as_dict(), "explain": explain(r.history, v),
                                      "replay": r.history.meta["replay"]}) + "\n")
            if r.violations and first is None:
                first = r
    wall = time.perf_counter() - t0
    rows = summary_rows(results)
    with open(args.out / "matrix.csv", "w") as f:
        f.write("fault,component,runs,violations\n")
        for (fault, comp), (n, bad) in rows.items():
            f.write(f"{fault},{comp},{n},{bad}\n")
    bad_runs = sum(bad for _n, bad in rows.values())
    sim_s = sum((r.spec.trade_ns + r.spec.settle_ns) / 1e9 for r in results)
    summary = (f"{len(results)} runs, {len(rows)} cells ({len(faults)} faults x "
               f"{len(components)} components), sabotage {args.sabotage or 'none'}: "
               f"{bad_runs} runs with violations; {sim_s:.1f} s simulated in {wall:.1f} s "
               f"({sim_s / wall:.0f}x real time)")
    (args.out / "summary.txt").write_text(summary + "\n")
    print(summary)
    if first is not None:
        print(explain(first.history, first.violations[0]))
    return 1 if bad_runs else 0


@cli.entry(PROG, input_errors=(ResilienceError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate":
        return simulate(args)
    from .live import run_live
    return run_live(args.faults, args.duration, args.out, seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
