"""Coordinated omission, computed: what a closed-loop and an open-loop client record from one server.

The live demonstration in notebook 00 runs a real stalling server under :func:`~.loadgen.run_load`.
This module computes the same two recordings from a model of the server, in microseconds of CPU, so
a slider can move the stall and the request rate and the histograms follow at once.

The model (one server, one request at a time, first come first served):

- request ``i`` takes ``service_ns`` to serve, except every ``stall_every``-th one, which takes
  ``stall_ns`` (a garbage-collection pause, a page fault storm, an fsync);
- a **closed-loop** client sends request ``i + 1`` when reply ``i`` arrives and records
  ``finish - send``: during a stall it simply stops sending, so the stall shows up once;
- an **open-loop** client intends to send request ``i`` at ``i * interval_ns`` (a constant rate)
  and records ``finish - intended``: the requests that queue behind a stall all carry its cost,
  as the users who sent them would have seen it.

With ``start_i = max(intended_i, finish_{i-1})`` and ``finish_i = start_i + cost_i``, the open-loop
latencies are one pass over the costs (:func:`open_loop_latencies`); the same recurrence is the
M/D/1-like queue every load test with a fixed rate is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .recorder import LatencyRecorder


@dataclass(frozen=True, slots=True)
class StallModel:
    """A server that is fast except for periodic stalls, and the rate an open-loop client sends at."""

    service_ns: int = 50_000
    stall_every: int = 500
    stall_ns: int = 100_000_000
    rate_per_s: float = 5_000.0
    requests: int = 20_000

    def costs(self) -> np.ndarray:
        """Service time of each request, in ns."""
        if self.service_ns <= 0 or self.stall_every <= 0 or self.requests <= 0:
            raise ValueError("service_ns, stall_every and requests must be positive")
        cost = np.full(self.requests, self.service_ns, dtype=np.int64)
        cost[self.stall_every - 1 :: self.stall_every] = self.stall_ns
        return cost

    @property
    def interval_ns(self) -> int:
        return max(1, round(1e9 / self.rate_per_s))


def open_loop_latencies(costs_ns: np.ndarray, interval_ns: int) -> np.ndarray:
    """Latency of each request from its intended send time ``i * interval_ns`` (first come first
    served, one at a time): ``finish_i - intended_i``."""
    out = np.empty(len(costs_ns), dtype=np.int64)
    free_at = 0  # when the server finishes the previous request
    for i, cost in enumerate(costs_ns.tolist()):
        intended = i * interval_ns
        start = intended if intended > free_at else free_at
        free_at = start + cost
        out[i] = free_at - intended
    return out


def record_both(model: StallModel) -> tuple[LatencyRecorder, LatencyRecorder]:
    """The closed-loop recording (each request's own service time) and the open-loop one."""
    costs = model.costs()
    closed = LatencyRecorder.from_array("closed loop", costs)
    opened = LatencyRecorder.from_array(f"open loop at {model.rate_per_s:,.0f}/s",
                                        open_loop_latencies(costs, model.interval_ns))
    return closed, opened


def show_stall(service_us: float = 50.0, stall_ms: float = 100.0, stall_every: int = 500,
               rate_per_s: float = 5_000.0, requests: int = 20_000):
    """Plot both recordings overlaid and return the summary table (what the explorer shows)."""
    import matplotlib.pyplot as plt

    from .plots import plot_overlay

    model = StallModel(service_ns=int(service_us * 1e3), stall_every=stall_every,
                       stall_ns=int(stall_ms * 1e6), rate_per_s=rate_per_s, requests=requests)
    fig, table = plot_overlay(list(record_both(model)), baseline="closed loop",
                              title=f"one stall of {stall_ms:g} ms every {stall_every} requests")
    plt.show()
    return table


def stall_explorer():
    """Sliders for the stall and the rate; each move redraws :func:`show_stall`."""
    import ipywidgets as w
    from IPython.display import display

    controls = dict(
        service_us=w.FloatLogSlider(value=50, base=10, min=0, max=3, description="service µs"),
        stall_ms=w.FloatLogSlider(value=100, base=10, min=-1, max=3, description="stall ms"),
        stall_every=w.IntSlider(value=500, min=10, max=5000, step=10, description="stall every"),
        rate_per_s=w.FloatLogSlider(value=5000, base=10, min=2, max=5, description="rate /s"),
    )
    out = w.interactive_output(lambda **kw: display(show_stall(**kw)), controls)
    return w.VBox([w.HBox(list(controls.values())[:2]), w.HBox(list(controls.values())[2:]), out])
