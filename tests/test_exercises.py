"""Every exercise check passes on its reference solution and fails on its unmodified stub.

A check the stub passes checks nothing; a check the solution fails cannot be passed. Both are
defects, found here for every exercise of every lab. The framework's own output (one line per case,
the failing input with expected and actual, a summary) is checked on a toy exercise.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from labsupport import exercises as exmod
from labsupport.exercises import (
    Case,
    Property,
    check,
    exercises,
    load_module,
    solution_path,
    stub_path,
)
from labsupport.labs import LABS

ALL = exercises()


def test_every_lab_with_a_notebook_has_exercises() -> None:
    labs = {e.lab for e in ALL}
    missing = [lab.number for lab in LABS if lab.notebook.exists() and lab.number not in labs]
    assert not missing, f"labs with a notebook but no exercise checks: {missing}"


@pytest.mark.parametrize("ex", ALL, ids=lambda e: e.id)
def test_check_passes_on_the_reference_solution(ex) -> None:
    solution = getattr(load_module(solution_path(ex.lab)), ex.attr)
    result = check(ex.id, solution, quiet=True)
    assert result.passed, f"{ex.id} fails its own solution: {[r.detail for r in result.failed]}"
    assert len(result.results) >= 2, f"{ex.id}: a check needs several cases"


@pytest.mark.parametrize("ex", ALL, ids=lambda e: e.id)
def test_check_fails_on_the_unmodified_stub(ex) -> None:
    stub = getattr(load_module(stub_path(ex.lab)), ex.attr)
    result = check(ex.id, stub, quiet=True)
    assert not result.passed, f"{ex.id}: the unmodified stub passes its check"


@pytest.mark.parametrize("lab", sorted({e.lab for e in ALL}))
def test_solution_and_stub_files_hold_only_their_labs_exercises(lab: str) -> None:
    names = {e.attr for e in exercises(lab)}
    for path in (stub_path(lab), solution_path(lab)):
        module = load_module(path)
        assert all(hasattr(module, n) for n in names), f"{path.name} lacks one of {sorted(names)}"


# --- the framework itself, on a toy exercise --------------------------------------------------

@pytest.fixture
def toy(monkeypatch):
    registry = dict(exmod._REGISTRY)
    monkeypatch.setattr(exmod, "_REGISTRY", registry)

    @exmod.exercise("99.1", "Absolute value", attr="absolute")
    def cases(absolute):
        return [
            Case("positive stays", lambda: absolute(3), 3, input="3"),
            Case("negative flips", lambda: absolute(-4), 4, input="-4"),
            Property("matches abs()", lambda: range(-50, 50), absolute, abs),
        ]

    return "99.1"


def test_a_correct_solution_prints_pass_lines_and_a_summary(toy, capsys) -> None:
    result = check(toy, abs)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "99.1 Absolute value"
    assert out[1:4] == ["  PASS  positive stays", "  PASS  negative flips",
                        "  PASS  matches abs() (100 inputs)"]
    assert out[4].startswith("Passed -- 99.1 Absolute value: 3/3 cases in ")
    assert result.passed


def test_a_wrong_solution_names_the_input_expected_and_actual(toy, capsys) -> None:
    result = check(toy, lambda x: x)
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "  FAIL  negative flips: input -4: expected 4, got -4"
    assert out[3] == "  FAIL  matches abs(): input -50: expected 50, got -50"
    assert out[4].startswith("FAILED -- 99.1 Absolute value: 1/3 cases")
    assert not result.passed and len(result.failed) == 2


def test_an_exception_fails_its_case_and_the_others_still_run(toy, capsys) -> None:
    def stub(x):
        raise NotImplementedError

    def buggy(x):
        return {3: 3}[x]

    assert not check(toy, stub).passed
    assert "not implemented yet" in capsys.readouterr().out
    check(toy, buggy)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  PASS  positive stays"
    assert lines[2].startswith("  FAIL  negative flips: input -4: raised KeyError: -4 at ")


def test_unknown_exercise_is_a_clear_error() -> None:
    with pytest.raises(exmod.ExerciseError, match="no exercise '77.9'"):
        check("77.9", abs)


@pytest.mark.parametrize("source, status", [("--solution", 0), ("--stub", 1)])
def test_command_line_checks_a_whole_lab(source: str, status: int) -> None:
    lab = ALL[0].lab
    proc = subprocess.run([sys.executable, "-m", "labsupport", "check", lab, source],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == status, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    n = len(exercises(lab))
    assert last.startswith(f"{n} passed, 0 failed" if status == 0 else "0 passed,"), last
