"""The errors of the fault-tolerance lab, one base class and a subclass per cause.

Whose fault it is, in h11's spirit: a bad command line or fault list is the caller's
(:class:`ResilienceConfigError`); an order asked to move along an edge its state machine does not
have is a bug in the component that asked (:class:`IllegalTransition`); a journal that cannot be
read at all (not merely torn at its tail, which recovery expects) is :class:`JournalError`.
"""

from __future__ import annotations

__all__ = ["ResilienceError", "ResilienceConfigError", "IllegalTransition", "JournalError"]


class ResilienceError(Exception):
    """Base class of every error this lab raises on purpose."""


class ResilienceConfigError(ResilienceError):
    """A run was configured wrongly: an unknown fault, component or sabotage switch, a bad count.
    The message names the value and lists what is accepted."""


class IllegalTransition(ResilienceError):
    """An order was asked to move from one state to another that its state machine forbids
    (``filled -> new``): the OMS has applied a report it should have recognised as stale."""

    def __init__(self, cl_ord_id: str, old: str, new: str) -> None:
        self.cl_ord_id, self.old, self.new = cl_ord_id, old, new
        super().__init__(f"order {cl_ord_id}: illegal transition {old} -> {new}")


class JournalError(ResilienceError):
    """A journal record in the middle of a file fails its checksum: not a torn tail (which a
    crash leaves and recovery drops) but corruption; the message names the file and record."""
