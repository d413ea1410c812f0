"""Exercises of notebook 06: the risk engine's numbers, written by the learner and checked
against the package's own.

- 06.1 historical VaR 95 % of a window, with numpy's linear interpolation between order
  statistics (the engine's :class:`~labsupport.risk.var.HistoricalVaR` as the model);
- 06.2 one step of the alert hysteresis (warn at 80 %, breach at 100 %, clear below 70 %),
  driven along value paths through the engine's transition table;
- 06.3 EWMA VaR 95 % after each change (RiskMetrics, lambda 0.94), against
  :class:`~labsupport.risk.var.EwmaVaR`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..risk.alerts import NONE, transition, zone
from ..risk.var import EwmaVaR, HistoricalVaR
from . import Case, Property, exercise


def _close(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    try:
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return False


def _model_var(window: list[int]) -> float:
    h = HistoricalVaR(max(2, len(window)))
    for v in window:
        h.push(v)
    return h.var100 / 100 if len(window) >= 2 else 0.0


@exercise("06.1", "Historical VaR with linear interpolation", attr="historical_var")
def _historical_var(historical_var):
    def inputs():
        rng = np.random.default_rng(61)
        for n in (2, 3, 19, 20, 21, 40, 101, 250):
            for _ in range(4):
                yield (rng.standard_t(3, n) * 1000).round().astype(int).tolist()

    return [
        Case("fewer than two changes: 0", lambda: historical_var([-5]), 0, input="[-5]",
             compare=_close),
        Case("two changes: 5 % of the way from the lowest to the next",
             lambda: historical_var([-100, 0]), 95, input="[-100, 0]", compare=_close),
        Case("all gains: floored at 0", lambda: historical_var([1, 2, 3, 4]), 0,
             input="[1, 2, 3, 4]", compare=_close),
        Case("21 values: h = 1 exactly, the second lowest", lambda: historical_var(
            list(range(-10, 11))), 9, input="-10..10", compare=_close),
        Property("equals numpy.quantile(window, 0.05), negated, floored at 0", inputs,
                 lambda w: round(float(historical_var(w)), 6), lambda w: round(_model_var(w), 6),
                 show=lambda w: f"{len(w)} changes, min {min(w)}"),
    ]


def _path_levels(step, values, limit):
    state, out = NONE, []
    for v in values:
        state, level = step(state, v, limit)
        out.append(level)
    return out


def _model_step(state: int, value, limit) -> tuple[int, str | None]:
    v = Fraction(value) / Fraction(limit)
    return transition(state, zone(v.numerator, v.denominator))


@exercise("06.2", "Alert hysteresis: escalate, then clear below 70 %", attr="alert_step")
def _alert_step(alert_step):
    def inputs():
        rng = np.random.default_rng(62)
        for _ in range(60):
            walk = np.cumsum(rng.normal(0, 12, 80)) + 60
            yield [int(abs(x)) for x in walk]

    return [
        Case("80 % exactly warns", lambda: _path_levels(alert_step, [80], 100), ["warn"],
             input="[80] of 100"),
        Case("a jump past 100 % is a breach only", lambda: _path_levels(alert_step, [150], 100),
             ["breach"], input="[150] of 100"),
        Case("hovering at the line does not flap",
             lambda: _path_levels(alert_step, [80, 79, 81, 75, 71], 100),
             ["warn", None, None, None, None], input="[80, 79, 81, 75, 71] of 100"),
        Case("clear below 70 %, from breach", lambda: _path_levels(alert_step, [100, 70, 69], 100),
             ["breach", None, "clear"], input="[100, 70, 69] of 100"),
        Property("levels along a random path equal the engine's", inputs,
                 lambda p: _path_levels(alert_step, p, 100),
                 lambda p: _path_levels(_model_step, p, 100),
                 show=lambda p: f"path starting {p[:5]}"),
    ]


def _model_ewma(changes: list[float]) -> list[float]:
    e = EwmaVaR()
    return [e.push(round(c * 10**8)) for c in changes]


@exercise("06.3", "EWMA VaR (RiskMetrics)", attr="ewma_var")
def _ewma_var(ewma_var):
    def inputs():
        rng = np.random.default_rng(63)
        for n in (1, 2, 5, 50, 300):
            yield (rng.standard_t(3, n) * 100).round(2).tolist()

    return [
        Case("first change: sigma is its size", lambda: ewma_var([-3.0]),
             [1.6448536269514722 * 3.0], input="[-3.0]", compare=_close),
        Case("then 0.94 of the old variance plus 0.06 of the new square",
             lambda: ewma_var([3.0, 0.0]), [1.6448536269514722 * 3.0,
                                            1.6448536269514722 * (0.94 * 9.0) ** 0.5],
             input="[3.0, 0.0]", compare=_close),
        Property("equals the engine's EWMA after every change", inputs,
                 lambda c: [round(float(v), 6) for v in ewma_var(c)],
                 lambda c: [round(v, 6) for v in _model_ewma(c)],
                 show=lambda c: f"{len(c)} changes"),
    ]
