"""Execute a lab notebook headless: in place (fresh stored outputs) or to HTML in ``build/``.

The kernel starts in ``notebooks/`` (as in JupyterLab and under nbval), from a clean state, and
runs every cell in order; the first failing cell stops the run with the cell's number and error.
Stored notebooks are executed at ``LAB_SCALE=ci``, the scale nbval re-runs them at, so their
checked outputs compare exactly.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .measure.paths import build_dir, display_path


class NotebookRunError(RuntimeError):
    """Raised when a cell of a notebook fails or times out during a headless run."""


@dataclass(frozen=True, slots=True)
class RunResult:
    notebook: Path
    output: Path
    seconds: float
    cells: int


def _jupyter_env() -> None:
    """Keep Jupyter's and matplotlib's state under build/, never in the home folder."""
    base = build_dir() / "jupyter"
    for var, sub in (
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("MPLCONFIGDIR", "mpl"),
    ):
        if var not in os.environ:
            path = base / sub
            path.mkdir(parents=True, exist_ok=True)
            os.environ[var] = str(path)
    # The kernel must use its inline backend so figures land in the notebook, not Agg.
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        del os.environ["MPLBACKEND"]
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def execute_notebook(
    path: str | os.PathLike[str],
    *,
    inplace: bool = False,
    scale: str | None = None,
    cell_timeout_s: int = 300,
) -> RunResult:
    """Run ``path`` top to bottom; write it back (``inplace``) or to ``build/notebooks/*.html``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    _jupyter_env()
    nb_path = Path(path).resolve()
    nb = nbformat.read(nb_path, as_version=4)
    if scale is not None:
        os.environ["LAB_SCALE"] = scale
    elif inplace:
        os.environ["LAB_SCALE"] = "ci"  # stored outputs are CI scale, what nbval checks against
    client = NotebookClient(
        nb,
        timeout=cell_timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(nb_path.parent)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
        raise NotebookRunError(
            f"{display_path(nb_path)}: a cell failed: {' | '.join(first[-3:])}"
        ) from None
    seconds = time.perf_counter() - t0
    if inplace:
        # Drop the per-run execution timestamps so a re-run only changes what really changed.
        for cell in nb.cells:
            cell.get("metadata", {}).pop("execution", None)
        nbformat.write(nb, nb_path)
        out = nb_path
    else:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        out = build_dir() / "notebooks" / f"{nb_path.stem}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding="utf-8")
    return RunResult(nb_path, out, seconds, len(nb.cells))
