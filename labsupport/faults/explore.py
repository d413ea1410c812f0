"""Sliders for the fault proxy: pick a latency and a jitter, see the round trips move.

Each move runs :func:`~.probe.compare_latency` for real (a line-echo server in this process,
the proxy in its thread, a client on one connection) and redraws the three histograms, direct,
through the proxy and through the proxy with the chosen faults, with their summary table.
"""

from __future__ import annotations

from typing import Any

from .probe import compare_latency, local_echo


def show_faults(latency_ms: float = 5.0, jitter_ms: float = 1.0, n: int = 200,
                seed: int = 0) -> Any:
    """Measure and plot direct vs proxied round trips; return the summary table."""
    import matplotlib.pyplot as plt

    from labsupport.measure import plot_overlay

    with local_echo() as upstream:
        recs, _ = compare_latency(upstream, n=n, latency_ms=latency_ms, jitter_ms=jitter_ms,
                                  seed=seed)
    _, table = plot_overlay(recs, baseline="direct",
                            title=f"echo round trips, +{latency_ms:g} ms ± {jitter_ms:g} ms")
    plt.show()
    return table


def fault_explorer(n: int = 200) -> Any:
    """Latency and jitter sliders; each release re-measures with :func:`show_faults`."""
    import ipywidgets as w
    from IPython.display import display

    controls = dict(
        latency_ms=w.FloatSlider(value=5, min=0, max=50, step=0.5, description="latency ms",
                                 continuous_update=False),
        jitter_ms=w.FloatSlider(value=1, min=0, max=20, step=0.5, description="jitter ms",
                                continuous_update=False),
    )
    out = w.interactive_output(lambda **kw: display(show_faults(n=n, **kw)), controls)
    return w.VBox([w.HBox(list(controls.values())), out])
