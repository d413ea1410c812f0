"""Every lab's command line follows one convention (`labsupport.cli`), checked from outside.

Each row runs a real `python -m ...` with a bad argument, a missing file, or malformed input, and
checks the exit status (2) and that stderr is exactly one line, `PROG: error: ...`, naming what was
wrong (the flag, the file, the line or offset). A real bug keeps its traceback and exit status 1;
that side is checked on the shared helper itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labsupport import cli

MISSING = "/nonexistent-lab-dir/input"  # never created: every row that writes uses NOT_A_DIR
NOT_A_DIR = "/dev/null/out"  # a path below a file: no command can create it, even as root


def _write(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


# (module, argv builder, words the one line must contain)
ROWS = [
    ("labsupport", lambda t: ["bogus"], ["invalid choice", "bogus"]),
    ("labsupport", lambda t: ["check", "99"], ["no lab '99'"]),
    ("labsupport.marketdata", lambda t: ["--events", "many"], ["--events", "many"]),
    ("labsupport.marketdata", lambda t: ["--events", "10", "--csv", NOT_A_DIR + "/e.csv"],
     [NOT_A_DIR, "Not a directory"]),
    ("labsupport.marketdata", lambda t: ["--events", "-3"], ["n_events"]),
    ("labsupport.http", lambda t: ["--port", "eighty"], ["--port", "eighty"]),
    ("labsupport.http", lambda t: ["--port", "0", "--root", NOT_A_DIR], [NOT_A_DIR]),
    ("labsupport.orderbook", lambda t: ["replay"], ["required"]),
    ("labsupport.orderbook", lambda t: ["replay", MISSING, "--out", str(t / "out")],
     [MISSING, "No such file"]),
    ("labsupport.orderbook", lambda t: ["replay", _write(t, "bad.csv", b"not,a,header\n1,2,3\n"),
                                        "--out", str(t / "out")], ["bad.csv"]),
    ("labsupport.kv", lambda t: ["--port", "sixty"], ["--port", "sixty"]),
    ("labsupport.kv", lambda t: ["--port", "0", "--dir", NOT_A_DIR], [NOT_A_DIR]),
    ("labsupport.tsdb", lambda t: ["ingest", str(t / "db"), MISSING], [MISSING, "No such file"]),
    ("labsupport.tsdb", lambda t: ["query"], ["required"]),
    ("labsupport.tsdb", lambda t: ["ingest", str(t / "db"),
                                   _write(t, "ticks.csv", b"ts,symbol,price,size\n1,A,x,3\n")],
     ["ticks.csv", "line 2"]),
    ("labsupport.protocols.itch", lambda t: ["stats", MISSING], [MISSING, "No such file"]),
    ("labsupport.protocols.itch", lambda t: ["stats", _write(t, "cut.itch", b"\x00\x30S")],
     ["cut.itch", "offset"]),
    ("labsupport.protocols.fix", lambda t: ["dump", MISSING], [MISSING, "No such file"]),
    ("labsupport.protocols.fix", lambda t: ["frobnicate"], ["invalid choice"]),
    ("labsupport.replay", lambda t: ["--speed", "fast", "x.itch"], ["--speed", "fast"]),
    ("labsupport.replay", lambda t: [MISSING], [MISSING, "No such file"]),
    ("labsupport.replay", lambda t: [_write(t, "cut.itch", b"\x00\x24A")],
     ["cut.itch", "byte offset 0"]),
    ("labsupport.risk", lambda t: ["run"], ["required"]),
    ("labsupport.risk", lambda t: ["run", MISSING, "--limits", MISSING, "--out", str(t / "out")],
     [MISSING, "No such file"]),
    ("labsupport.risk", lambda t: [
        "run", _write(t, "e.csv", b"seq,ts_ns,kind,account,symbol,side,qty,price,order_id\n"
                                  b"1,0,mark,,X,,,abc,\n"),
        "--limits", _write(t, "l.toml", b""), "--out", str(t / "out")],
     ["e.csv", "line 2", "field price"]),
    ("labsupport.clocksync", lambda t: ["slave", "--master", "10.0.0.1:319"],
     ["not a loopback address"]),
    ("labsupport.clocksync", lambda t: ["simulate", "--out", NOT_A_DIR], [NOT_A_DIR, "Not a directory"]),
    ("labsupport.gateway", lambda t: ["--config", MISSING], [MISSING, "No such file"]),
    ("labsupport.gateway", lambda t: ["--config", "x", "--port", "eighty"], ["--port", "eighty"]),
    ("labsupport.gateway", lambda t: ["--config", _write(
        t, "gw.toml", b'[[upstream]]\nname = "u"\nservers = ["127.0.0.1:1"]\nbalance = "dice"\n'
                      b'[[route]]\nprefix = "/"\nupstream = "u"\n')], ["upstream[0].balance", "dice"]),
    ("labsupport.gateway.backend", lambda t: ["--name", "a", "--error-rate", "2"], ["--error-rate"]),
    ("labsupport.rpc", lambda t: ["call", "--port", "x", "a", "b"], ["--port", "'x'"]),
    ("labsupport.rpc", lambda t: ["serve", "--port", "99999"], ["99999", "0..65535"]),
    ("labsupport.rpc", lambda t: ["call", "--port", "1", "trading.Desk/Quote", "{bad"],
     ["field request", "offset 1"]),
    ("labsupport.rpc.bench", lambda t: ["--calls", "many"], ["--calls", "many"]),
    ("labsupport.services", lambda t: ["up", MISSING], [MISSING, "No such file"]),
    ("labsupport.services", lambda t: ["status", "--run-dir", str(t)], ["no supervised system"]),
    ("labsupport.faults", lambda t: ["proxy", "--upstream", "10.1.2.3:80"],
     ["not a loopback address"]),
    ("labsupport.stream", lambda t: ["run", "--source", "x.csv", "--db", str(t / "db"),
                                     "--transport", "pigeon"], ["invalid choice", "pigeon"]),
    ("labsupport.stream", lambda t: ["run", "--source", MISSING, "--db", str(t / "db")],
     [MISSING, "No such file"]),
    ("labsupport.stream", lambda t: ["run", "--source", _write(t, "ticks.csv",
                                                              b"ts,symbol,price,size\n1,A,1.0,1\n"),
                                     "--db", str(t / "db")],
     ["ticks.csv", "line 1", "seq,ts_ns,symbol,price,size"]),
    ("labsupport.stream", lambda t: ["run", "--source", "x.csv", "--db", str(t / "db"),
                                     "--workers", "two"], ["--workers", "two"]),
    ("labsupport.resilience", lambda t: ["simulate", "--runs", "many", "--out", str(t / "o")],
     ["--runs", "many"]),
    ("labsupport.resilience", lambda t: ["simulate", "--runs", "1", "--faults", "meteor",
                                         "--out", str(t / "o")], ["unknown fault 'meteor'"]),
    ("labsupport.resilience", lambda t: ["simulate", "--runs", "1", "--faults", "crash",
                                         "--components", "oms", "--out", NOT_A_DIR],
     [NOT_A_DIR, "Not a directory"]),
    ("labsupport.resilience", lambda t: ["live", "--faults", "meteor", "--duration", "1",
                                         "--out", str(t / "o")], ["unknown live fault 'meteor'"]),
    ("labsupport.backtest", lambda t: ["data", "--ticks", "many", "--out", str(t / "d")],
     ["--ticks", "many"]),
    ("labsupport.backtest", lambda t: ["run", "--data", MISSING, "--strategy", "sma_cross",
                                       "--out", str(t / "out")], [MISSING, "No such file"]),
    ("labsupport.backtest", lambda t: ["run", "--data", _write(
        t, "bars.csv", b"ts,symbol,open,high,low,close,volume\n1,A,10,11,9,10,5\n2,A,10,11,9,,5\n"),
        "--strategy", "sma_cross", "--out", str(t / "out")], ["bars.csv", "line 3", "column close"]),
    ("labsupport.backtest", lambda t: ["sweep", "--data", str(t), "--strategy", "sma_cross",
                                       "--grid", "fast=5:1:1", "--out", NOT_A_DIR],
     ["--grid", "fast=5:1:1"]),
    ("labsupport.exchange", lambda t: ["up", "--dir", str(t), "--matchers", "zero"],
     ["--matchers", "zero"]),
    ("labsupport.exchange", lambda t: ["down", "--dir", str(t)],
     ["exchange.pid", "no exchange is running"]),
    ("labsupport.exchange", lambda t: ["up", "--dir", str(t), "--limits", MISSING],
     [MISSING, "No such file"]),
    ("labsupport.exchange", lambda t: ["up", "--dir", str(t), "--limits", _write(
        t, "l.toml", b"[defaults]\nmax_order_qty = 1.5\n")], ["max_order_qty"]),
]


@pytest.mark.parametrize("module, argv, words", ROWS,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(ROWS)])
def test_bad_argument_missing_file_or_bad_input_exit_2_with_one_line(
        module: str, argv, words: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", module, *argv(tmp_path)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, f"exit {proc.returncode}; stderr:\n{proc.stderr}"
    assert len(lines) == 1, f"stderr must be one line, got:\n{proc.stderr}"
    prog, sep, _ = lines[0].partition(": error: ")
    assert sep and (prog + " ").startswith(f"python -m {module} "), lines[0]
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


# --- the helper itself ---------------------------------------------------------------------------

class LabError(Exception):
    pass


@cli.entry("python -m demo", input_errors=(LabError,))
def _demo(argv):
    kind = argv[0]
    if kind == "input":
        raise LabError("ticks.csv line 3, field price: 'abc' is not a number")
    if kind == "where":
        raise cli.InputError("bad length", file="a.itch", offset=42)
    if kind == "io":
        Path(MISSING).read_bytes()
    if kind == "bug":
        raise ZeroDivisionError("a real bug")
    if kind == "usage":
        cli.ArgumentParser(prog="python -m demo").parse_args(["--nope"])
    return 0


@pytest.mark.parametrize("kind, line", [
    ("input", "python -m demo: error: ticks.csv line 3, field price: 'abc' is not a number"),
    ("where", "python -m demo: error: a.itch, offset 42: bad length"),
    ("io", f"python -m demo: error: {MISSING}: No such file or directory"),
    ("usage", "python -m demo: error: unrecognized arguments: --nope (see python -m demo --help)"),
])
def test_helper_prints_one_line_and_exits_2(kind: str, line: str, capsys) -> None:
    try:
        status = _demo([kind])
    except SystemExit as exc:  # argparse exits through SystemExit
        status = exc.code
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [line]


def test_helper_lets_a_bug_keep_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError, match="a real bug"):
        _demo(["bug"])
    assert _demo(["fine"]) == 0
