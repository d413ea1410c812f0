"""The command line: exact CSV formats, durability of ingest, one-line errors."""

import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from labsupport.tsdb.__main__ import main, parse_interval


@pytest.fixture
def ticks_csv(tmp_path):
    rng = np.random.default_rng(21)
    n = 3_000
    df = pd.DataFrame(
        {
            "ts": 1_700_000_000 * 10**9 + rng.integers(0, 120 * 10**9, n),  # unsorted
            "symbol": rng.choice(["ES", "NQ"], n),
            "price": rng.integers(400_000, 410_000, n) / 100,
            "size": rng.integers(1, 50, n),
        }
    )
    p = tmp_path / "ticks.csv"
    df.to_csv(p, index=False)
    return p, df


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_ingest_query_bars_stats_compact(tmp_path, ticks_csv, capsys):
    path, df = ticks_csv
    db = tmp_path / "db"
    rc, out, _ = run(capsys, "ingest", db, path)
    assert rc == 0 and out == f"{len(df)}\n"
    start, end = 1_700_000_000 * 10**9 + 10 * 10**9, 1_700_000_000 * 10**9 + 100 * 10**9
    rc, out, _ = run(capsys, "query", db, "--symbol", "NQ", "--start", start, "--end", end)
    assert rc == 0
    got = pd.read_csv(io.StringIO(out))
    want = df[(df.symbol == "NQ") & (df.ts >= start) & (df.ts < end)].sort_values(
        "ts", kind="stable"
    )
    assert list(got.columns) == ["ts", "symbol", "price", "size"]
    assert got.ts.tolist() == want.ts.tolist() and got.price.tolist() == want.price.tolist()
    rc, out, _ = run(
        capsys, "bars", db, "--symbol", "NQ", "--start", start, "--end", end, "--interval", "10s"
    )
    assert rc == 0
    bars = pd.read_csv(io.StringIO(out))
    assert list(bars.columns) == ["start", "open", "high", "low", "close", "volume", "count"]
    assert (bars.start % 10**10 == 0).all() and bars["count"].sum() == len(want)
    assert bars.volume.sum() == want["size"].sum()
    assert bars.open.iloc[0] == want.price.iloc[0] and bars.close.iloc[-1] == want.price.iloc[-1]
    rc, out, _ = run(capsys, "stats", db)
    lines = out.splitlines()
    assert lines[0] == "points,segments,bytes_on_disk,bytes_per_point"
    points, segments, nbytes, bpp = lines[1].split(",")
    assert int(points) == len(df) and int(segments) == 1 and int(nbytes) > 0
    assert abs(float(bpp) - int(nbytes) / len(df)) < 0.01
    run(capsys, "ingest", db, path)  # a second segment
    rc, out, _ = run(capsys, "compact", db)
    assert rc == 0 and out == "compacted 2 segments into 1\n"


def test_ingest_is_durable_when_it_exits(tmp_path, ticks_csv):
    path, df = ticks_csv
    db = tmp_path / "db"
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    r = subprocess.run([sys.executable, "-m", "labsupport.tsdb", "ingest", str(db), str(path)],
                       capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert r.returncode == 0 and r.stdout == f"{len(df)}\n"
    assert not [f for f in os.listdir(db) if f.endswith(".tmp")]
    segs = [f for f in os.listdir(db) if f.endswith(".seg")]
    assert len(segs) == 1  # flushed: the data is in a synced segment, not only in the WAL


PROG = "python -m labsupport.tsdb: error: "


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ts,sym,price,size\n1,A,1,1\n", "bad.csv, line 1: header must be ts,symbol,price,size"),
        ("ts,symbol,price,size\n1,A,1.0,1\n2.5,A,1.0,1\n",
         "bad.csv, line 3, field ts: '2.5' is not an integer number of ns"),
        ("ts,symbol,price,size\n1,A,abc,1\n", "bad.csv, line 2, field price: 'abc' is not a number"),
        ("ts,symbol,price,size\n1,A,1.0,x\n", "bad.csv, line 2, field size: 'x' is not an integer"),
        ("ts,symbol,price,size\n1,A,1.0\n", "bad.csv, line 2: expected 4 fields"),
        ("ts,symbol,price,size\n1,A,1.0,1\n2,,1.0,1\n", "bad.csv, line 3, field symbol: empty"),
        ("ts,symbol,price,size\n99999999999999999999,A,1.0,1\n",
         "bad.csv, line 2, field ts: 99999999999999999999 does not fit a signed 64-bit integer"),
    ],
)
def test_bad_csv_is_one_line_with_the_place_and_exit_2(tmp_path, capsys, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    rc, out, err = run(capsys, "ingest", tmp_path / "db", p)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(PROG) and message in err, err


def test_missing_csv_and_missing_database_exit_2_naming_the_path(tmp_path, capsys):
    rc, out, err = run(capsys, "ingest", tmp_path / "db", tmp_path / "nope.csv")
    assert (rc, out) == (2, "")
    assert err == f"{PROG}{tmp_path / 'nope.csv'}: No such file or directory\n"
    rc, out, err = run(capsys, "stats", tmp_path / "no-db")
    assert (rc, out) == (2, "")
    assert err == f"{PROG}{tmp_path / 'no-db'}: no such tick store directory\n"
    assert not (tmp_path / "no-db").exists()  # a reading command never creates a database


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "db", "--symbol", "X", "--start", "soon", "--end", "1"],
         "argument --start: invalid int value: 'soon'"),
        (["frobnicate"], "argument cmd: invalid choice: 'frobnicate'"),
        (["bars", "db", "--symbol", "X", "--start", "0", "--end", "1", "--interval", "0s"],
         "bad interval '0s'"),
    ],
)
def test_bad_argument_exits_2_with_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "db").mkdir()
    argv = argv[:1] + [str(tmp_path / a) if a == "db" else a for a in argv[1:]]
    try:
        rc = main(argv)
    except SystemExit as stop:  # argparse's own usage errors leave through SystemExit
        rc = stop.code
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("python -m labsupport.tsdb") and message in err, err


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only the store's own errors become one line; a bug in a command propagates (exit 1)."""
    import labsupport.tsdb.__main__ as cmd

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(cmd.COMMANDS, "stats", broken)
    (tmp_path / "db").mkdir()
    with pytest.raises(ZeroDivisionError):
        main(["stats", str(tmp_path / "db")])


def test_the_real_command_line_exits_2_and_1_as_the_convention_says(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    missing = subprocess.run([sys.executable, "-m", "labsupport.tsdb", "stats", str(tmp_path / "x")],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == f"{PROG}{tmp_path / 'x'}: no such tick store directory\n"
    usage = subprocess.run([sys.executable, "-m", "labsupport.tsdb", "query", "db"],
                           capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    assert "the following arguments are required: --symbol, --start, --end" in usage.stderr


def test_interval_parsing():
    assert parse_interval("10s") == 10**10
    assert parse_interval("250ms") == 250 * 10**6
    assert parse_interval("1m") == 60 * 10**9
    with pytest.raises(Exception, match="bad interval"):
        parse_interval("0s")
