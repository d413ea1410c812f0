"""The lab's figures: true offset over time for several runs, and Allan deviation curves.

Offsets are signed and span nanoseconds to milliseconds (a cold start begins 1 ms away), so
the offset axis is ``symlog``: linear within ±``linthresh_ns``, logarithmic beyond, which shows
the step, the convergence and the residual on one plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .clock import Oscillator, allan_deviation
from .simulation import Row

__all__ = ["plot_offsets", "plot_allan", "free_and_disciplined_phase"]

_S = 1_000_000_000


def plot_offsets(runs: Mapping[str, Sequence[Row]], *, title: str = "true offset over time",
                 linthresh_ns: float = 100.0, slave: str = "slave1", ax: Any = None) -> Any:
    """One line per named run: the slave's true offset (ns) against simulated time (s)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6))
    for name, rows in runs.items():
        mine = [r for r in rows if r.slave == slave]
        ax.plot([r.t_s for r in mine], [r.true_offset_ns for r in mine], lw=0.9, label=name)
    ax.set_yscale("symlog", linthresh=linthresh_ns)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("slave - master (ns, symlog)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def free_and_disciplined_phase(rows: Sequence[Row], osc: Oscillator, *, slave: str = "slave1"
                               ) -> tuple[list[float], list[float], float]:
    """(free-running phase error, disciplined phase error, interval s) sampled at the rows'
    times: the oscillator alone (its phase minus true time) against the slave's true offset."""
    mine = [r for r in rows if r.slave == slave]
    free = [osc.read(round(r.t_s * _S)) - round(r.t_s * _S) for r in mine]
    tau0 = (mine[-1].t_s - mine[0].t_s) / max(len(mine) - 1, 1)
    return free, [r.true_offset_ns for r in mine], tau0


def plot_allan(curves: Mapping[str, tuple[Sequence[float], float]], *,
               title: str = "Allan deviation", ax: Any = None) -> Any:
    """``curves``: name -> (phase samples in ns, sample interval in s); log-log ADEV vs tau."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for name, (phase, tau0) in curves.items():
        points = allan_deviation(list(phase), tau0)
        ax.loglog([p[0] for p in points], [p[1] for p in points], marker="o", ms=3, label=name)
    ax.set_xlabel("averaging time tau (s)")
    ax.set_ylabel("Allan deviation (fractional)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return ax
