"""An explorer for fault rates: move loss, latency, duplication and crashes, see the run and verdict.

:func:`explore_run` runs the workflow once with every link set to the chosen loss, median
latency and duplication, the OMS crashed twice if asked, and one sabotage switch if chosen;
:func:`show_run` draws its timeline and prints the checker's verdict (the first violation with
its replay command). :func:`fault_explorer` wraps it in ipywidgets; a run takes a fraction of a
second, so the controls follow.
"""

from __future__ import annotations

from typing import Any

from labsupport.sim import MS, LogNormal

from .plot import plot_run
from .scenario import SABOTAGE, RunResult, RunSpec, run

__all__ = ["explore_run", "show_run", "fault_explorer"]


def explore_run(seed: int = 1, loss: float = 0.05, latency_ms: float = 0.5,
                duplicate: float = 0.05, crash_oms: bool = True,
                sabotage: str | None = None) -> RunResult:
    """One run with these fault rates on every link (the kill switch's line excepted)."""
    def setup(sim, ctx):
        for a in sim.hosts:
            for b in sim.hosts:
                if a < b and "kill" not in (a, b):
                    sim.net.set_link(a, b, latency=LogNormal(int(latency_ms * MS), 0.5),
                                     loss=loss, duplicate=duplicate)
        if crash_oms:
            for t in (200 * MS, 450 * MS):
                sim.at(t, lambda: ctx.history.fault(sim.now_ns, "crash", "oms (explorer)"))
                sim.at(t, sim.crash, "oms", restart_after_ns=40 * MS)
                sim.at(t + 40 * MS, lambda: ctx.history.fault(sim.now_ns, "restart", "oms"))

    return run(RunSpec(seed=seed, sabotage=sabotage or None), setup=setup)


def show_run(seed: int = 1, loss: float = 0.05, latency_ms: float = 0.5, duplicate: float = 0.05,
             crash_oms: bool = True, sabotage: str = "", show: bool = True) -> RunResult:
    """Run :func:`explore_run`, draw the timeline, print the verdict."""
    import matplotlib.pyplot as plt
    result = explore_run(seed, loss, latency_ms, duplicate, crash_oms, sabotage or None)
    plot_run(result)
    h = result.history
    print(f"seed {seed}: {len(h.finals['exchange']['orders'])} orders, "
          f"{len(h.finals['exchange']['fills'])} fills, final position "
          f"{h.finals['exchange']['position']}; {len(result.violations)} violations")
    if result.violations:
        v = result.violations[0]
        print(f"first: {v.invariant}: {v.message}")
    if show:
        plt.show()
    return result


def fault_explorer() -> Any:
    """Sliders for :func:`show_run`; each change reruns and redraws."""
    import ipywidgets as w
    controls = dict(
        seed=w.IntSlider(value=1, min=0, max=50, description="seed"),
        loss=w.FloatSlider(value=0.05, min=0.0, max=0.4, step=0.01, description="loss"),
        latency_ms=w.FloatLogSlider(value=0.5, base=10, min=-1, max=1.3, description="latency ms"),
        duplicate=w.FloatSlider(value=0.05, min=0.0, max=0.5, step=0.01, description="dup"),
        crash_oms=w.Checkbox(value=True, description="crash the OMS twice"),
        sabotage=w.Dropdown(options=["", *SABOTAGE], value="", description="sabotage"),
    )
    out = w.interactive_output(lambda **kw: show_run(**kw) and None, controls)
    values = list(controls.values())
    return w.VBox([w.HBox(values[:3]), w.HBox(values[3:]), out])
