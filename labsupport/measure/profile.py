"""Line profiling into the cell output.

IPython's ``%lprun`` sends its table to a pager, which a headless run (and so a stored notebook)
loses. :func:`line_profile` drives ``line_profiler.LineProfiler`` directly: it runs one call with
the chosen functions instrumented and prints the per-line table (hits, time, % time) to stdout,
where the notebook keeps it. File names are shown relative to the checkout.

    result = line_profile(engine.process, events, also=[OrderBook.add])
"""

from __future__ import annotations

import inspect
import io
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .paths import scrub_paths

R = TypeVar("R")


def _unwrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = inspect.unwrap(fn)
    return getattr(fn, "__func__", fn)  # bound method -> function


def line_profile(
    func: Callable[..., R],
    *args: Any,
    also: Iterable[Callable[..., Any]] = (),
    output_unit: float = 1e-6,
    stream: io.TextIOBase | None = None,
    **kwargs: Any,
) -> R:
    """Call ``func(*args, **kwargs)`` with ``func`` and ``also`` line-profiled; print the table.

    Returns what ``func`` returned. ``output_unit`` is the unit of the time column in seconds
    (1e-6: microseconds). The table goes to ``stream`` (stdout by default).
    """
    from line_profiler import LineProfiler

    profiler = LineProfiler()
    for fn in (func, *also):
        profiler.add_function(_unwrap(fn))
    result = profiler.runcall(func, *args, **kwargs)
    buf = io.StringIO()
    profiler.print_stats(stream=buf, output_unit=output_unit, stripzeros=True)
    (stream or sys.stdout).write(scrub_paths(buf.getvalue()))
    return result
