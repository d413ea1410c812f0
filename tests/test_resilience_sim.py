"""Lab 14 in simulation: every fault on every component over many seeds, each sabotage caught,
replays exact, the kill switch under a partition, a runaway and a heartbeat loss, and the CLI."""

from __future__ import annotations

import csv
import json

import pytest

from labsupport.measure.scale import scaled
from labsupport.resilience import COMPONENTS, FAULTS, SABOTAGE, RunSpec, kill_latencies_ns, run
from labsupport.resilience.__main__ import main
from labsupport.resilience.component import Limits
from labsupport.sim import MS, run_seeds

SEEDS_PER_FAULT = scaled(9, 25, 100)  # x 12 faults: 108 runs at ci


def _clean(spec: RunSpec) -> None:
    r = run(spec)
    assert r.ok, r.explain()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_on_every_component_has_no_violation(fault):
    base = 1000 * (FAULTS.index(fault) + 1)

    def one(seed: int) -> None:
        component = COMPONENTS[seed % len(COMPONENTS)]
        _clean(RunSpec(seed=seed, fault=fault, component=component))

    run_seeds(one, range(base, base + SEEDS_PER_FAULT))


def test_faults_actually_happened():
    r = run(RunSpec(seed=5, fault="combined", component="oms"))
    assert len(r.history.faults) >= 3
    crash = run(RunSpec(seed=5, fault="crash", component="oms"))
    assert len(crash.history.of("oms", "restart")) == 3
    assert crash.history.of("oms", "reconciled")  # recovery ran, and finished
    loss = run(RunSpec(seed=5, fault="loss", component="exchange"), trace=True)
    assert loss.sim.net.dropped > 50


# -- sabotage: each broken mechanism is caught, and only when broken -----------------------------
SABOTAGE_CASES = {
    # switch: (fault, component, seeds, invariants it must break)
    "no-idempotency": ("delay", "oms", range(3), {"unique-order"}),
    "no-journal": ("crash", "oms", range(3), {"orders-resolved"}),
    "ack-before-journal": ("crash", "oms", range(8), {"orders-resolved"}),
    "no-resend": ("loss", "exchange", range(3), {"fills-once", "positions-agree"}),
    "no-reconcile": ("crash", "oms", range(3), {"orders-resolved"}),
}


def test_every_sabotage_switch_has_a_case():
    assert set(SABOTAGE_CASES) == set(SABOTAGE)


@pytest.mark.parametrize("sabotage", SABOTAGE)
def test_sabotage_is_caught_and_the_mechanism_is_what_prevents_it(sabotage):
    fault, component, seeds, invariants = SABOTAGE_CASES[sabotage]
    caught = []
    for seed in seeds:
        broken = run(RunSpec(seed=seed, fault=fault, component=component, sabotage=sabotage))
        found = {v.invariant for v in broken.violations}
        if found & invariants:
            caught.append(seed)
            assert "replay:" in broken.explain() and f"--sabotage {sabotage}" in broken.explain()
        # the same seed with the mechanism in place is clean: the checker blames the sabotage
        assert run(RunSpec(seed=seed, fault=fault, component=component)).ok, seed
    assert caught, f"{sabotage} under {fault} on {component} was never caught (seeds {seeds})"


# -- replay --------------------------------------------------------------------------------------
def test_replaying_a_seed_reproduces_the_history_exactly():
    spec = RunSpec(seed=42, fault="combined", component="exchange")
    a, b = run(spec, trace=True), run(spec, trace=True)
    assert a.history.digest() == b.history.digest()
    assert a.sim.trace.digest() == b.sim.trace.digest()
    assert [e for e in a.history.events] == [e for e in b.history.events]
    other = run(RunSpec(seed=43, fault="combined", component="exchange"))
    assert other.history.digest() != a.history.digest()


def test_replay_command_of_a_violation_reproduces_it(tmp_path, capsys):
    spec = RunSpec(seed=1, fault="crash", component="oms", sabotage="no-journal")
    first = run(spec)
    assert first.violations
    command = first.history.meta["replay"].split()
    assert command[:3] == ["python", "-m", "labsupport.resilience"]
    argv = command[3:]
    argv[argv.index("--out") + 1] = str(tmp_path)
    assert main(argv) == 1
    row = json.loads((tmp_path / "violations.jsonl").read_text().splitlines()[0])
    assert row["seed"] == 1 and row["message"] == first.violations[0].message


# -- the kill switch -----------------------------------------------------------------------------
def _partition_desk(sim, ctx):
    sim.at(250 * MS, sim.net.partition, ["oms", "strategy", "feed"], ["exchange", "dropcopy"])
    sim.at(600 * MS, sim.net.heal)


@pytest.mark.parametrize("seed", range(3))
def test_kill_switch_under_a_partition_cancels_everything(seed):
    r = run(RunSpec(seed=seed, settings=(("kill_at_ns", 300 * MS),)), setup=_partition_desk)
    assert r.ok, r.explain()
    (kill,) = r.history.of("exchange", "kill")
    assert kill.fields[1] >= 1  # it had working orders to cancel, from behind the partition
    statuses = {status for _cid, status, _cum in r.history.finals["exchange"]["orders"].values()}
    assert statuses <= {"filled", "cancelled"}  # nothing working at the exchange
    assert r.history.finals["exchange"]["blocked"]
    assert [t for t in kill_latencies_ns(r.history)] and kill_latencies_ns(r.history)[0] <= 1 * MS
    late = [e for e in r.history.of("exchange", "reject") if e.fields[1] == "blocked"]
    assert late  # the OMS's retries after the heal were refused at the gateway


def test_kill_switch_stops_a_runaway_algorithm():
    r = run(RunSpec(seed=3, settings=(("runaway_at_ns", 300 * MS), ("kill_rate", 100))))
    assert r.ok, r.explain()
    (trigger,) = r.history.of("kill", "trigger")
    assert trigger.fields[1] == "order-rate"
    accepts = r.history.of("exchange", "accept")
    assert accepts[-1].t_ns <= r.history.of("exchange", "kill")[0].t_ns


def test_kill_switch_on_heartbeat_loss():
    def crash(sim, ctx):
        sim.at(300 * MS, sim.crash, "oms", restart_after_ns=200 * MS)

    r = run(RunSpec(seed=3, settings=(("kill_hb_timeout_ns", 60 * MS),)), setup=crash)
    (trigger,) = r.history.of("kill", "trigger")
    assert trigger.fields[1] == "heartbeat" and 300 * MS < trigger.t_ns < 400 * MS
    assert r.ok, r.explain()


def test_kill_switch_on_a_lab06_drawdown_breach():
    r = run(RunSpec(seed=3, limits=Limits(drawdown_limit="0.05")))
    (trigger,) = r.history.of("kill", "trigger")
    assert trigger.fields[1] == "risk:drawdown"
    assert r.ok, r.explain()


@pytest.mark.parametrize("crash_after_ns", [None, 200_000, 5 * MS])
def test_kill_switch_flatten_closes_the_position_everywhere(crash_after_ns):
    """The close-out is an order the OMS never placed; it adopts it from its report, or, if it
    crashed before the report came, from the exchange's replay of it on the new session."""
    def crash(sim, ctx):
        if crash_after_ns is not None:
            sim.at(300 * MS + crash_after_ns, sim.crash, "oms", restart_after_ns=30 * MS)

    for seed in range(3):
        r = run(RunSpec(seed=seed, settings=(("kill_at_ns", 300 * MS), ("kill_flatten", True))),
                setup=crash)
        assert r.ok, r.explain()
        f = r.history.finals
        (flat,) = r.history.of("exchange", "flatten")
        assert flat.fields[2] > 0  # there was a position to close
        assert f["exchange"]["position"] == f["oms"]["position"] == f["dropcopy"]["position"] == 0


def test_no_kill_without_a_trigger():
    assert not run(RunSpec(seed=3)).history.of("kill", "trigger")


# -- the command line ----------------------------------------------------------------------------
def test_cli_simulate_writes_matrix_and_exits_0(tmp_path, capsys):
    assert main(["simulate", "--runs", "4", "--seed", "7", "--faults", "crash,loss",
                 "--components", "oms,exchange", "--out", str(tmp_path)]) == 0
    rows = list(csv.reader((tmp_path / "matrix.csv").open()))
    assert rows[0] == ["fault", "component", "runs", "violations"]
    assert sorted(r[:2] for r in rows[1:]) == [["crash", "exchange"], ["crash", "oms"],
                                              ["loss", "exchange"], ["loss", "oms"]]
    assert all(r[2:] == ["1", "0"] for r in rows[1:])
    assert (tmp_path / "violations.jsonl").read_text() == ""
    assert "0 runs with violations" in (tmp_path / "summary.txt").read_text()


def test_cli_simulate_with_sabotage_exits_1(tmp_path, capsys):
    assert main(["simulate", "--runs", "2", "--faults", "crash", "--components", "oms",
                 "--sabotage", "no-reconcile", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "VIOLATION" in out and "replay: python -m labsupport.resilience" in out
    assert (tmp_path / "violations.jsonl").read_text().count("\n") >= 2


@pytest.mark.parametrize("argv,words", [
    (["simulate", "--runs", "1", "--faults", "bogus", "--out", "x"], "unknown fault 'bogus'"),
    (["simulate", "--runs", "0", "--out", "x"], "--runs 0"),
    (["simulate", "--runs", "1", "--components", "gateway", "--out", "x"], "unknown component"),
])
def test_cli_bad_usage_exits_2_with_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_cli_unknown_sabotage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--runs", "1", "--sabotage", "nope", "--out", "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "invalid choice: 'nope'" in err and len(err.splitlines()) == 1
