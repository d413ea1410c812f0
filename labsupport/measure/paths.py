"""Where the lab writes things, and how paths are shown without naming the machine.

Outputs stored in notebooks must not carry a machine's absolute paths, so every instrument that
prints a file name passes it through :func:`display_path`.
"""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../labsupport
REPO_DIR = PACKAGE_DIR.parent  # the checkout (or site-packages for a plain install)


def build_dir() -> Path:
    """The lab's scratch folder: ``$LAB_BUILD_DIR`` or ``build/`` in the checkout."""
    env = os.environ.get("LAB_BUILD_DIR")
    if env:
        path = Path(env)
    elif (REPO_DIR / "pyproject.toml").exists():
        path = REPO_DIR / "build"
    else:
        path = Path.cwd() / "build"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _prefixes() -> list[tuple[str, str]]:
    """(absolute prefix, shown as) pairs, longest first so the most specific wins."""
    pairs: list[tuple[str, str]] = []
    for sp in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}:
        pairs.append((str(Path(sp).resolve()), "<site-packages>"))
    pairs.append((str(Path(sysconfig.get_paths()["stdlib"]).resolve()), "<stdlib>"))
    pairs.append((str(REPO_DIR), "."))
    pairs.append((str(Path(sys.prefix).resolve()), "<venv>"))
    pairs.append((str(Path.home()), "~"))
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the checkout (or a placeholder for site-packages, stdlib, home)."""
    text = str(Path(path).resolve()) if os.path.isabs(str(path)) else str(path)
    for prefix, shown in _prefixes():
        if text == prefix:
            return shown
        if text.startswith(prefix + os.sep):
            rest = text[len(prefix) + 1 :]
            return rest if shown == "." else f"{shown}/{rest}"
    return text


# Code typed into a notebook cell lives in a per-kernel temporary file.
_CELL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py")


def scrub_paths(text: str) -> str:
    """Replace every absolute prefix :func:`display_path` knows inside free text."""
    text = _CELL_FILE.sub("<notebook cell>", text)
    for prefix, shown in _prefixes():
        text = text.replace(prefix + os.sep, "" if shown == "." else shown + "/")
    return text
