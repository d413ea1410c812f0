"""The project frame: conda environment in step with pyproject, the command line, the lab table."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from labsupport.__main__ import main
from labsupport.labs import LABS, UnknownLabError, find_lab

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_matches_pyproject() -> None:
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    project = _pyproject()["project"]
    # Same Python: the conda pin is the minimum pyproject allows.
    pin = re.search(r"^\s*-\s*python\s*=\s*([\d.]+)\s*$", env, re.M)
    assert pin, "environment.yml must pin python"
    assert project["requires-python"] == f">={pin.group(1)}"
    # The package itself, editable, with extras that exist and include lab and test.
    editable = re.search(r"^\s*-\s*-e\s+\.\[([\w,]+)\]\s*$", env, re.M)
    assert editable, "environment.yml must pip-install this package with -e .[extras]"
    extras = set(editable.group(1).split(","))
    assert {"lab", "test"} <= extras
    assert extras <= set(project["optional-dependencies"]), "an extra that pyproject lacks"
    # No conda package that would shadow a pyproject dependency and drift from it.
    deps = env.split("dependencies:", 1)[1]
    conda_pkgs = re.findall(r"^  - ([A-Za-z][\w.-]*)\s*(?:[=<>].*)?$", deps, re.M)
    assert set(conda_pkgs) <= {"python", "pip"}, f"declare these in pyproject: {conda_pkgs}"


def test_pyproject_extras() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    assert {"lab", "test", "peers", "fast", "dist"} <= set(extras)
    assert any(d.startswith("nbval") for d in extras["test"])


def test_lab_table() -> None:
    assert [lab.number for lab in LABS] == [f"{i:02d}" for i in range(16)]
    assert find_lab("1") is find_lab("01") is find_lab("http_server")
    with pytest.raises(UnknownLabError):
        find_lab("99")
    for lab in LABS:
        if lab.status != "planned":
            assert lab.notebook.exists(), f"lab {lab.number} is {lab.status} but has no notebook"
            assert lab.tests, f"lab {lab.number} is {lab.status} but has no tests"


def test_cli_lists_labs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "HTTP/1.1 server" in out
    for lab in LABS:  # every lab on its line, with its status
        assert any(line.split()[:2] == [lab.number, lab.status] for line in out.splitlines()), lab


def test_cli_unknown_lab_is_one_line_and_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "labsupport", "run", "99"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "python -m labsupport: error: no lab '99'; `python -m labsupport list` shows them"


def test_cli_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "labsupport", "--help"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "run all --inplace" in proc.stdout
