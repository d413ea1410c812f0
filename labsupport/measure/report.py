"""Benchmark reports: one table on screen, one JSON file with the machine it ran on.

Every lab's ``bench.py`` fills a :class:`BenchReport` so that numbers from different runs and
machines can be compared: ``build/bench/<lab>.json`` holds the rows, the scale, the time and
:func:`machine_info`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from .paths import build_dir
from .scale import lab_scale


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, OS, Python, key library versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = int(fh.readline().split()[1])
        info["memory_gib"] = round(kb / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    # How busy the machine was: numbers taken at a load of 4 on 2 cores are not comparable.
    with contextlib.suppress(OSError):
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    for mod in ("numpy", "pandas", "uvloop", "numba"):
        module = sys.modules.get(mod)
        if module is None:
            try:
                module = __import__(mod)
            except ImportError:
                continue
        info[mod] = getattr(module, "__version__", "?")
    return info


def machine_line() -> str:
    """One line naming the machine, for the top of a Compare section."""
    m = machine_info()
    mem = f", {m['memory_gib']} GiB" if "memory_gib" in m else ""
    return f"{m['cpu']}, {m['usable_cpus']} usable CPUs{mem}, {m['os']}, {m['python']}"


class BenchReport:
    """Rows of named metrics from one benchmark run of one lab."""

    def __init__(self, lab: str) -> None:
        self.lab = lab
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, *, section: str | None = None, **metrics: Any) -> None:
        """Add a row: ``report.add("ours", req_per_s=51000.0, p99_us=830.0)``.

        Rows of different kinds (throughput, per-operation latency, sizes) go in different
        sections; :meth:`print` shows one table per section with only its own columns.
        """
        row: dict[str, Any] = {"name": name, **metrics}
        if section is not None:
            row["section"] = section
        self.rows.append(row)

    @property
    def frame(self) -> pd.DataFrame:
        import pandas as pd  # lazily: importing pandas costs about a second
        return pd.DataFrame(self.rows).set_index("name") if self.rows else pd.DataFrame()

    def print(self) -> None:
        print(f"{self.lab} benchmark ({lab_scale()} scale) on {machine_line()}")
        if not self.rows:
            print("(no rows)")
            return
        frame = self.frame
        if "section" not in frame.columns:
            print(frame.to_string())
            return
        sections = frame["section"].fillna("")
        for section in dict.fromkeys(sections):
            part = frame[sections == section].drop(columns="section").dropna(axis=1, how="all")
            print(f"\n[{section or 'other'}]")
            print(part.to_string())

    def write(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the JSON report (default ``build/bench/<lab>.json``) and return its path."""
        out = Path(path) if path is not None else build_dir() / "bench" / f"{self.lab}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "lab": self.lab,
            "scale": lab_scale(),
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "rows": self.rows,
        }
        out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
        return out
