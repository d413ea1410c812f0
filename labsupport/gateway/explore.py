"""The notebook's explorer: GCRA against a token bucket on a bursty trace, with sliders.

``plot_limiter`` draws cumulative arrivals and what each limiter allowed (the step where they
part is the difference); ``limiter_explorer`` puts rate, burst and bucket capacity on sliders
and redraws (ipywidgets). Called once with defaults so a stored notebook shows a figure.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from .lab import limiter_trace

__all__ = ["limiter_explorer", "plot_limiter"]


def plot_limiter(rate_per_s: float = 5.0, burst: int = 3, bucket_capacity: float | None = None,
                 seed: int = 1) -> Any:
    """Cumulative requests arrived / allowed by GCRA / allowed by a token bucket over time."""
    df = limiter_trace(rate_per_s, burst, seed, bucket_capacity=bucket_capacity)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.step(df.t_s, range(1, len(df) + 1), where="post", label="arrived", color="0.6")
    ax.step(df.t_s, df.gcra.cumsum(), where="post", label=f"GCRA rate={rate_per_s:g}/s burst={burst}")
    cap = burst + 1 if bucket_capacity is None else bucket_capacity
    ax.step(df.t_s, df.token_bucket.cumsum(), where="post", linestyle="--",
            label=f"token bucket capacity={cap:g}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("requests (cumulative)")
    ax.set_title(f"Allowed requests on a bursty trace: GCRA {int(df.gcra.sum())}, "
                 f"bucket {int(df.token_bucket.sum())} of {len(df)}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def limiter_explorer() -> Any:
    """Sliders for rate, burst and bucket capacity; the figure redraws on every change."""
    import ipywidgets as w
    from IPython.display import display

    out = w.Output()
    rate = w.FloatSlider(value=5.0, min=1.0, max=20.0, step=1.0, description="rate/s")
    burst = w.IntSlider(value=3, min=0, max=10, description="burst")
    cap = w.FloatSlider(value=4.0, min=1.0, max=11.0, step=1.0, description="bucket cap")

    def redraw(_: Any = None) -> None:
        out.clear_output(wait=True)
        with out:
            fig = plot_limiter(rate.value, burst.value, cap.value)
            display(fig)
            plt.close(fig)  # shown once, by display, not again at the end of the cell

    for slider in (rate, burst, cap):
        slider.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([rate, burst, cap]), out])
