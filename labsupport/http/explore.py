"""Load against latency, live: an open-loop client at a chosen rate and connection count against
a running server, and the latency histogram it records.

The explorer of notebook 01. Each setting is a real measurement with the lab's load generator
(``labsupport.measure.run_load``, open loop, latency from the intended send time), so a slider
shows what a queue does: below the server's capacity the histogram is the service time; near it
the tail grows; past it every request waits behind the ones before and the median leaves too.
``wrk2`` and ``vegeta`` are the production tools that work the same way.
"""

from __future__ import annotations

from typing import Any

from ..measure import HttpResponseFramer, LoadResult, run_load

__all__ = ["load_explorer", "measure_load", "show_load"]

GET_HELLO = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"


def measure_load(port: int, connections: int = 8, rate_per_s: float = 1000.0,
                 duration_s: float = 0.5, request: bytes = GET_HELLO,
                 host: str = "127.0.0.1", cpu: int | None = 1) -> LoadResult:
    """One open-loop run: ``rate_per_s`` requests per second spread over ``connections``."""
    if connections < 1 or rate_per_s <= 0 or duration_s <= 0:
        raise ValueError("connections, rate_per_s and duration_s must be positive")
    return run_load(host, port, request=request, framer=HttpResponseFramer(), mode="open",
                    rate_per_s=rate_per_s, connections=connections, duration_s=duration_s,
                    warmup_s=0.1, cpu=cpu, name=f"{connections} conn, {rate_per_s:,.0f}/s")


def show_load(port: int, connections: int = 8, rate_per_s: float = 1000.0,
              duration_s: float = 0.5, **kwargs: Any) -> dict[str, Any]:
    """Measure, plot the histogram (p50/p99/p99.9 marked) and return the run's numbers."""
    import matplotlib.pyplot as plt

    from ..measure.plots import plot_histogram

    result = measure_load(port, connections, rate_per_s, duration_s, **kwargs)
    plot_histogram(result.recorder, title=f"GET /hello, open loop: {connections} connections at "
                   f"{rate_per_s:,.0f} requests/s (log scale)")
    plt.show()
    keep = ("req_per_s", "p50_us", "p99_us", "p999_us", "max_us", "errors")
    return {k: v for k, v in result.metrics().items() if k in keep}


def load_explorer(port: int, duration_s: float = 0.5, **kwargs: Any):
    """Sliders for the connection count and the offered rate; letting go of one re-measures.

    Nothing is measured until a slider moves: call ``show_load`` once for the default view.
    """
    import ipywidgets as w
    from IPython.display import display

    connections = w.IntSlider(value=8, min=1, max=64, description="connections",
                              continuous_update=False)
    rate = w.FloatLogSlider(value=1000, base=10, min=2, max=5, description="rate /s",
                            continuous_update=False)
    out = w.Output()

    def update(_change: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            display(show_load(port, connections.value, rate.value, duration_s, **kwargs))

    connections.observe(update, names="value")
    rate.observe(update, names="value")
    return w.VBox([w.HBox([connections, rate]), out])
