"""The gateway's state on disk: a restarted gateway knows every order and every session.

What it mirrors: a FIX engine's message store and an order-entry gateway's order journal. A
venue's gateway that restarts must still answer for the orders it took (a fill arriving after
the restart updates the right CumQty), and each FIX session must resume with the right
MsgSeqNum both ways and still be able to resend what it sent: a client that logs on again
without ResetSeqNumFlag expects exactly that (FIX 4.4 Volume 2, "Message Recovery").

Theory of operation. :class:`GatewayJournal` is handed every state change as the gateway makes
it (:attr:`.gateway.Gateway.journal`) and appends it to a :class:`~.matching.Journal`:

- ``["o", oid, comp, clordid, account, symbol, side, qty, price, otype, reason]``: an order
  taken (``reason`` empty) or refused;
- ``["p", oid, pending]``: a cancel or replace sent on and not yet answered;
- ``["e", event]``: an event from risk or matching applied to an order;
- ``["m", comp, seq, type, body, sending_time]``: an application message numbered ``seq``;
- ``["s", comp, next_in, next_out]``: a session's sequence numbers, written by
  :meth:`GatewayJournal.checkpoint` at the end of each turn of the gateway's loop (just before
  the records are written and anything is sent to risk), for the ones that moved.

:func:`restore` replays them into a fresh :class:`~.gateway.Gateway`: orders are rebuilt and
the events run through the same code as live (with ``replaying`` set, so nothing is sent and
no report is formatted twice into a store), the stores get back their messages and numbers,
new order ids continue after the last one, and the last journal number seen from each
matcher is known again (for :class:`~.bus.Dedup`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .gateway import Gateway, OrderState
from .matching import Journal
from .session import SessionStore

__all__ = ["GatewayJournal", "restore"]


class GatewayJournal:
    """The gateway's records, buffered per turn of its loop (see the module docstring)."""

    def __init__(self, path: str | Path, gateway: Gateway) -> None:
        self.journal = Journal(path, buffered=True)
        self.gateway = gateway
        self.numbers: dict[str, tuple[int, int]] = {}  # what the last "s" record said
        self.last_jseq: dict[int, int] = {}  # partition -> last matcher output applied
        self.append = self.journal.append

    def checkpoint(self) -> None:
        """Record the sequence numbers that moved, then write everything recorded."""
        for comp, store in self.gateway.stores.items():
            now = (store.next_in, store.next_out)
            if self.numbers.get(comp) != now:
                self.numbers[comp] = now
                self.journal.append(["s", comp, *now])
        self.journal.flush()

    def restore(self) -> int:
        """Rebuild the gateway from what was written; returns the records read."""
        n = restore(self.gateway, self.journal.records(), self.last_jseq)
        self.numbers = {c: (s.next_in, s.next_out) for c, s in self.gateway.stores.items()}
        return n

    def close(self) -> None:
        self.journal.close()


def restore(gw: Gateway, records: Iterable[list], last_jseq: dict[int, int] | None = None
            ) -> int:
    """Replay journal ``records`` into ``gw`` (a fresh gateway, before any connection);
    ``last_jseq`` gets the last journal number of each matcher partition among the events, so
    the bus keeps dropping what a restarted matcher publishes again."""
    last = last_jseq if last_jseq is not None else {}
    gw.replaying = True
    n = 0
    try:
        for rec in records:
            n += 1
            kind = rec[0]
            if kind == "o":
                _order(gw, rec)
            elif kind == "p":
                gw.orders[rec[1]].pending = rec[2]
            elif kind == "e":
                ev = rec[1]
                gw.on_event(ev)
                if "jseq" in ev:
                    last[ev["part"]] = max(last.get(ev["part"], 0), ev["jseq"])
            elif kind == "m":
                _comp, seq, mtype, body, sending = rec[1:]
                _store(gw, rec[1]).sent[seq] = (mtype, body, sending)
            elif kind == "s":
                store = _store(gw, rec[1])
                store.next_in, store.next_out = rec[2], rec[3]
    finally:
        gw.replaying = False
    return n


def _store(gw: Gateway, comp: str) -> SessionStore:
    return gw.stores.setdefault(comp, SessionStore())


def _order(gw: Gateway, rec: list) -> None:
    oid, comp, clordid, account, symbol, side, qty, price, otype, reason = rec[1:]
    order = OrderState(oid, comp, clordid, account, symbol, side, qty, price, otype)
    gw.orders[oid] = order
    gw.next_oid = max(gw.next_oid, oid + 1)
    gw.counts["orders"] += 1
    _store(gw, comp)
    if reason:
        gw._reject(order, reason)  # the report itself is in an "m" record
    else:
        gw.by_clordid[(comp, clordid)] = order
