"""The numbers behind notebook 04's explorers: TTL and active-expiry effort against memory held,
and the cost of a glob with many stars.

* :func:`show_expiry` runs :func:`.demo.expiry_reclaim` (a keyspace on a fake clock, one
  active-expiry cycle per cron tick) for a TTL window, an effort (``sample`` keys per loop,
  repeat while more than ``stale_pct`` % were expired) and a cron rate (``hz``), plots keys and
  MiB held against what is logically alive, and returns a one-row summary: how many expired keys
  were still held on average (memory nobody can read), and how much CPU the cycles took.
  :func:`expiry_explorer` puts sliders on it.
* :func:`glob_blowup` times the textbook backtracking glob matcher against the server's
  (:mod:`.glob`) on ``a*a*...*b`` against a string of ``a``\\ s, for a growing number of stars;
  :func:`show_glob_blowup` plots it on a log scale.

Nothing here simulates: the keyspace, the expiry cycle and the matchers are the server's own.
"""

from __future__ import annotations

import time

import pandas as pd

from . import glob
from .demo import expiry_reclaim

__all__ = ["expiry_summary", "show_expiry", "expiry_explorer", "glob_blowup",
           "show_glob_blowup"]


def expiry_summary(curve: pd.DataFrame) -> dict[str, float]:
    """What one run of :func:`.demo.expiry_reclaim` cost and left behind."""
    stale = curve.keys_held - curve.keys_alive
    return {"stale keys held (mean)": round(float(stale.mean()), 1),
            "stale keys held (max)": int(stale.max()),
            "MiB held at the end": round(float(curve.mib_held.iloc[-1]), 2),
            "expired by the cycle": int(curve.expired_total.iloc[-1]),
            "cycle CPU ms (total)": round(float(curve.cycle_ms.sum()), 1)}


def show_expiry(ttl_window_ms: int = 2_000, stale_pct: int = 10, sample: int = 20,
                hz: int = 10, n_keys: int = 10_000, seconds: float = 4.0,
                seed: int = 7) -> pd.DataFrame:
    """Plot keys and memory held over ``seconds`` of fake time; return the summary row."""
    import matplotlib.pyplot as plt

    step_ms = max(1, round(1000 / hz))
    curve = expiry_reclaim(n_keys=n_keys, ttl_window_ms=ttl_window_ms,
                           steps=max(1, round(seconds * 1000 / step_ms)), step_ms=step_ms,
                           persistent=n_keys // 20, seed=seed, sample=sample,
                           stale_pct=stale_pct)
    fig, (keys, mem) = plt.subplots(1, 2, figsize=(12, 3.6))
    t = curve.t_ms / 1000
    keys.plot(t, curve.lazy_only, ls="--", color="grey", label="lazy expiry only")
    keys.plot(t, curve.keys_held, label="keys held")
    keys.plot(t, curve.keys_alive, ls=":", color="black", label="keys alive (readable)")
    keys.fill_between(t, curve.keys_alive, curve.keys_held, alpha=0.25, label="stale, held")
    keys.set_xlabel("time (s)")
    keys.set_ylabel("keys")
    keys.set_ylim(bottom=0)
    keys.set_title(f"TTLs in (0, {ttl_window_ms} ms]; sample {sample}, stale {stale_pct} %, "
                   f"hz {hz}", fontsize=10)
    keys.legend(fontsize=8)
    mem.plot(t, curve.mib_held, color="tab:purple")
    mem.set_xlabel("time (s)")
    mem.set_ylabel("MiB held (tracemalloc)")
    mem.set_ylim(bottom=0)
    mem.set_title("memory held by the keyspace", fontsize=10)
    plt.tight_layout()
    plt.show()
    return pd.DataFrame([expiry_summary(curve)], index=[f"sample {sample}, stale {stale_pct} %"])


def expiry_explorer(n_keys: int = 10_000):
    """Sliders for the TTL window and the cycle's effort; each move re-runs and redraws.

    Nothing runs until a slider moves: the notebook shows :func:`show_expiry`'s default output
    above the sliders, and a run costs a few seconds of tracemalloc-traced work.
    """
    import ipywidgets as w
    from IPython.display import display

    ttl = w.IntSlider(value=2_000, min=100, max=5_000, step=100, description="TTL window ms",
                      continuous_update=False)
    stale = w.IntSlider(value=10, min=1, max=100, description="stale_pct",
                        continuous_update=False)
    sample = w.IntSlider(value=20, min=1, max=100, description="sample",
                         continuous_update=False)
    hz = w.IntSlider(value=10, min=1, max=50, description="hz", continuous_update=False)
    out = w.Output()

    def redraw(_change=None) -> None:
        with out:
            out.clear_output(wait=True)
            display(show_expiry(ttl.value, stale.value, sample.value, hz.value, n_keys))

    for slider in (ttl, stale, sample, hz):
        slider.observe(redraw, names="value")
    return w.VBox([w.HBox([ttl, stale]), w.HBox([sample, hz]), out])


def glob_blowup(stars=range(1, 11), budget_s: float = 0.5) -> pd.DataFrame:
    """Seconds to find that ``a*a*...*b`` (``k`` stars) does not match ``a`` x ``2k + 4``.

    The backtracking matcher is timed until one point exceeds ``budget_s``; later points are
    left empty (they would take minutes, then hours).
    """
    rows = []
    naive_ok = True
    for k in stars:
        pattern, s = b"a*" * k + b"b", b"a" * (2 * k + 4)
        row = {"stars": k, "string bytes": len(s)}
        for name, fn in (("backtracking", glob.match_backtracking),
                         ("linear (Python)", glob.match_linear), ("server (re)", glob.match)):
            if name == "backtracking" and not naive_ok:
                row[name] = float("nan")
                continue
            glob.compile(pattern)                  # the server caches compiled patterns
            t0 = time.perf_counter()
            assert fn(pattern, s) is False
            row[name] = time.perf_counter() - t0
            if name == "backtracking" and row[name] > budget_s:
                naive_ok = False
        rows.append(row)
    return pd.DataFrame(rows).set_index("stars")


def show_glob_blowup(stars=range(1, 11), budget_s: float = 0.5) -> pd.DataFrame:
    """Plot :func:`glob_blowup` on a log scale; return its table."""
    import matplotlib.pyplot as plt

    table = glob_blowup(stars, budget_s)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for name in ("backtracking", "linear (Python)", "server (re)"):
        ax.plot(table.index, table[name] * 1e6, marker="o", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("stars in a*a*...*b (string of 2k+4 a's)")
    ax.set_ylabel("microseconds (log scale)")
    ax.set_title("a glob with k stars: backtracking is exponential in k", fontsize=10)
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()
    return table
