"""The instruments' one base error, so a lab can tell a measuring failure from its own.

Subclasses, each raised by one instrument and documented where it is defined:
:class:`~.procs.ProcessError` (a background process died or never opened its port),
:class:`~.loadgen.LoadGenError` (the load generator could not run),
:class:`~.framers.FramerError` (bytes that cannot be a reply of the framer's protocol),
:class:`~.scale.ScaleError` (a ``LAB_SCALE`` that is not ci, default or full).
"""

from __future__ import annotations


class MeasureError(Exception):
    """Base class of every error raised by :mod:`labsupport.measure`."""
