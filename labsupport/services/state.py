"""The run directory: where a supervised system keeps its logs and its state file.

::

    RUN_DIR/
      state.json          the system as the supervisor last saw it (written on every change)
      logs/NAME.log       each service's stdout and stderr, appended across restarts
      data/NAME/          private data directories of brokers (removed when they stop)

``state.json`` is what lets ``python -m labsupport.services status``, ``logs`` and ``down`` work
from another process than the one running ``up``: it names the supervisor's pid and every
service's pid (= its process group), port, state and counters. It is replaced atomically
(write to a temporary file, then ``os.replace``), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .spec import ServiceError

STATE_FILE = "state.json"
COLUMNS = ("service", "state", "pid", "port", "restarts", "health_failures", "last_exit")


class RunDirError(ServiceError):
    """The run directory has no (readable) state: nothing was started there."""


def write_state(run_dir: Path, doc: Mapping[str, Any]) -> None:
    """Replace ``run_dir/state.json`` with ``doc``, atomically."""
    path = run_dir / STATE_FILE
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_state(run_dir: Path) -> dict[str, Any]:
    """The state ``up`` left in ``run_dir``; :class:`RunDirError` if there is none."""
    path = run_dir / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path}: no supervised system was started in this run directory "
                          f"(start one with `up SPEC.toml --run-dir ...`)") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not a state file ({exc})") from None


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` is a live process (a zombie counts as dead)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: kill(0) said it exists


def format_table(rows: list[Mapping[str, Any]]) -> str:
    """The status rows as a fixed-width text table (the CLI's ``status``)."""
    cols = [*COLUMNS, "log"]
    cells = [[("-" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(lines)
