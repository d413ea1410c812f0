"""The lab's scale knob: ``LAB_SCALE`` = ``ci`` | ``default`` | ``full``.

``ci`` is what CI and the stored notebooks use (every notebook under 60 s on 2 cores); ``default``
is a learner's interactive size; ``full`` is for serious benchmark runs. Notebooks read it in their
``parameters`` cell and size every workload through :func:`scaled`.
"""

from __future__ import annotations

import os
from typing import TypeVar

from .errors import MeasureError

SCALES = ("ci", "default", "full")
T = TypeVar("T")


class ScaleError(MeasureError, ValueError):
    """Raised when ``LAB_SCALE`` holds something other than ci, default or full."""


def lab_scale() -> str:
    """The current scale from the environment variable ``LAB_SCALE`` (``default`` when unset)."""
    value = os.environ.get("LAB_SCALE", "default").strip().lower() or "default"
    if value not in SCALES:
        raise ScaleError(f"LAB_SCALE={value!r}: expected one of {', '.join(SCALES)}")
    return value


def scaled(ci: T, default: T, full: T | None = None) -> T:
    """Pick the value for the current scale; ``full`` falls back to ``default`` when not given."""
    scale = lab_scale()
    if scale == "ci":
        return ci
    if scale == "full" and full is not None:
        return full
    return default
