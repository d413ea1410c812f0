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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ts,sym,price,size\n1,A,1,1\n", "line 1: header must be ts,symbol,price,size"),
        ("ts,symbol,price,size\n1,A,1.0,1\n2.5,A,1.0,1\n", "line 3: ts '2.5' is not an integer"),
        ("ts,symbol,price,size\n1,A,abc,1\n", "line 2: price 'abc' is not a number"),
        ("ts,symbol,price,size\n1,A,1.0\n", "line 2: expected 4 fields"),
    ],
)
def test_bad_csv_is_one_line_with_the_place(tmp_path, capsys, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    rc, out, err = run(capsys, "ingest", tmp_path / "db", p)
    assert rc == 1 and out == "" and message in err and err.count("\n") == 1


def test_interval_parsing():
    assert parse_interval("10s") == 10**10
    assert parse_interval("250ms") == 250 * 10**6
    assert parse_interval("1m") == 60 * 10**9
    with pytest.raises(Exception, match="bad interval"):
        parse_interval("0s")
