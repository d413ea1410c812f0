"""An explorer for the replicated-counter scenario: move the faults, see the run and its timeline.

Each control is one argument of :func:`~labsupport.sim.demo.run_counter`: the seed, the loss
rate, the median latency, whether ``r3`` is cut off and ``r2`` crashed, and whether replicas
fsync before they ack. :func:`show_counter` runs the scenario once and draws its timeline with
the run's summary as the title's second line, which is what the explorer redraws on each move.
A seeded run takes a few tens of milliseconds, so the sliders follow at once.
"""

from __future__ import annotations

from typing import Any

from .demo import CounterRun, run_counter
from .latency import MS
from .plot import plot_timeline

__all__ = ["show_counter", "counter_explorer"]


def show_counter(seed: int = 1, loss: float = 0.02, latency_ms: float = 2.0,
                 partition: bool = True, crash: bool = True, fsync: bool = True,
                 end_ms: int = 400, show: bool = True) -> CounterRun:
    """Run the scenario with these settings, plot its first ``end_ms`` and return the run."""
    import matplotlib.pyplot as plt

    run = run_counter(seed, loss=loss, median_latency_ns=int(latency_ms * MS),
                      partition=partition, crash=crash, fsync=fsync, unsynced="lose")
    ax = plot_timeline(run.sim.trace, end_ns=end_ms * MS, max_messages=250,
                       title=f"replicated counter, seed {seed}\n{run.summary().split(': ', 1)[1]}")
    ax.title.set_fontsize("small")
    if show:
        plt.show()
    return run


def counter_explorer() -> Any:
    """Sliders and toggles for :func:`show_counter`; each change reruns and redraws."""
    import ipywidgets as w

    controls = dict(
        seed=w.IntSlider(value=1, min=0, max=50, description="seed"),
        loss=w.FloatSlider(value=0.02, min=0.0, max=0.3, step=0.01, description="loss"),
        latency_ms=w.FloatLogSlider(value=2.0, base=10, min=-1, max=1.5, description="latency ms"),
        partition=w.Checkbox(value=True, description="cut r3 off"),
        crash=w.Checkbox(value=True, description="crash r2"),
        fsync=w.Checkbox(value=True, description="fsync before ack"),
    )
    out = w.interactive_output(lambda **kw: show_counter(**kw) and None, controls)
    values = list(controls.values())
    return w.VBox([w.HBox(values[:3]), w.HBox(values[3:]), out])
