"""The event CSV and limits TOML at the edges (bad rows name line and field, bad limits name
key and account), the ``run`` command's four files on a script with exact rows, ``gen``'s
determinism, and the command-line convention (exit 2, one line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labsupport.risk import EventError, LimitsError, parse_limits, read_events
from labsupport.risk.__main__ import main
from labsupport.risk.events import EVENT_HEADER, format_event, parse_price, read_events_file
from labsupport.risk.gen import FlowSpec, generate

H = EVENT_HEADER


@pytest.mark.parametrize("row, line, field", [
    ("x,0,mark,,X,,,100,", 2, "seq"),
    ("1,-5,mark,,X,,,100,", 2, "ts_ns"),
    ("1,0,quote,,X,,,100,", 2, "kind"),
    ("1,0,mark,,,,,100,", 2, "symbol"),
    ("1,0,mark,,X,,,,", 2, "price"),
    ("1,0,mark,,X,,,abc,", 2, "price"),
    ("1,0,mark,,X,,,0,", 2, "price"),
    ("1,0,mark,,X,,,1.00001,", 2, "price"),  # finer than 4 decimals
    ("1,0,order,,X,buy,1,100,o1", 2, "account"),
    ("1,0,order,a,X,long,1,100,o1", 2, "side"),
    ("1,0,order,a,X,buy,0,100,o1", 2, "qty"),
    ("1,0,order,a,X,buy,1.5,100,o1", 2, "qty"),
    ("1,0,order,a,X,buy,1,100,", 2, "order_id"),
    ("1,0,fill,a,X,buy,1,,o1", 2, "price"),
    ("1,0,cancel,,,,,,", 2, "order_id"),
    ("1,0,mark,,X,,,100", 2, None),  # 8 fields
])
def test_bad_rows_name_line_and_field(row: str, line: int, field: str | None) -> None:
    with pytest.raises(EventError) as info:
        list(read_events([H + "\n", row + "\n"]))
    assert (info.value.line, info.value.field) == (line, field)
    assert f"line {line}" in str(info.value)


def test_bad_header_time_going_back_and_later_lines() -> None:
    with pytest.raises(EventError, match="line 1: header"):
        list(read_events(["seq,kind\n"]))
    rows = [H, "1,10,mark,,X,,,100,", "2,10,mark,,X,,,101,", "3,9,mark,,X,,,100,"]
    with pytest.raises(EventError) as info:
        list(read_events([r + "\n" for r in rows]))
    assert (info.value.line, info.value.field) == (4, "ts_ns")


def test_not_utf8_and_unclosed_quote_name_their_line(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_bytes((H + "\n1,0,mark,,X,,,100,\n").encode() + b"2,0,mark,,\xff,,,100,\n")
    with pytest.raises(EventError, match=r"e\.csv, line 3: not UTF-8"):
        list(read_events_file(p))
    p.write_bytes((H + '\n1,0,mark,,"X,,,100,\n').encode())
    with pytest.raises(EventError, match="not CSV"):
        list(read_events_file(p))


def test_events_round_trip_through_their_csv_form() -> None:
    events = generate(300, FlowSpec(accounts=2, symbols=3), seed=4)
    text = [H + "\n"] + [format_event(e) + "\n" for e in events]
    assert list(read_events(text)) == events
    assert parse_price("187.25") == 1_872_500 and parse_price("0.0001") == 1


def test_generator_is_deterministic_per_seed() -> None:
    spec = FlowSpec(accounts=3, symbols=4)
    assert generate(500, spec, seed=9) == generate(500, spec, seed=9)
    assert generate(500, spec, seed=9) != generate(500, spec, seed=10)


@pytest.mark.parametrize("text, words", [
    ("[defaults]\nmax_order_qty = 1.5\n", ["[defaults]", "max_order_qty", "integer"]),
    ("[defaults]\nmax_position = true\n", ["[defaults]", "max_position", "integer"]),
    ("[defaults]\ncapital = \"lots\"\n", ["[defaults]", "capital", "number"]),
    ("[accounts.acc7]\nvar_window = \"250\"\n", ["[accounts.acc7]", "var_window"]),
    ("[accounts.acc7]\nmax_qty = 5\n", ["[accounts.acc7]", "max_qty", "unknown"]),
    ("[accounts.acc7]\nrestricted = \"XYZ\"\n", ["[accounts.acc7]", "restricted"]),
    ("[accounts.b]\ncredit_limit = -1\n", ["[accounts.b]", "credit_limit", "negative"]),
    ("[accounts.b]\ndrawdown_limit = 0\n", ["[accounts.b]", "drawdown_limit", "> 0"]),
    ("[defaults]\ncapital = 1.000000001\n", ["[defaults]", "capital", "decimal places"]),
    ("[defaults]\ncapital = inf\n", ["[defaults]", "capital"]),
    ("[limits]\ncapital = 1\n", ["[limits]", "unknown table"]),
    ("[defaults\n", ["not TOML"]),
])
def test_bad_limits_name_the_key_and_the_account(text: str, words: list[str]) -> None:
    with pytest.raises(LimitsError) as info:
        parse_limits(text)
    for word in words:
        assert word in str(info.value)


def test_limits_defaults_overrides_and_exact_decimals() -> None:
    lf = parse_limits("[defaults]\ncapital = 1e6\nprice_collar_pct = 0.1\n"
                      "[accounts.x]\ncapital = 250000.5\nrestricted = [\"Q\"]\n")
    assert lf.for_account("y").capital == 10**6 * 10**8
    assert lf.for_account("x").capital == 25_000_050_000_000
    assert str(lf.for_account("x").collar) == "1/1000"  # 0.1 %, not a binary float
    assert lf.for_account("x").restricted == {"Q"} and lf.for_account("y").restricted == set()


SCRIPT = """seq,ts_ns,kind,account,symbol,side,qty,price,order_id
1,1000,mark,,AAPL,,,100,
2,2000,order,acc1,AAPL,buy,100,100.5,o1
3,3000,order,acc1,AAPL,buy,1,120,o2
4,4000,fill,acc1,AAPL,buy,100,100.5,o1
5,5000,mark,,AAPL,,,99,
6,6000,mark,,AAPL,,,98,
7,7000,fill,acc1,AAPL,sell,40,98.5,o9
8,8000,mark,,AAPL,,,95,
9,9000,order,acc1,AAPL,sell,1,95,o3
"""

LIMITS = """[defaults]
capital = 100000
price_collar_pct = 5
drawdown_limit = 500
var_window = 5
"""


def test_run_writes_the_four_files_exactly(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(SCRIPT)
    (tmp_path / "l.toml").write_text(LIMITS)
    assert main(["run", str(tmp_path / "e.csv"), "--limits", str(tmp_path / "l.toml"),
                 "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert (out / "decisions.csv").read_text().splitlines() == [
        "seq,order_id,decision,reason", "2,o1,accept,", "3,o2,reject,price_collar",
        "9,o3,accept,"]
    # seq 6: 100 shares at avg 100.5 marked 98 -> drawdown 250 (no alert); seq 8: 40 sold at
    # 98.5 realized -80, 60 left marked at 95 -> unrealized -330, drawdown 410: warn at 82 %.
    assert (out / "alerts.csv").read_text().splitlines() == [
        "seq,account,metric,level,value,limit", "8,acc1,drawdown,warn,410,500"]
    metrics = (out / "metrics.csv").read_text().splitlines()
    assert metrics[0] == ("account,equity,realized_pnl,unrealized_pnl,gross_exposure,"
                          "net_exposure,peak_equity,drawdown,var_hist,var_ewma,margin,"
                          "margin_utilization,halted")
    # VaR samples at seq 5, 6, 8: equity 99850, 99750, 99590 -> changes -100, -160;
    # historical: h = 0.05, q = -160 + 0.05 x 60 = -157; EWMA from 100^2 then one update.
    ewma = 1.6448536269514722 * (0.94 * 100.0**2 + 0.06 * 160.0**2) ** 0.5
    assert metrics[1:] == [f"acc1,99590,-80,-330,5700,5700,100000,410,157,{ewma:.8f},855,"
                           "0.0085852,0"]
    timeline = (out / "timeline.csv").read_text().splitlines()
    assert timeline[0].startswith("seq,ts_ns,account,equity,")
    assert [r.split(",")[0] for r in timeline[1:]] == ["4", "5", "6", "7", "8"]


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labsupport.risk", *argv], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_cli_malformed_row_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(SCRIPT.replace("7,7000,fill,acc1,AAPL,sell,40",
                                                   "7,7000,fill,acc1,AAPL,sell,4x"))
    (tmp_path / "l.toml").write_text(LIMITS)
    proc = _cli("run", str(tmp_path / "e.csv"), "--limits", str(tmp_path / "l.toml"),
                "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "line 8" in lines[0] and "field qty" in lines[0], proc.stderr
    assert lines[0].startswith("python -m labsupport.risk: error: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["run"], ["required"]),
    (["run", "/nonexistent-lab-dir/e.csv", "--limits", "/nonexistent-lab-dir/l.toml",
      "--out", "o"], ["/nonexistent-lab-dir/l.toml", "No such file"]),
    (["gen", "--events", "many", "--out", "x.csv"], ["--events", "many"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_cli_usage_and_missing_files_exit_2(argv: list[str], words: list[str]) -> None:
    proc = _cli(*argv)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0]


def test_cli_bad_limits_file_exits_2_naming_key_and_account(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text(SCRIPT)
    (tmp_path / "l.toml").write_text("[accounts.acc1]\nmax_order_qty = 2.5\n")
    proc = _cli("run", str(tmp_path / "e.csv"), "--limits", str(tmp_path / "l.toml"),
                "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "[accounts.acc1] key max_order_qty" in proc.stderr and "l.toml" in proc.stderr


def test_cli_gen_then_run(tmp_path: Path) -> None:
    proc = _cli("gen", "--events", "400", "--seed", "3", "--out", str(tmp_path / "e.csv"),
                "--limits", str(tmp_path / "l.toml"))
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 401
    proc = _cli("run", str(tmp_path / "e.csv"), "--limits", str(tmp_path / "l.toml"),
                "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert '"events": 400' in proc.stdout
