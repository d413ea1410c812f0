"""Every notebook is stored executed, clean, checkable by nbval, and follows the lab's anatomy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labsupport.labs import LABS

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
LAB_SECTIONS = ["Goal", "Concepts", "Build", "Run", "Measure", "Profile", "Compare", "Break it",
                "Exercises"]
# Absolute paths of a machine: home folders, the checkout's usual places, temp folders.
MACHINE_PATH = re.compile(r"(/root/|/home/\w+|/work/|/tmp/|/Users/\w+|site-packages/)")
TOUR_SECTIONS = ["Goal", "Run", "Measure", "Exercises"]
MIN_CHECKED_CELLS = 3
# Notebooks that are not a numbered lab: the tours of the instruments.
EXTRA_NOTEBOOKS = {"00b_systems_toolkit.ipynb"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _ignored(cell: dict) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return (
        "nbval-ignore-output" in tags
        or "nbval-skip" in tags
        or "NBVAL_IGNORE_OUTPUT" in _source(cell)
        or "NBVAL_SKIP" in _source(cell)
    )


def _output_text(output: dict) -> str:
    if output["output_type"] == "stream":
        return "".join(output["text"])
    data = output.get("data", {})
    return "".join("".join(v) if isinstance(v, list) else str(v)
                   for k, v in data.items() if k.startswith("text/"))


def test_there_are_notebooks() -> None:
    assert any(p.name == "00_start_here.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_executed_in_order(path: Path) -> None:
    cells = _code_cells(_load(path))
    counts = [c["execution_count"] for c in cells if _source(c).strip()]
    assert all(isinstance(n, int) for n in counts), f"{path.name}: a code cell was never run"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: cells were not run once each, top to bottom, from a clean kernel: {counts}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_warnings_or_machine_paths(path: Path) -> None:
    for i, cell in enumerate(_code_cells(_load(path))):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name} cell {i}: error output"
            text = _output_text(out)
            if out["output_type"] == "stream" and out["name"] == "stderr":
                assert "Warning" not in text, f"{path.name} cell {i}: warning in output: {text[:200]}"
            match = MACHINE_PATH.search(text)
            assert match is None, f"{path.name} cell {i}: machine path {match.group(0)!r} in output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_several_outputs_are_checked_by_nbval(path: Path) -> None:
    checked = [c for c in _code_cells(_load(path)) if c.get("outputs") and not _ignored(c)]
    assert len(checked) >= MIN_CHECKED_CELLS, (
        f"{path.name}: only {len(checked)} cells have outputs nbval compares; "
        f"deterministic results (scenarios, parsed messages, counts) must be checked"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_reads_the_scale(path: Path) -> None:
    first = _code_cells(_load(path))[0]
    assert "parameters" in first.get("metadata", {}).get("tags", []), (
        f"{path.name}: the first code cell must be tagged 'parameters'"
    )
    assert "lab_scale" in _source(first), f"{path.name}: the parameters cell must read LAB_SCALE"


def _headings(nb: dict) -> list[str]:
    return [line.lstrip("#").strip()
            for c in nb["cells"] if c["cell_type"] == "markdown"
            for line in _source(c).splitlines() if line.startswith("## ")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_sections_in_order(path: Path) -> None:
    """A lab notebook has the full anatomy; a tour (00, 00b) has Goal, Run, Measure, Exercises."""
    wanted = TOUR_SECTIONS if path.name.startswith("00") else LAB_SECTIONS
    headings = _headings(_load(path))
    positions = []
    for section in wanted:
        at = [i for i, h in enumerate(headings) if h.lower().startswith(section.lower())]
        assert at, f"{path.name}: no '## {section}' section (headings: {headings})"
        positions.append(at[0])
    assert positions == sorted(positions), (
        f"{path.name}: sections out of order: {headings}; expected {wanted} in this order")


def test_every_notebook_is_in_the_table_of_labs() -> None:
    known = {lab.notebook.name for lab in LABS} | EXTRA_NOTEBOOKS
    assert {p.name for p in NOTEBOOKS} <= known
