"""Shared instruments every lab uses: one implementation each, no copies in the labs.

- :mod:`.recorder`: :class:`LatencyRecorder` (ns samples, exact percentiles), :func:`summary_table`
- :mod:`.units`: :func:`fmt_ns`, :func:`choose_unit`, :func:`fmt_rate`
- :mod:`.plots`: latency histogram, HDR-style percentile spectrum, overlay with a table
- :mod:`.profile`: :func:`line_profile`, line_profiler's table into the cell output
- :mod:`.compare`: :func:`side_by_side`, interleaved timing with ratios against a baseline
- :mod:`.loadgen`: :func:`run_load`, closed/open-loop TCP load in its own process; :mod:`.framers`
- :mod:`.show`: :func:`show`, the real source of a function, highlighted
- :mod:`.scale`: :func:`lab_scale`, :func:`scaled` (``LAB_SCALE`` = ci | default | full)
- :mod:`.report`: :class:`BenchReport`, :func:`machine_info`, :func:`machine_line`
- :mod:`.errors`: :class:`MeasureError`, the base of every instrument's error
- :mod:`.procs`: :class:`BackgroundProcess`, :func:`free_port`, :func:`wait_for_port`,
  :func:`pin_to_cpu`, :func:`find_peer`
"""

from .compare import SideBySide, side_by_side
from .errors import MeasureError
from .paths import build_dir, display_path
from .procs import BackgroundProcess, ProcessError, find_peer, free_port, pin_to_cpu, wait_for_port
from .profile import line_profile
from .recorder import LatencyRecorder, LatencySummary, summary_table
from .report import BenchReport, machine_info, machine_line
from .scale import lab_scale, scaled
from .show import show, source_of
from .units import choose_unit, fmt_ns, fmt_rate

__all__ = [
    "BackgroundProcess",
    "BenchReport",
    "LatencyRecorder",
    "LatencySummary",
    "MeasureError",
    "ProcessError",
    "SideBySide",
    "build_dir",
    "choose_unit",
    "display_path",
    "find_peer",
    "fmt_ns",
    "fmt_rate",
    "free_port",
    "lab_scale",
    "line_profile",
    "machine_info",
    "machine_line",
    "pin_to_cpu",
    "scaled",
    "show",
    "side_by_side",
    "source_of",
    "summary_table",
    "wait_for_port",
]

# Load generator and plots.
from .loadgen import (  # noqa: E402
    FramerError,
    HttpResponseFramer,
    LengthPrefixFramer,
    LineFramer,
    LoadGenError,
    LoadResult,
    NoConnectionError,
    ReplyFramer,
    RespReplyFramer,
    run_load,
)
from .plots import plot_histogram, plot_overlay, plot_percentile_spectrum  # noqa: E402

__all__ += [
    "FramerError",
    "HttpResponseFramer",
    "LengthPrefixFramer",
    "LineFramer",
    "LoadGenError",
    "LoadResult",
    "NoConnectionError",
    "ReplyFramer",
    "RespReplyFramer",
    "plot_histogram",
    "plot_overlay",
    "plot_percentile_spectrum",
    "run_load",
]
