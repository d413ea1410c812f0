"""Command line of the backtester: generate data, run one backtest, sweep parameters.

    python -m labsupport.backtest data --ticks N --symbols S --out DIR [--days D] [--seed K]
    python -m labsupport.backtest run --data DIR --strategy sma_cross --params fast=10,slow=30 \\
        [--size 100] [--fee-bps F] [--cash C] [--engine vector|event] [--bar 1m] --out OUT
    python -m labsupport.backtest sweep --data DIR --strategy sma_cross \\
        --grid fast=5:50:5,slow=20:200:10 [--workers N | --scheduler ADDR] [--backend dask|ray] \\
        --out OUT

``run`` writes ``OUT/trades.csv`` (symbol,entry_ts,entry_price,exit_ts,exit_price,qty,pnl; an
open trade has empty exit fields), ``OUT/equity.csv`` (ts,equity; one row per bar and symbol,
with a symbol column when there are several), ``OUT/stats.json`` and ``OUT/report.html``.
``sweep`` writes ``OUT/results.csv`` (one row per symbol and parameter set) and
``OUT/report.html``, with a progress bar over tasks on a terminal; ``--backend ray`` runs the
same tasks on a local Ray of ``--workers`` CPUs (the ``heavy`` extra) instead of a Dask
``LocalCluster``. The convention of
``labsupport.cli``: bad arguments, bad data (naming file, line, column) and I/O errors exit 2
with one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

from .. import cli
from .costs import Costs
from .engine import EventEngine
from .errors import BacktestError, ParamError
from .sources import generate_dataset, load_bars
from .stats import compute_stats
from .strategies import STRATEGIES, make_strategy, parse_params
from .vector import VectorEngine

PROG = "python -m labsupport.backtest"
_UNITS = {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86_400 * 10**9}


def parse_bar(text: str) -> int:
    m = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not m or int(m.group(1)) == 0:
        raise ParamError(f"--bar {text!r}: use a positive number and a unit s, m, h or d (e.g. 1m)")
    return int(m.group(1)) * _UNITS[m.group(2)]


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog=PROG, description="Backtests over bars and ticks, serial or on Dask.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="write generated ticks as Parquet partitioned by symbol and day")
    d.add_argument("--ticks", type=int, required=True)
    d.add_argument("--symbols", type=int, default=4)
    d.add_argument("--days", type=int, default=20)
    d.add_argument("--seed", type=int, default=12)
    d.add_argument("--out", required=True)
    for name, helptext in (("run", "one backtest per symbol"), ("sweep", "a parameter grid on Dask")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--data", required=True, help="bars.csv, one CSV per symbol, or partitioned Parquet")
        s.add_argument("--strategy", required=True, choices=sorted(STRATEGIES))
        s.add_argument("--size", type=float, default=100)
        s.add_argument("--fee-bps", type=float, default=0.0)
        s.add_argument("--cash", type=float, default=100_000.0)
        s.add_argument("--bar", default="1m", help="bar length when the data are ticks (default 1m)")
        s.add_argument("--out", required=True)
    r = sub.choices["run"]
    r.add_argument("--params", default="", help="e.g. fast=10,slow=30")
    r.add_argument("--engine", choices=["vector", "event"], default="vector")
    r.add_argument("--slippage-bps", type=float, default=0.0)
    r.add_argument("--latency-ms", type=float, default=0.0, help="order latency (event engine)")
    w = sub.choices["sweep"]
    w.add_argument("--grid", required=True, help="e.g. fast=5:50:5,slow=20:200:10 (stop inclusive)")
    where = w.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="LocalCluster processes (0: in this process)")
    where.add_argument("--scheduler", help="address of a running scheduler, e.g. tcp://127.0.0.1:8786")
    w.add_argument("--backend", choices=["dask", "ray"], default="dask",
                   help="where --workers run: a Dask LocalCluster (default) or a local Ray")
    w.add_argument("--chunk", type=int, default=None, help="parameter sets per task")
    w.add_argument("--metric", default="sharpe")
    return p


def _out_dir(path: str) -> Path:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def cmd_data(args) -> None:
    summary = generate_dataset(args.out, args.ticks, args.symbols, args.days, args.seed)
    print(json.dumps(summary))


def cmd_run(args) -> None:
    from .report import run_report_html
    from .result import trades_csv_frame

    strategy = make_strategy(args.strategy, parse_params(args.params), args.size)
    costs = Costs(fee_bps=args.fee_bps, slippage_bps=args.slippage_bps)
    latency = int(args.latency_ms * 1e6)
    engine_cls = EventEngine if (args.engine == "event" or latency) else VectorEngine
    engine = engine_cls(cash=args.cash, costs=costs, latency_ns=latency)
    bars = load_bars(args.data, parse_bar(args.bar))
    out = _out_dir(args.out)
    results = [engine.run(strategy, b) for b in bars.values()]
    stats = [compute_stats(r) for r in results]
    import pandas as pd

    trades = pd.concat([trades_csv_frame(r.trades) for r in results], ignore_index=True)
    trades.to_csv(out / "trades.csv", index=False, lineterminator="\n")
    eq = [r.equity_frame().assign(symbol=r.symbol) for r in results]
    eq_cols = ["ts", "equity"] if len(results) == 1 else ["ts", "symbol", "equity"]
    pd.concat(eq, ignore_index=True)[eq_cols].to_csv(out / "equity.csv", index=False, lineterminator="\n")
    clean = {r.symbol: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in s.items()}
             for r, s in zip(results, stats)}
    meta = {"strategy": repr(strategy), "engine": engine.name, "cash": args.cash, "fee_bps": args.fee_bps,
            "size": args.size}
    (out / "stats.json").write_text(json.dumps({**meta, "symbols": clean}, indent=2) + "\n")
    (out / "report.html").write_text(run_report_html(results, stats), encoding="utf-8")
    for r, s in zip(results, stats):
        print(f"{r.symbol}: {len(r.trades)} trades, final equity {r.final_equity:,.2f}, "
              f"total return {s['total_return']:.2%}, sharpe {s['sharpe']:.2f}")


def cmd_sweep(args) -> None:
    from tqdm.auto import tqdm

    from .report import sweep_report_html
    from .sweep import local_client, make_tasks, parse_grid, run_sweep

    grid = parse_grid(args.grid)
    if args.workers is not None and args.workers < 0:
        raise ParamError(f"--workers must be >= 0, got {args.workers}")
    workers = args.workers if args.scheduler is None else 2
    tasks = make_tasks(args.data, args.strategy, grid, size=args.size, cash=args.cash,
                       fee_bps=args.fee_bps, interval_ns=parse_bar(args.bar), chunk=args.chunk,
                       workers=max(workers, 1))
    out = _out_dir(args.out)
    client = None
    if args.backend == "ray" and args.scheduler:
        raise ParamError("--scheduler is a Dask scheduler's address; with --backend ray use --workers N")
    if args.backend == "ray" and args.workers > 0:
        from .rayrun import RayPool

        client = RayPool(args.workers)
    elif args.scheduler:
        from distributed import Client

        client = Client(args.scheduler, timeout="10s")
    elif args.workers > 0:
        client = local_client(args.workers)
    try:
        with tqdm(total=len(tasks), unit="task", disable=None, file=sys.stderr) as bar:
            results = run_sweep(tasks, client, progress=bar.update)
    finally:
        if client is not None and args.backend == "ray":
            client.close()
        elif client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None and not args.scheduler:
                cluster.close()
    if args.metric not in results.columns:
        raise ParamError(f"--metric {args.metric!r} is not a statistic")
    results.to_csv(out / "results.csv", index=False, lineterminator="\n")
    (out / "report.html").write_text(sweep_report_html(results, args.strategy, list(grid), args.metric),
                                     encoding="utf-8")
    best = results.sort_values(args.metric, ascending=False, na_position="last").iloc[0]
    params = ",".join(f"{k}={best[k]}" for k in grid)
    print(f"{len(results)} runs in {len(tasks)} tasks; best {args.metric} {best[args.metric]:.3f}: "
          f"{best['symbol']} {params}")


@cli.entry(PROG, input_errors=(BacktestError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    {"data": cmd_data, "run": cmd_run, "sweep": cmd_sweep}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
