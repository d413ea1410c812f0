"""An explorer for PTP-lite on the simulator: move ppm, jitter, asymmetry, gains and the filter,
see the true offset over time and the residual it settles to.

:func:`residual` runs one seeded simulation and returns its steady-state numbers (the second
half of the run); :func:`show_sync` plots the run next to the same network without packet
selection and prints the numbers, which is what :func:`sync_explorer` redraws on each move. A
30 s run takes about a tenth of a second.
"""

from __future__ import annotations

from typing import Any

from .servo import Gains
from .simulation import FILTERS, Scenario, run
from .summary import percentile

__all__ = ["residual", "sweep", "show_sync", "sync_explorer"]


def residual(*, ppm: float = 20.0, jitter_ns: float = 1000.0, asymmetry_ns: int = 0,
             kp_scale: float = 0.7, ki_scale: float = 0.3, filter: str = "lucky",
             timestamping: str = "hw", sync_rate_hz: float = 16.0, duration_s: float = 30.0,
             seed: int = 1) -> dict[str, float]:
    """Steady-state true offset (second half): mean, p50 and p99 of |offset|, in ns."""
    rows = run(Scenario(seed=seed, duration_s=duration_s, ppm=ppm, jitter_ns=jitter_ns,
                        asymmetry_ns=asymmetry_ns, timestamping=timestamping, filter=filter,
                        sync_rate_hz=sync_rate_hz, gains=Gains(kp_scale, ki_scale)))
    tail = [r.true_offset_ns for r in rows if r.t_s > duration_s / 2]
    ordered = sorted(abs(x) for x in tail)
    return {"mean_ns": round(sum(tail) / len(tail), 1), "p50_ns": percentile(ordered, 50),
            "p99_ns": percentile(ordered, 99)}


def sweep(name: str, values: list, **base: Any) -> Any:
    """A table of :func:`residual` with ``name`` set to each of ``values`` (the rest ``base``)."""
    import pandas as pd

    table = pd.DataFrame([{name: v, **residual(**{**base, name: v})} for v in values])
    return table.set_index(name)


def show_sync(ppm: float = 20.0, jitter_ns: float = 1000.0, asymmetry_ns: int = 0,
              kp_scale: float = 0.7, ki_scale: float = 0.3, filter: str = "lucky",
              duration_s: float = 30.0, show: bool = True) -> dict[str, float]:
    """Plot the run with these settings (and without a filter) and print its residual."""
    import matplotlib.pyplot as plt

    from .plots import plot_offsets

    kw = dict(seed=1, duration_s=duration_s, ppm=ppm, jitter_ns=jitter_ns,
              asymmetry_ns=asymmetry_ns, gains=Gains(kp_scale, ki_scale))
    runs = {f"filter {filter}": run(Scenario(filter=filter, **kw))}
    if filter != "none":
        runs["no filter"] = run(Scenario(filter="none", **kw))
    plot_offsets(runs, title=f"PTP-lite: {ppm} ppm, jitter {jitter_ns:.0f} ns, asymmetry "
                             f"{asymmetry_ns} ns, kp {kp_scale}, ki {ki_scale}")
    if show:
        plt.show()
    numbers = residual(ppm=ppm, jitter_ns=jitter_ns, asymmetry_ns=asymmetry_ns,
                       kp_scale=kp_scale, ki_scale=ki_scale, filter=filter,
                       duration_s=duration_s)
    print("steady state:", ", ".join(f"{k} {v:g}" for k, v in numbers.items()))
    return numbers


def sync_explorer() -> Any:
    """Sliders for :func:`show_sync`; each change reruns the simulation and redraws."""
    import ipywidgets as w

    controls = dict(
        ppm=w.FloatSlider(value=20.0, min=-100, max=100, step=5, description="ppm"),
        jitter_ns=w.FloatLogSlider(value=1000, base=10, min=0, max=4, description="jitter ns"),
        asymmetry_ns=w.IntSlider(value=0, min=-5000, max=5000, step=250, description="asym ns"),
        kp_scale=w.FloatLogSlider(value=0.7, base=10, min=-2, max=1, description="kp"),
        ki_scale=w.FloatLogSlider(value=0.3, base=10, min=-3, max=0.5, description="ki"),
        filter=w.Dropdown(options=list(FILTERS), value="lucky", description="filter"),
    )
    out = w.interactive_output(lambda **kw: show_sync(**kw) and None, controls)
    values = list(controls.values())
    return w.VBox([w.HBox(values[:3]), w.HBox(values[3:]), out])
