"""The order state machine of an OMS, and the position keeper fed by its fills.

FIX's ``OrdStatus`` life cycle, reduced to the seven states a buy-side order manager tracks::

                 +---------------> rejected
                 |
    pending-new -+-> new -+-> partially-filled -+-> filled
                          |         |  ^        |
                          |         v  |        |
                          +----> pending-cancel +-> cancelled
                          +--------------------------^ (unsolicited: a kill switch, an expiry)

Every edge is in :data:`TRANSITIONS`; anything else raises :class:`IllegalTransition`, so a
component that applies a stale or duplicated report finds out at once instead of corrupting
its book. ``filled``, ``cancelled`` and ``rejected`` are terminal: nothing leaves them.

Fills are keyed by the exchange's execution id. :meth:`Order.apply_fill` is idempotent (a
duplicate or replayed report adds nothing), which is what "every fill reflected exactly once"
rests on; :class:`PositionKeeper` holds the same rule for the desk's position. The
``no-idempotency`` sabotage lives at the exchange, not here: these two classes never double
count whatever the network does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import IllegalTransition

__all__ = ["PENDING_NEW", "NEW", "PARTIAL", "FILLED", "PENDING_CANCEL", "CANCELLED", "REJECTED",
           "STATES", "TERMINAL", "WORKING", "TRANSITIONS", "Order", "PositionKeeper"]

PENDING_NEW, NEW, PARTIAL, FILLED = "pending-new", "new", "partially-filled", "filled"
PENDING_CANCEL, CANCELLED, REJECTED = "pending-cancel", "cancelled", "rejected"
STATES = (PENDING_NEW, NEW, PARTIAL, FILLED, PENDING_CANCEL, CANCELLED, REJECTED)
TERMINAL = frozenset({FILLED, CANCELLED, REJECTED})
WORKING = frozenset({NEW, PARTIAL, PENDING_CANCEL})  # acknowledged and open at the exchange

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_NEW: frozenset({NEW, REJECTED}),
    NEW: frozenset({PARTIAL, FILLED, PENDING_CANCEL, CANCELLED}),
    PARTIAL: frozenset({PARTIAL, FILLED, PENDING_CANCEL, CANCELLED}),
    # a cancel request in flight: fills may still arrive; a cancel reject returns to working
    PENDING_CANCEL: frozenset({PENDING_CANCEL, NEW, PARTIAL, FILLED, CANCELLED}),
    FILLED: frozenset(), CANCELLED: frozenset(), REJECTED: frozenset(),
}


@dataclass(slots=True)
class Order:
    """One order as the OMS knows it: its intent, its state, and its fills by execution id."""

    cl_ord_id: str
    side: int  # +1 buy, -1 sell
    qty: int
    price_ticks: int
    state: str = PENDING_NEW
    fills: dict[int, int] = field(default_factory=dict)  # exec_id -> qty
    history: list[str] = field(default_factory=list)  # every state it passed through

    @property
    def cum_qty(self) -> int:
        return sum(self.fills.values())

    def transition(self, new: str) -> None:
        """Move to ``new`` along an edge of :data:`TRANSITIONS`, or raise."""
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(self.cl_ord_id, self.state, new)
        self.history.append(self.state)
        self.state = new

    def apply_fill(self, exec_id: int, qty: int) -> bool:
        """Record a fill once; False if this execution id was already applied."""
        if exec_id in self.fills:
            return False
        self.fills[exec_id] = qty
        return True

    def reach(self, status: str) -> list[str]:
        """Move to the exchange's reported ``status`` along legal edges (an order the OMS still
        thinks pending-new may be reported filled: it passes through new). A report that would
        go backwards (``new`` after a fill was seen) is stale and changes nothing; a working
        status leaves a pending cancel pending. Returns the states entered."""
        if self.state in TERMINAL:
            if status != self.state:
                raise IllegalTransition(self.cl_ord_id, self.state, status)
            return []
        entered = []
        if status == REJECTED:
            self.transition(REJECTED)  # legal only from pending-new
            return [REJECTED]
        if self.state == PENDING_NEW and status != PENDING_NEW:
            self.transition(NEW)
            entered.append(NEW)
        if status in (FILLED, CANCELLED):
            self.transition(status)
            entered.append(status)
        elif status == PARTIAL and self.state == NEW:
            self.transition(PARTIAL)
            entered.append(PARTIAL)
        return entered

    def cancel_rejected(self) -> None:
        """The exchange refused the cancel (too late, unknown): back to working."""
        self.transition(PARTIAL if self.fills else NEW)


class PositionKeeper:
    """Signed position per symbol from fills keyed by execution id (each counted once)."""

    __slots__ = ("seen", "position")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.position = 0

    def apply(self, exec_id: int, signed_qty: int) -> bool:
        if exec_id in self.seen:
            return False
        self.seen.add(exec_id)
        self.position += signed_qty
        return True
