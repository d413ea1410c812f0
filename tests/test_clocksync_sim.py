"""PTP-lite and the NTP-style client on the deterministic simulator, and the simulate command."""

from __future__ import annotations

import csv
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from labsupport.clocksync import ClockConfigError, Scenario, run, summarize
from labsupport.clocksync.__main__ import main
from labsupport.clocksync.simulation import CSV_HEADER, PathModel


def _after(rows, t_s: float, slave: str = "slave1") -> list[float]:
    return [r.true_offset_ns for r in rows if r.slave == slave and r.t_s > t_s]


def _p99(values: list[float]) -> float:
    ordered = sorted(abs(v) for v in values)
    return ordered[int(0.99 * (len(ordered) - 1))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ptp_converges_from_1_ms_and_20_ppm_within_30_s(seed: int) -> None:
    print("seed", seed)
    rows = run(Scenario(seed=seed, duration_s=60))
    summary = summarize([r.t_s for r in rows], [r.true_offset_ns for r in rows])
    assert rows[0].true_offset_ns == pytest.approx(1_000_000, abs=2_000)
    assert summary.converged_s is not None and summary.converged_s < 30
    assert summary.within_rts25


def test_residual_offset_is_bounded_by_the_noise_model() -> None:
    quiet = run(Scenario(seed=4, duration_s=40, jitter_ns=0))  # hw stamps, 8 ns each: nothing else
    floor = _p99(_after(quiet, 20))
    assert floor < 50
    pdv = run(Scenario(seed=4, duration_s=60, jitter_ns=1000))  # plus 1 us mean queueing
    assert floor < _p99(_after(pdv, 30)) < 200  # the queueing shows through the filter, a little


def test_the_filter_buys_accuracy_under_packet_delay_variation() -> None:
    p99 = {kind: _p99(_after(run(Scenario(seed=5, duration_s=60, filter=kind)), 30))
           for kind in ("none", "exchange", "lucky")}
    print(p99)
    assert p99["lucky"] * 2 < min(p99["exchange"], p99["none"])


@pytest.mark.parametrize("asym", [2_000, -4_000])
def test_asymmetry_shows_up_as_a_bias_of_half_the_asymmetry(asym: int) -> None:
    base = statistics.mean(_after(run(Scenario(seed=6, duration_s=60)), 30))
    skew = statistics.mean(_after(run(Scenario(seed=6, duration_s=60, asymmetry_ns=asym)), 30))
    # the slave believes it is asym/2 ahead and steers itself that far behind
    assert skew - base == pytest.approx(-asym / 2, abs=60)


def test_simulation_is_deterministic_by_seed() -> None:
    a, b = run(Scenario(seed=8, duration_s=20)), run(Scenario(seed=8, duration_s=20))
    assert a == b and len(a) == 320
    assert run(Scenario(seed=9, duration_s=20)) != a
    n1, n2 = run(Scenario("ntp", seed=8, duration_s=200)), run(Scenario("ntp", 8, 200))
    assert n1 == n2


def test_loss_and_queueing_bursts_are_tolerated() -> None:
    rows = run(Scenario(seed=10, duration_s=60, loss=0.2, burst_prob=0.02, burst_ns=200_000))
    assert 400 < len(rows) < 700  # ~ 960 * 0.8**4 exchanges complete (four messages each)
    summary = summarize([r.t_s for r in rows], [r.true_offset_ns for r in rows])
    assert summary.converged_s is not None and summary.max_ns < 1_000


def test_gains_too_high_make_the_simulated_slave_unstable() -> None:
    good = _p99(_after(run(Scenario(seed=11, duration_s=30, filter="none")), 15))
    bad = _p99(_after(run(Scenario(seed=11, duration_s=30, filter="none", gains=(40.0, 0.0))), 15))
    assert bad > 20 * good


def test_several_slaves_each_converge_on_their_own_oscillator() -> None:
    rows = run(Scenario(seed=12, duration_s=40, slaves=3))
    for name in ("slave1", "slave2", "slave3"):
        assert _p99(_after(rows, 20, name)) < 500
    firsts = [next(r for r in rows if r.slave == n) for n in ("slave1", "slave2", "slave3")]
    assert len({r.estimated_offset_ns for r in firsts}) == 3  # their own noise and streams


def test_ntp_style_client_meets_rts25_but_ptp_beats_it_by_far_on_the_same_network() -> None:
    ntp = run(Scenario("ntp", seed=13, duration_s=1200))
    ptp = run(Scenario("ptp", seed=13, duration_s=120))
    assert all(r.t_s >= 0 for r in ntp) and len(ntp) < 100  # polls of 16 s and longer
    ntp_tail, ptp_tail = _after(ntp, 600), _after(ptp, 60)
    assert max(abs(x) for x in ntp_tail) < 100_000
    assert _p99(ptp_tail) * 3 < _p99(ntp_tail)


def test_path_model_and_scenario_refuse_nonsense() -> None:
    assert PathModel(5_000, 0).latency().mean_ns == 5_000
    assert PathModel(5_000, 1_000, 0.1, 10_000).latency().mean_ns == 7_000
    for bad in (dict(protocol="udp"), dict(timestamping="gps"), dict(sync_rate_hz=0),
                dict(base_ns=100, asymmetry_ns=-200), dict(loss=2.0)):
        with pytest.raises(ClockConfigError):
            Scenario(**bad)


def test_simulate_command_writes_offsets_csv_and_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "new" / "dir"
    assert main(["simulate", "--protocol", "ptp", "--seed", "3", "--duration-s", "5",
                 "--jitter-ns", "500", "--asymmetry-ns", "100", "--out", str(out)]) == 0
    with open(out / "offsets.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == CSV_HEADER and len(rows) == 1 + 80
    assert float(rows[1][1]) == pytest.approx(1_000_000, abs=2_000)
    text = (out / "summary.txt").read_text()
    assert "RTS 25" in text and text == capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["simulate", "--out", "/dev/null/x"], ["/dev/null/x", "Not a directory"]),
    (["simulate", "--protocol", "sntp", "--out", "x"], ["--protocol", "sntp"]),
    (["simulate", "--sync-rate-hz", "0", "--out", "{tmp}"], ["sync rate"]),
    (["slave", "--master", "192.168.1.5:319"], ["not a loopback address"]),
    (["slave", "--master", "localhost"], ["HOST:PORT"]),
])
def test_command_line_errors_exit_2_with_one_line(argv, words, tmp_path: Path) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "labsupport.clocksync", *argv],
                          capture_output=True, text=True, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("python -m labsupport.clocksync")
    assert all(w in lines[0] for w in words), lines[0]
