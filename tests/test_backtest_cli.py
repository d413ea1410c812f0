"""Lab 12 command line: data, run and sweep write the documented files; bad input exits 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from labsupport.backtest.__main__ import main

PROG = [sys.executable, "-m", "labsupport.backtest"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "data"
    proc = subprocess.run([*PROG, "data", "--ticks", "40000", "--symbols", "2", "--days", "3", "--out", str(d)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"] == 6  # 2 symbols x 3 days
    return d


def test_run_writes_trades_equity_stats_and_a_standalone_report(data, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--data", str(data), "--strategy", "sma_cross", "--params", "fast=10,slow=30",
                 "--size", "50", "--fee-bps", "2", "--out", str(out)]) == 0
    trades = pd.read_csv(out / "trades.csv", keep_default_na=False)
    assert list(trades.columns) == ["symbol", "entry_ts", "entry_price", "exit_ts", "exit_price", "qty", "pnl"]
    assert set(trades.symbol) == {"ACME", "BOLT"} and (trades.qty == 50).all()
    assert pd.Timestamp(trades.entry_ts[0]).tzinfo is not None  # ISO 8601 with the offset
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == ["ts", "symbol", "equity"] and equity.equity.iloc[0] == 100_000
    stats = json.loads((out / "stats.json").read_text())
    assert stats["strategy"] == "sma_cross(fast=10,slow=30)" and stats["fee_bps"] == 2
    assert set(stats["symbols"]["ACME"]) >= {"total_return", "sharpe", "max_drawdown", "hit_rate", "exposure"}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "src=\"http" not in html
    assert "ACME:" in capsys.readouterr().out


def test_open_trade_has_empty_exit_fields_in_the_csv(data, tmp_path):
    out = tmp_path / "o"
    assert main(["run", "--data", str(data), "--strategy", "breakout", "--params", "window=10,exit_window=200",
                 "--engine", "event", "--out", str(out)]) == 0
    rows = (out / "trades.csv").read_text().splitlines()
    last = rows[-1].split(",")
    assert last[3:5] == ["", ""] and last[6] == ""


def test_sweep_in_process_writes_results_and_report(data, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", "--data", str(data), "--strategy", "sma_cross", "--grid", "fast=5:15:5,slow=20:40:10",
                 "--workers", "0", "--out", str(out)]) == 0
    res = pd.read_csv(out / "results.csv")
    assert len(res) == 2 * 9 and {"symbol", "fast", "slow", "sharpe", "cagr"} <= set(res.columns)
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert "18 runs" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["run", "--data", "{data}", "--strategy", "sma_cross", "--params", "fast=30,slow=10", "--out", "{tmp}"],
     ["fast (30) must be below slow (10)"]),
    (["run", "--data", "{data}", "--strategy", "sma_cross", "--params", "fast:3", "--out", "{tmp}"],
     ["--params", "'fast:3'"]),
    (["sweep", "--data", "{data}", "--strategy", "sma_cross", "--grid", "fast=5:1:1", "--out", "{tmp}"],
     ["--grid", "fast=5:1:1"]),
    (["run", "--data", "{tmp}/nope", "--strategy", "sma_cross", "--out", "{tmp}"], ["nope", "No such file"]),
    (["run", "--data", "{data}", "--strategy", "sma_cross", "--bar", "5x", "--out", "{tmp}"], ["--bar"]),
    (["run", "--data", "{csv}", "--strategy", "sma_cross", "--out", "{tmp}"], ["bars.csv", "line 3", "close"]),
])
def test_bad_input_exits_2_with_one_line(data, tmp_path, capsys, argv, words):
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "bars.csv").write_text("ts,symbol,open,high,low,close,volume\n"
                                      "1,A,10,11,9,10,5\n2,A,10,11,9,,5\n")
    args = [a.format(data=data, tmp=tmp_path, csv=csv_dir) for a in argv]
    status = main(args)  # in process: the same cli.entry as `python -m` (one subprocess below)
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith("python -m labsupport.backtest: error: ")
    for w in words:
        assert w in lines[0]


def test_the_module_entry_point_exits_2_on_a_missing_directory(tmp_path):
    proc = subprocess.run([*PROG, "run", "--data", str(tmp_path / "nope"), "--strategy", "sma_cross",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "No such file" in proc.stderr
