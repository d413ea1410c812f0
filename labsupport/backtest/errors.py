"""Errors of the backtester: one base class, one subclass per cause.

Whose fault it is decides the class: :class:`DataError` means the bars or ticks handed in are
wrong (the message names the file, the row or timestamp, the column); :class:`ParamError`
means a strategy, a grid or an engine setting is wrong (the message names the parameter).
The command line turns both into one ``error:`` line with exit status 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations


class BacktestError(Exception):
    """The base of every error the backtester raises on purpose."""


class DataError(BacktestError, ValueError):
    """Raised when input data is malformed: a missing column, unsorted or duplicate timestamps,
    NaN or non-positive prices, high below low, an unreadable timestamp. Says which file and row."""


class ParamError(BacktestError, ValueError):
    """Raised when a strategy parameter, a sweep grid or an engine setting is invalid."""
