"""Who was busy during a load run: the server process, its core, the load generator's core.

The benchmark pins the proxy to one core and the backends with the load generator to the
other, so a closed-loop rate is set by whichever saturates first. :class:`CpuWatch` samples,
from /proc, the CPU seconds of the server's process tree (nginx counts with its workers) and
each core's busy jiffies (``/proc/stat``: everything on the core, other programs included)
every 50 ms in a thread while a run goes on. :meth:`CpuWatch.window` then gives the shares over
the measured window: its length, up to the server's last working sample (one with at least a
quarter of its busiest step's CPU; the run's tail, when the load generator exits and hands its
samples over while the server idles or closes connections, is left out):
``server_pct`` (percent of one core the server used), ``cpuN_pct`` per core, and :func:`limit`
names the side that saturated
(a share of at least 90 %), or says that neither did (the run was latency-bound: too few
connections to fill either side). Where /proc is missing every share is None.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["CpuWatch", "limit", "tree_cpu_s"]

FULL_PCT = 90.0


def tree_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its live children, or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total + sum(tree_cpu_s(c) or 0.0 for c in children)


def _cores() -> list[tuple[int, int]] | None:
    """(busy, total) jiffies per core from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = [ln.split() for ln in f if ln.startswith("cpu") and ln[3].isdigit()]
    except OSError:
        return None
    out = []
    for parts in lines:
        ticks = [int(x) for x in parts[1:9]]  # user nice system idle iowait irq softirq steal
        out.append((sum(ticks) - ticks[3] - ticks[4], sum(ticks)))
    return out


class CpuWatch:
    """``with CpuWatch(pid) as w: run...``; then ``w.window(seconds)``."""

    def __init__(self, pid: int | None, every_s: float = 0.05) -> None:
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float | None, list[tuple[int, int]] | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-watch", daemon=True)

    def _sample(self) -> None:
        self.samples.append((time.monotonic(), tree_cpu_s(self.pid) if self.pid else None,
                             _cores()))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __enter__(self) -> CpuWatch:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def window(self, seconds: float) -> dict[str, float | None]:
        """Shares (percent) over the last ``seconds`` up to the server's last working sample:
        ``server_pct`` and ``cpuN_pct``."""
        known = [s for s in self.samples if s[1] is not None] or self.samples  # while it lived
        end = known[-1]
        if known[0][1] is not None:
            # working: at least a quarter of its busiest step (closing idle connections is not)
            steps = [(b[1] - a[1], b) for a, b in zip(known, known[1:])]  # type: ignore[operator]
            floor = max((d for d, _ in steps), default=0.0) / 4
            end = next((b for d, b in reversed(steps) if d > 0 and d >= floor), end)
        start = next((s for s in known if s[0] >= end[0] - seconds), known[0])
        out: dict[str, float | None] = {"server_pct": None}
        wall = end[0] - start[0]
        if wall <= 0:
            return out
        if start[1] is not None and end[1] is not None:
            out["server_pct"] = round(100 * (end[1] - start[1]) / wall, 1)
        if start[2] and end[2]:
            for i, ((b0, t0), (b1, t1)) in enumerate(zip(start[2], end[2], strict=False)):
                out[f"cpu{i}_pct"] = round(100 * (b1 - b0) / (t1 - t0), 1) if t1 > t0 else None
        return out


def limit(shares: dict[str, float | None], server_cpu: int, load_cpu: int) -> str:
    """Which side saturated: ``server`` (its process had a full core), ``load core``
    (backends + load generator), ``server core`` (shared with other programs) or ``neither``."""
    def full(key: str) -> bool:
        value = shares.get(key)
        return value is not None and value >= FULL_PCT

    if full("server_pct"):
        return "server"
    if full(f"cpu{load_cpu}_pct"):
        return "load core"
    if full(f"cpu{server_cpu}_pct"):
        return "server core"
    return "neither"
