"""Lab 09 command line: the summary, --start/--duration, and the labsupport.cli convention
(bad argument, missing file, bad address, a truncated file replayed up to its damage: exit 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labsupport.marketdata import generate_ticks
from labsupport.measure.paths import REPO_DIR
from labsupport.protocols.itch import TruncatedMessage, iter_tuples
from labsupport.replay.__main__ import clock_of_day, fmt_clock

SAMPLE = REPO_DIR / "data" / "protocols" / "sample_day.itch"
PROG = "python -m labsupport.replay"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labsupport.replay", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO_DIR)


def test_replay_into_the_book_prints_a_summary() -> None:
    r = _run(str(SAMPLE), "--speed", "0", "--to", "book")
    assert r.returncode == 0, r.stderr
    assert "3099 messages" in r.stdout and "book: " in r.stdout and "10 clamped" in r.stdout
    assert "send error p50" in r.stdout


def test_start_and_duration_select_a_window_of_the_day() -> None:
    r = _run(str(SAMPLE), "--start", "09:30:00", "--duration", "0.5", "--speed", "100", "--to", "null",
             "--progress")
    assert r.returncode == 0, r.stderr
    ts = [m[3] for m in iter_tuples(SAMPLE.read_bytes())]
    lo = clock_of_day("09:30:00")
    n = sum(lo <= t < lo + 500_000_000 for t in ts)
    assert f"{n} messages" in r.stdout and "replay clock 09:30:00" in r.stderr


def test_policy_error_stops_at_the_first_backward_timestamp() -> None:
    r = _run(str(SAMPLE), "--speed", "0", "--policy", "error")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"{PROG}: error: message 6:")


def test_ticks_replay_from_parquet_to_null(tmp_path) -> None:
    from labsupport.marketdata import write_parquet

    write_parquet(generate_ticks(300, seed=2), tmp_path / "t.parquet")
    r = _run(str(tmp_path / "t.parquet"), "--speed", "0", "--to", "null")
    assert r.returncode == 0, r.stderr and "300 messages" in r.stdout
    r = _run(str(tmp_path / "t.parquet"), "--speed", "0")  # default sink is the ITCH book
    assert r.returncode == 2 and "needs an ITCH file" in r.stderr


def test_a_truncated_file_replays_up_to_the_damage_then_exits_2_with_the_offset(tmp_path) -> None:
    data = SAMPLE.read_bytes()[:-5]
    path = tmp_path / "cut.itch"
    path.write_bytes(data)
    with pytest.raises(TruncatedMessage) as exc:
        list(iter_tuples(data))
    n = len(list(iter_tuples(data[: exc.value.offset])))
    r = _run(str(path), "--speed", "0")
    assert r.returncode == 2
    assert f"replayed up to the damage: {n} messages" in r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"{PROG}: error: {path}:")
    assert f"byte offset {exc.value.offset}" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["--speed", "fast", str(SAMPLE)], ["--speed", "fast", "--help"]),
    (["--speed", "-1", str(SAMPLE)], ["--speed", "negative"]),
    (["--start", "25:00:00", str(SAMPLE)], ["--start", "HH:MM:SS"]),
    (["/nonexistent-lab-dir/day.itch"], ["/nonexistent-lab-dir/day.itch", "No such file"]),
    ([str(SAMPLE), "--to", "tcp://127.0.0.1:5"], ["--to", "udp://HOST:PORT"]),
    ([str(SAMPLE), "--to", "udp://127.0.0.1"], ["udp://127.0.0.1", "HOST:PORT"]),
    ([str(SAMPLE), "--to", "udp://127.0.0.1:9", "--max-packet", "10"], ["max packet 10"]),
    (["listen", "udp://127.0.0.1:x"], ["udp://127.0.0.1:x"]),
    (["listen"], ["required"]),
])
def test_bad_input_exits_2_with_one_line(args, words) -> None:
    r = _run(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(PROG), r.stderr
    for w in words:
        assert w in r.stderr


def test_clock_of_day_round_trips() -> None:
    assert clock_of_day("09:30:00.25") == (9 * 3600 + 30 * 60) * 10**9 + 250_000_000
    assert fmt_clock(clock_of_day("15:59:59.000001")) == "15:59:59.000001"


def test_replay_to_a_zmq_pub_endpoint() -> None:
    r = _run(str(SAMPLE), "--speed", "0", "--to", "zmq://tcp://127.0.0.1:*")
    assert r.returncode == 0, r.stderr and "3099 messages" in r.stdout
