"""The shipped strategies: small classes with parameters, runnable on both engines.

A bar strategy declares its parameters (``PARAMS``, name -> default), computes its indicators
once in :meth:`BarStrategy.signals` (entry and exit flags per bar, decided on the bar's close)
and acts on them in :meth:`BarStrategy.on_bar` through the engine's context (``ctx.position``,
``ctx.buy(qty)``, ``ctx.close()``). The vectorised path reads the same ``signals`` and runs the
long-or-flat state machine itself, so a strategy whose ``on_bar`` is the default (buy ``size``
when flat on an entry, close when long on an exit) gives identical trades on both engines.
A strategy that needs the event loop (state beyond long/flat, limit orders, ticks) sets
``VECTORISABLE = False``.

- ``sma_cross`` (fast, slow): backtrader's ``CrossOver`` of two SMAs; enter on +1, exit on -1.
- ``zscore`` (window, entry, exit): mean reversion; enter when the close's z-score over
  ``window`` falls below ``-entry``, exit when it rises above ``-exit``.
- ``breakout`` (window, exit_window): enter when the close exceeds the highest high of the last
  ``window`` bars, exit when it falls below the lowest low of the last ``exit_window``.

The market maker on the book lives in :mod:`.ticks` (it needs tick-level fills).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .bars import Bars
from .errors import ParamError
from .indicators import crossover, rolling_extreme, rolling_zscore, sma


class BarStrategy:
    """Base class: parameters, signals (vectorised), and the default long-or-flat ``on_bar``."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, float]] = {}
    VECTORISABLE: ClassVar[bool] = True

    def __init__(self, size: float = 100, **params: float) -> None:
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            raise ParamError(f"{self.name}: unknown parameter {', '.join(unknown)} "
                             f"(parameters: {', '.join(self.PARAMS) or 'none'})")
        if not size > 0:
            raise ParamError(f"{self.name}: size must be positive, got {size}")
        self.size = size
        self.params = {**self.PARAMS, **params}
        self.validate()
        self.entry = self.exit = np.zeros(0, bool)

    def validate(self) -> None:
        """Raise :class:`ParamError` for parameters that make no sense."""

    def __repr__(self) -> str:
        ps = ",".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.name}({ps})"

    def signals(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        """(entry, exit) boolean arrays, one flag per bar, known at that bar's close."""
        raise NotImplementedError

    def prepare(self, bars: Bars) -> None:
        self.entry, self.exit = self.signals(bars)

    def on_bar(self, ctx, i: int) -> None:
        """Default: buy ``size`` when flat on an entry, close when long on an exit."""
        if ctx.position == 0:
            if self.entry[i]:
                ctx.buy(self.size)
        elif self.exit[i]:
            ctx.close()


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _period(strategy: BarStrategy, *names: str) -> None:
    for n in names:
        v = strategy.params[n]
        if not (float(v).is_integer() and v >= 1):
            raise ParamError(f"{strategy.name}: {n} must be a whole number >= 1, got {v}")
        strategy.params[n] = int(v)


class SmaCross(BarStrategy):
    name = "sma_cross"
    PARAMS = {"fast": 10, "slow": 30}

    def validate(self) -> None:
        _period(self, "fast", "slow")
        if self.params["fast"] >= self.params["slow"]:
            raise ParamError(f"sma_cross: fast ({self.params['fast']}) must be below slow "
                             f"({self.params['slow']})")

    def signals(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        x = crossover(sma(bars.close, self.params["fast"]), sma(bars.close, self.params["slow"]))
        return x > 0, x < 0


class ZScoreReversion(BarStrategy):
    name = "zscore"
    PARAMS = {"window": 20, "entry": 2.0, "exit": 0.0}

    def validate(self) -> None:
        _period(self, "window")
        if self.params["window"] < 2:
            raise ParamError("zscore: window must be at least 2")

    def signals(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        z = rolling_zscore(bars.close, self.params["window"])
        with np.errstate(invalid="ignore"):
            return z < -self.params["entry"], z > -self.params["exit"]


class Breakout(BarStrategy):
    name = "breakout"
    PARAMS = {"window": 20, "exit_window": 10}

    def validate(self) -> None:
        _period(self, "window", "exit_window")

    def signals(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        hi = rolling_extreme(bars.high, self.params["window"], "max")
        lo = rolling_extreme(bars.low, self.params["exit_window"], "min")
        with np.errstate(invalid="ignore"):
            return bars.close > hi, bars.close < lo


STRATEGIES: dict[str, type[BarStrategy]] = {c.name: c for c in (SmaCross, ZScoreReversion, Breakout)}


def make_strategy(name: str, params: dict[str, float] | None = None, size: float = 100) -> BarStrategy:
    """A strategy by its command-line name, e.g. ``make_strategy("sma_cross", {"fast": 5, "slow": 20})``."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ParamError(f"unknown strategy {name!r} (strategies: {', '.join(STRATEGIES)})") from None
    return cls(size=size, **(params or {}))


def parse_params(text: str) -> dict[str, float]:
    """``"fast=10,slow=30"`` -> ``{"fast": 10, "slow": 30}``."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            num = float(value)
        except ValueError:
            raise ParamError(f"--params: {item!r} is not NAME=NUMBER (e.g. fast=10,slow=30)") from None
        out[name.strip()] = int(num) if num.is_integer() else num
    return out
