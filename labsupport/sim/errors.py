"""The simulator's errors: one base class, subclasses by whose fault it is.

A scenario that names a node that does not exist, or asks for a latency that cannot be sampled,
is the caller's mistake (:class:`SimConfigError`); a simulated system that waits for something
that can never happen is the system's (:class:`SimDeadlock`). An exception raised by a node's own
handler is not wrapped: it is a bug in the node, and it keeps its traceback.
"""

from __future__ import annotations

__all__ = ["SimError", "SimConfigError", "UnknownNode", "SimDeadlock", "TraceDisabled"]


class SimError(Exception):
    """Base class of every error the simulator raises itself."""


class SimConfigError(SimError, ValueError):
    """Raised when a scenario is set up wrongly: a bad probability, a negative delay, a
    duplicate node name, an unknown distribution."""


class UnknownNode(SimConfigError, KeyError):
    """Raised when a message, partition or crash names a node that was never added."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0]) if self.args else "unknown node"


class SimDeadlock(SimError):
    """Raised by the simulated asyncio loop when it would wait forever: no ready callback, no
    timer and no simulated event left, but the awaited coroutine has not finished."""


class TraceDisabled(SimError):
    """Raised when a digest or frame is asked of a simulation created with ``trace=False``."""
