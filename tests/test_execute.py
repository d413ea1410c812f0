"""Headless notebook execution behind `python -m labsupport run` and `make run`."""

from __future__ import annotations

import nbformat
import pytest

from labsupport.execute import NotebookRunError, execute_notebook


def _notebook(path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_to_html_in_build(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_BUILD_DIR", str(tmp_path / "build"))
    nb_path = tmp_path / "99_demo.ipynb"
    _notebook(nb_path, "print(6 * 7)")
    result = execute_notebook(nb_path)
    assert result.output == tmp_path / "build" / "notebooks" / "99_demo.html"
    assert "42" in result.output.read_text()
    assert nbformat.read(nb_path, 4).cells[0].outputs == []  # the source notebook is untouched


def test_inplace_stores_outputs_at_ci_scale_from_the_notebook_folder(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("LAB_SCALE", "default")
    nb_path = tmp_path / "99_demo.ipynb"
    _notebook(nb_path, "import os, pathlib\nprint(os.environ['LAB_SCALE'], pathlib.Path.cwd().name)")
    execute_notebook(nb_path, inplace=True)
    cell = nbformat.read(nb_path, 4).cells[0]
    assert cell.execution_count == 1
    assert cell.outputs[0]["text"] == f"ci {tmp_path.name}\n"


def test_a_failing_cell_names_the_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_BUILD_DIR", str(tmp_path / "build"))
    nb_path = tmp_path / "99_broken.ipynb"
    _notebook(nb_path, "x = 1", "raise ValueError('bad input at offset 3')")
    with pytest.raises(NotebookRunError, match="bad input at offset 3"):
        execute_notebook(nb_path)
