"""Lab 03's command line: a run, an idempotent re-run, the one-line errors, and kill -9 of the sink.

The sink is the coordinator process (it owns the tick store); killing it with SIGKILL mid-stream
takes its workers with it (no orphans), and running the same command again finishes the stream
with nothing lost and nothing duplicated (counts and checksum against the reference).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labsupport.stream import verify
from labsupport.stream.__main__ import main
from labsupport.stream.gen import write_ticks

PROG = "python -m labsupport.stream"


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def gone(pid: int) -> bool:
    """Exited (no such process, or a zombie waiting for its new parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.fixture
def ticks(tmp_path: Path) -> Path:
    return Path(write_ticks(tmp_path / "ticks.csv", 3000, symbols=5, dirt=0.05, seed=11))


def test_run_then_rerun_adds_nothing(ticks: Path, tmp_path: Path, capsys) -> None:
    db = tmp_path / "db"
    assert main(["run", "--source", str(ticks), "--transport", "zmq", "--db", str(db),
                 "--workers", "2", "--max-dev-pct", "10", "--late-ns", "1000000000"]) == 0
    first = capsys.readouterr().out
    want = verify.expected(ticks)
    assert f"{len(want[0])} accepted, {len(want[1])} dead letters" in first
    assert main(["run", "--source", str(ticks), "--db", str(db)]) == 0
    assert "0 new lines, 0 accepted, 0 dead letters" in capsys.readouterr().out
    assert verify.same(verify.stored(db), want)
    header = (db / "dead_letters.csv").read_bytes().split(b"\n")[0]
    assert header == b"seq,symbol,reason,raw"


def test_rules_come_from_the_flags(ticks: Path, tmp_path: Path, capsys) -> None:
    from labsupport.stream import Rules

    assert main(["run", "--source", str(ticks), "--db", str(tmp_path / "db"), "--workers", "1",
                 "--late-ns", "0", "--max-dev-pct", "0.5"]) == 0
    assert verify.same(verify.stored(tmp_path / "db"),
                       verify.expected(ticks, Rules(late_ns=0, max_dev_pct=0.5)))


@pytest.mark.parametrize("argv,words", [
    (["run", "--db", "D"], "required: --source"),
    (["run", "--source", "S", "--db", "D", "--transport", "carrier-pigeon"], "invalid choice"),
    (["run", "--source", "S", "--db", "D", "--workers", "0"], "--workers"),
    (["run", "--source", "S", "--db", "D", "--workers", "17"], "at most 16"),
    (["run", "--source", "S", "--db", "D", "--max-dev-pct", "-1"], "--max-dev-pct"),
])
def test_usage_errors_are_one_line_exit_2(argv: list[str], words: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{PROG}: error:") and words in err and "\n" not in err


def test_missing_source_and_bad_header_name_the_file(tmp_path: Path, capsys) -> None:
    assert main(["run", "--source", str(tmp_path / "none.csv"), "--db", str(tmp_path / "d")]) == 2
    assert "none.csv: No such file or directory" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"ts,symbol,price,size\n1,A,1.0,1\n")
    assert main(["run", "--source", str(bad), "--db", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.csv, line 1: header must be exactly 'seq,ts_ns,symbol,price,size'" in err


def test_kafka_without_a_broker_says_what_it_needs(ticks: Path, tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    assert main(["run", "--source", str(ticks), "--transport", "kafka",
                 "--db", str(tmp_path / "d")]) == 2
    assert "needs --broker HOST:PORT" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_kill_9_of_the_sink_mid_stream_then_rerun_is_exactly_once(ticks: Path,
                                                                  tmp_path: Path) -> None:
    db = tmp_path / "db"
    argv = [sys.executable, "-m", "labsupport.stream", "run", "--source", f"replay:{ticks}",
            "--db", str(db), "--workers", "2", "--batch", "20"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(p.stat().st_size for p in db.glob("wal-*.log")) > 2000:  # commits are durable
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    workers = children(proc.pid)
    assert len(workers) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    deadline = time.monotonic() + 10
    while not all(gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(w) for w in workers)  # the workers died with their parent
    partial = verify.stored(db)
    want = verify.expected(ticks)
    assert 0 < len(partial[0]) < len(want[0])  # killed mid-stream
    done = subprocess.run(argv[:4] + ["--source", str(ticks), "--db", str(db)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = verify.stored(db)
    assert (len(got[0]), len(got[1])) == (len(want[0]), len(want[1]))
    assert verify.checksum(got[0]) == verify.checksum(want[0])
    assert verify.checksum(got[1]) == verify.checksum(want[1])


def test_duckdb_sink_from_the_command_line_then_rerun_adds_nothing(ticks: Path, tmp_path: Path,
                                                                    capsys) -> None:
    pytest.importorskip("duckdb", reason="the DuckDB sink is a peers dependency")
    from labsupport.stream.duck import FILE, DuckSink

    db = tmp_path / "dd"
    argv = ["run", "--source", str(ticks), "--db", str(db), "--sink", "duckdb"]
    assert main(argv) == 0
    want = verify.expected(ticks)
    assert f"{len(want[0])} accepted, {len(want[1])} dead letters" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 new lines, 0 accepted, 0 dead letters" in capsys.readouterr().out
    assert (db / FILE).exists() and not (db / "dead_letters.csv").exists()  # not the tick store
    with DuckSink(db) as s:
        t, d = s.tables()
    assert t[verify.ACCEPTED].reset_index(drop=True).equals(want[0])
    assert verify.sort_dead_letters(d.astype(str)).equals(want[1])


def test_an_unknown_sink_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--source", "S", "--db", "D", "--sink", "parquet"])
    assert exc.value.code == 2 and "invalid choice: 'parquet'" in capsys.readouterr().err
