"""Exercises of notebook 12: functions the backtester plugs in, checked against its own parts.

- 12.1 crossover signals without look-ahead: ``cross_signals(close, fast, slow)`` -> (entry,
  exit) plugged into a strategy run by the vectorised engine; its trades must equal the shipped
  ``sma_cross`` (itself equal to backtrader's), and a signal at bar ``i`` must not change when the
  bars after ``i`` change;
- 12.2 maximum drawdown and its duration: ``max_drawdown(equity)`` -> (deepest fall as a
  fraction, longest run of bars below a previous peak), checked against ``stats.drawdown``;
- 12.3 sweep chunks: ``chunk_params(sets, workers, min_runs)`` -> lists of parameter sets; the
  sweep built from them must cover every set once, in order, give at least ``workers`` chunks
  when there are enough sets, never a chunk below ``min_runs`` except the last, and produce the
  same results table as the package's own chunking.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backtest import BarStrategy, VectorEngine, make_strategy, run_sweep, sample_bars
from ..backtest.stats import drawdown, longest_below
from ..backtest.sweep import SweepTask, param_sets
from . import Case, Property, exercise


@functools.cache
def _series() -> tuple:
    return tuple(sample_bars(seed=s, days=3, ticks_per_day=6_000)["ACME"] for s in (121, 122, 123))


def _fills(result) -> list:
    return [(int(f["bar"]), int(f["side"]), float(f["price"])) for f in result.fills]


def _with_signals(cross_signals, fast: int, slow: int) -> BarStrategy:
    class Learner(BarStrategy):
        name = "learner"
        PARAMS = {"fast": fast, "slow": slow}

        def signals(self, bars):
            entry, exit_ = cross_signals(bars.close, self.params["fast"], self.params["slow"])
            return np.asarray(entry, bool), np.asarray(exit_, bool)

    return Learner()


@exercise("12.1", "Crossover signals without look-ahead", attr="cross_signals")
def check_cross_signals(cross_signals):
    series = _series()
    cases = []
    for fast, slow in ((10, 30), (5, 20), (3, 50)):
        for i, bars in enumerate(series[:2]):
            cases.append(Case(
                f"same fills as sma_cross({fast},{slow}) on series {i + 1}",
                lambda b=bars, f=fast, s=slow: _fills(VectorEngine().run(_with_signals(cross_signals, f, s), b)),
                _fills(VectorEngine().run(make_strategy("sma_cross", {"fast": fast, "slow": slow}), bars))))
    bars = series[2]
    cut = len(bars) // 2

    def prefix_stable(k: int) -> bool:
        full = cross_signals(bars.close, 10, 30)
        part = cross_signals(bars.close[:k], 10, 30)
        return all(np.array_equal(np.asarray(a)[:k], np.asarray(b)) for a, b in zip(full, part))

    cases.append(Property("a signal never depends on later bars", lambda: range(cut, cut + 200, 20),
                          prefix_stable, lambda k: True, show=lambda k: f"first {k} bars vs all"))
    return cases


def _curves(n: int = 40, seed: int = 122):
    rng = np.random.default_rng(seed)
    yield np.array([100.0, 100.0, 100.0])
    yield np.array([100.0, 110.0, 120.0])
    yield np.array([100.0, 90.0, 95.0, 101.0, 80.0, 85.0])
    for _ in range(n):
        yield 100_000 * np.cumprod(1 + rng.normal(0.0002, 0.01, rng.integers(2, 400)))


def reference_max_drawdown(equity) -> tuple[float, int]:
    dd = drawdown(np.asarray(equity, float))
    return float(dd.min()), longest_below(dd)


@exercise("12.2", "Maximum drawdown and its duration", attr="max_drawdown")
def check_max_drawdown(max_drawdown):
    close = lambda got, want: (abs(got[0] - want[0]) < 1e-12 and got[1] == want[1])  # noqa: E731
    return [
        Case("flat equity: no drawdown", lambda: tuple(max_drawdown(np.array([5.0, 5.0, 5.0]))), (0.0, 0),
             compare=close),
        Case("a fall, a new peak, a deeper fall", lambda: tuple(max_drawdown(np.array([100.0, 90, 95, 101, 80, 85]))),
             reference_max_drawdown([100.0, 90, 95, 101, 80, 85]), input="100 90 95 101 80 85", compare=close),
        Property("equals the package's drawdown on random curves", _curves,
                 lambda e: tuple(max_drawdown(e)), reference_max_drawdown,
                 show=lambda e: f"{e.size} points from {e[0]:.0f}", compare=close),
    ]


def _sets():
    return param_sets("sma_cross", {"fast": list(range(5, 30, 5)), "slow": list(range(20, 80, 10))})


def _chunk_cases():
    sets = _sets()
    for workers, min_runs in ((1, 1), (2, 5), (4, 3), (8, 10), (3, 100)):
        yield sets, workers, min_runs
    yield sets[:3], 4, 1


def _valid(chunks, sets, workers, min_runs) -> bool:
    flat = [p for c in chunks for p in c]
    if flat != list(sets) or any(len(c) == 0 for c in chunks):
        return False
    if any(len(c) < min_runs for c in chunks[:-1]):
        return False
    return len(chunks) >= min(workers, len(sets) // max(min_runs, 1) or 1)


@exercise("12.3", "Chunks of a parameter sweep", attr="chunk_params")
def check_chunk_params(chunk_params):
    bars = _series()[0]
    data = _sweep_dir(bars)
    sets = _sets()

    def sweep(chunks) -> list:
        tasks = [SweepTask(data, "ACME", "sma_cross", tuple(tuple(p.items()) for p in c)) for c in chunks]
        return run_sweep(tasks).round(12).to_dict("records")

    return [
        Property("every set once, in order; enough chunks; none too small but the last", _chunk_cases,
                 lambda c: _valid([list(x) for x in chunk_params(*c)], *c), lambda c: True,
                 show=lambda c: f"{len(c[0])} sets, {c[1]} workers, at least {c[2]} per chunk"),
        Case("the sweep from your chunks equals one chunk per set",
             lambda: sweep(chunk_params(sets, 2, 4)), sweep([[p] for p in sets])),
    ]


@functools.cache
def _sweep_dir(bars) -> str:
    import atexit
    import shutil
    import tempfile

    import pandas as pd

    path = tempfile.mkdtemp(prefix="lab12-check-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    pd.DataFrame({"ts": bars.ts_ns, "symbol": bars.symbol, "open": bars.open, "high": bars.high,
                  "low": bars.low, "close": bars.close, "volume": bars.volume}).to_csv(f"{path}/bars.csv", index=False)
    return path
