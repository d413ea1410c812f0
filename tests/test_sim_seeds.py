"""labsupport.sim.seeds: a failing seed is named with its replay command, and the replay works."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

from labsupport.sim.seeds import SEED_ENV, SEEDS_ENV, SeedFailure, replay_command, run_seeds


def test_run_seeds_returns_every_result_when_nothing_fails(monkeypatch):
    monkeypatch.delenv(SEED_ENV, raising=False)
    monkeypatch.delenv(SEEDS_ENV, raising=False)
    assert run_seeds(lambda s: s * 2, [1, 2, 3]) == [2, 4, 6]


def test_a_failure_names_the_seed_and_the_replay_command(monkeypatch, capsys):
    monkeypatch.delenv(SEED_ENV, raising=False)

    def check(seed):
        assert seed != 3, "three is unlucky"
    with pytest.raises(SeedFailure) as info:
        run_seeds(check, range(10))
    err = info.value
    assert err.seed == 3 and isinstance(err.__cause__, AssertionError)
    here = "tests/test_sim_seeds.py::test_a_failure_names_the_seed_and_the_replay_command"
    assert err.command == f"{SEED_ENV}=3 python -m pytest {here}"
    assert "seed=3 failed: AssertionError: three is unlucky" in str(err)
    assert f"seed=3, replay: {err.command}" in capsys.readouterr().out


def test_the_environment_picks_the_seeds(monkeypatch):
    seen = []
    monkeypatch.setenv(SEED_ENV, "17")
    run_seeds(seen.append, range(100))
    assert seen == [17]
    monkeypatch.delenv(SEED_ENV)
    monkeypatch.setenv(SEEDS_ENV, "4")
    run_seeds(seen.append, [99])
    assert seen == [17, 0, 1, 2, 3]
    monkeypatch.setenv(SEEDS_ENV, "many")
    with pytest.raises(ValueError, match="LAB_SIM_SEEDS='many'"):
        run_seeds(seen.append, [1])


def test_replay_command_quotes_parametrized_ids():
    assert replay_command(5, "tests/t.py::test_x[a b]") == \
        "LAB_SIM_SEED=5 python -m pytest 'tests/t.py::test_x[a b]'"


FAILING_TEST = '''
from labsupport.sim import Node, Simulation, MS
from labsupport.sim.seeds import run_seeds

class Echo(Node):
    def on_message(self, src, msg):
        self.send(src, msg)

def check(seed):
    sim = Simulation(seed)
    sim.add_node("a", Echo); sim.add_node("b", Echo)
    sim.net.set_default(loss=0.2, latency=MS)
    sim.at(0, sim.send, "a", "b", "x")
    sim.run(until_ns=100 * MS)
    print("digest", seed, sim.trace.digest())
    # a "property" that some seeds break: the ball is still bouncing after 100 ms
    assert sim.trace.counts().get("drop", 0) == 0, "the ball was dropped"

def test_bouncing():
    run_seeds(check, range(20))
'''


def test_the_printed_replay_command_reruns_exactly_the_failing_seed(tmp_path):
    (tmp_path / "test_bounce.py").write_text(textwrap.dedent(FAILING_TEST))
    env = {k: v for k, v in os.environ.items() if k not in (SEED_ENV, SEEDS_ENV)}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the inner runs need no plugins: start faster
    first = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-s",
                            "test_bounce.py"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 1, first.stdout + first.stderr
    match = re.search(r"seed=(\d+), replay: (.+)", first.stdout)
    assert match, first.stdout
    seed, command = int(match.group(1)), match.group(2)
    assert command == f"{SEED_ENV}={seed} python -m pytest test_bounce.py::test_bouncing"
    digest = re.search(rf"digest {seed} (\w+)", first.stdout).group(1)

    words = shlex.split(command)
    replay_env = dict(env, **dict(w.split("=", 1) for w in words if "=" in w and "::" not in w))
    args = [w for w in words if "=" not in w or "::" in w]
    assert args[:3] == ["python", "-m", "pytest"]
    again = subprocess.run([sys.executable, *args[1:], "-q", "-p", "no:cacheprovider", "-s"],
                           cwd=tmp_path, env=replay_env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 1
    assert re.findall(r"digest (\d+) (\w+)", again.stdout) == [(str(seed), digest)]  # only it
    assert f"seed={seed}, replay: {command}" in again.stdout
