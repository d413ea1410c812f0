"""The full-scale streaming run: a tick dataset far larger than memory, resampled with bounded RSS.

What it mirrors: the research job that turns a year of raw ticks into bars on one machine
without loading them, as one does with pyarrow datasets (or Spark/DuckDB over the same hive
layout). The dataset is generated once, by :func:`.sources.generate_dataset`, into the build
folder (``build/backtest/ticks-N-SxD-sK``) and reused by every later run: a marker file
(``_dataset.json``, the generator's summary) is written last, so a run that was interrupted
while writing leaves no half dataset that looks finished (it is regenerated).

Theory of operation
-------------------
:func:`stream_run` resamples every symbol in turn through :func:`.sources.memory_trace`:
files picked by partition, each read one row group at a time (about 32 k ticks, 0.7 MB of
three columns), folded into minute bars and dropped. Memory therefore depends on the row
group and on the bars (a few hundred bytes per symbol-minute), not on the number of ticks; the
trace records, after every batch, the seconds, the ticks read and the process's RSS, so a
leak would show as a slope. The rate is ticks per wall second of the whole pass, reading and
decoding Parquet included.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd

from ..measure import build_dir
from .sources import ROW_GROUP, generate_dataset, memory_trace, symbols

MARKER = "_dataset.json"


def dataset_dir(n_ticks: int, n_symbols: int, days: int, seed: int) -> Path:
    return build_dir() / "backtest" / f"ticks-{n_ticks}-{n_symbols}x{days}-s{seed}"


def ensure_dataset(n_ticks: int, n_symbols: int = 4, days: int = 250, seed: int = 12) -> tuple[Path, float | None]:
    """The dataset's folder, generated unless a finished one is there; and the seconds the
    generation took (None when reused)."""
    out = dataset_dir(n_ticks, n_symbols, days, seed)
    if (out / MARKER).exists():
        return out, None
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = generate_dataset(partial, n_ticks, n_symbols, days, seed)
    (partial / MARKER).write_text(json.dumps(summary) + "\n")
    partial.rename(out)
    return out, time.perf_counter() - t0


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


def stream_run(n_ticks: int, n_symbols: int = 4, days: int = 250, seed: int = 12,
               batch_rows: int = ROW_GROUP) -> tuple[dict, pd.DataFrame]:
    """Generate (or reuse) the dataset, resample it all; return a summary row and the RSS trace
    (one row per batch: symbol, seconds since the start, ticks read, Arrow bytes, RSS)."""
    path, gen_s = ensure_dataset(n_ticks, n_symbols, days, seed)
    traces, bars, elapsed, done = [], 0, 0.0, 0
    for sym in symbols(path):
        t = memory_trace(path, sym, batch_rows=batch_rows)
        bars += t.attrs["bars"]
        t["seconds"] += elapsed
        t["ticks_read"] += done
        elapsed += t.attrs["seconds"]
        done = int(t["ticks_read"].iloc[-1]) if len(t) else done
        traces.append(t.assign(symbol=sym))
    trace = pd.concat(traces, ignore_index=True)
    row = {"ticks": done, "bars": bars, "files": sum(1 for _ in path.rglob("*.parquet")),
           "disk_MiB": disk_bytes(path) / 2**20,
           "generate_s": float("nan") if gen_s is None else gen_s, "seconds": elapsed,
           "ticks_per_s": done / elapsed if elapsed else float("nan"),
           "rss_first_MiB": float(trace["rss_bytes"].iloc[0]) / 2**20,
           "rss_peak_MiB": float(trace["rss_bytes"].max()) / 2**20,
           "arrow_peak_MiB": float(trace["arrow_bytes"].max()) / 2**20}
    return row, trace


__all__ = ["MARKER", "dataset_dir", "disk_bytes", "ensure_dataset", "stream_run"]
