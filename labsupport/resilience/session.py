"""A FIX-like session layer: sequence numbers, gap detection, resend requests, gap fills,
heartbeats and failure detection, as a sans-IO object per peer.

What FIX's session layer (FIXT 1.1: MsgSeqNum, ResendRequest 35=2, SequenceReset-GapFill 35=4,
Heartbeat 35=0, Logon with ResetSeqNumFlag) gives two engines over an unreliable transport,
reduced to four frames:

``Frame(src_epoch, dst_epoch, seq, payload)``  one application message, numbered 1, 2, 3 ...
``Heartbeat(src_epoch, dst_epoch, next_seq)``  "I am alive and my next number is N"
``ResendRequest(src_epoch, dst_epoch, begin, end)``  "send me begin..end again"
``GapFill(src_epoch, dst_epoch, begin, new_seq)``  "begin..new_seq-1 carry nothing for you"

Theory of operation
-------------------
Each side numbers what it sends and keeps it in ``store`` (all of it, or the last ``keep``
messages for a stream whose old messages are worthless, like market data: older ones are
answered with a gap fill). The receiver delivers in order: a frame beyond ``next_in`` is held and
the missing range is asked for again; a duplicate (``seq < next_in``) is dropped, which is what
makes the network's duplicates harmless. A heartbeat carrying ``next_seq`` reveals a lost tail
that no later frame would. Requests are throttled to one per ``resend_interval_ns``; the next
heartbeat asks again if the answer was lost.

Epochs replace FIX's persisted sequence numbers. A component's epoch is its boot count, kept on
its disk; every frame carries the sender's epoch and the receiver's epoch as the sender knows it.
A frame addressed to an older incarnation of the receiver is stale and ignored. When a side sees
its peer's epoch grow it knows the peer restarted: both directions start again at 1 (a Logon with
ResetSeqNumFlag) and the application is told (:attr:`Received.restarted`), because whatever was
in flight to the dead incarnation is gone and only application-level reconciliation (the OMS
asking the exchange for its orders) can recover it. Until a side knows its peer's epoch it
queues what it sends; its first heartbeat teaches the peer its own.

``resend=False`` is the ``no-resend`` sabotage: gaps are skipped, not filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labsupport.sim import MS

__all__ = ["Frame", "Heartbeat", "ResendRequest", "GapFill", "Received", "Session",
           "SESSION_TYPES", "QUIET"]


@dataclass(frozen=True, slots=True)
class Frame:
    src_epoch: int
    dst_epoch: int
    seq: int
    payload: Any


@dataclass(frozen=True, slots=True)
class Heartbeat:
    src_epoch: int
    dst_epoch: int
    next_seq: int


@dataclass(frozen=True, slots=True)
class ResendRequest:
    src_epoch: int
    dst_epoch: int
    begin: int
    end: int  # inclusive


@dataclass(frozen=True, slots=True)
class GapFill:
    src_epoch: int
    dst_epoch: int
    begin: int
    new_seq: int


SESSION_TYPES = {c.__name__: c for c in (Frame, Heartbeat, ResendRequest, GapFill)}


@dataclass(slots=True)
class Received:
    """What one incoming session message produced: payloads to deliver in order, frames to
    send back, and whether the peer's session (re)started (``up``) and was a restart."""

    payloads: list[Any] = field(default_factory=list)
    replies: list[Any] = field(default_factory=list)
    up: bool = False
    restarted: bool = False


QUIET = Received((), ())  # type: ignore[arg-type]  # shared and read-only: empty tuples
"""What :meth:`Session.receive` returns for a heartbeat that changes nothing (no allocation)."""


class Session:
    """One side of a session with ``peer``: outbound numbering and store, inbound ordering."""

    __slots__ = ("peer", "epoch", "peer_epoch", "next_out", "store", "keep", "queued",
                 "next_in", "held", "resend", "resend_interval_ns", "asked_ns", "last_heard_ns",
                 "gaps", "resent", "gap_filled", "restarts")

    def __init__(self, peer: str, epoch: int, *, keep: int | None = None, resend: bool = True,
                 resend_interval_ns: int = 5 * MS) -> None:
        self.peer, self.epoch = peer, epoch
        self.peer_epoch = 0  # unknown until the peer's first frame or heartbeat
        self.next_out = 1
        self.store: dict[int, Any] = {}
        self.keep = keep
        self.queued: list[Any] = []
        self.next_in = 1
        self.held: dict[int, Any] = {}
        self.resend = resend
        self.resend_interval_ns = resend_interval_ns
        self.asked_ns = -(1 << 62)
        self.last_heard_ns: int | None = None
        self.gaps = self.resent = self.gap_filled = self.restarts = 0

    # -- sending ------------------------------------------------------------------------------
    def send(self, payload: Any) -> list[Frame]:
        """Number ``payload``; the frames to put on the wire now (none until the peer is known)."""
        if not self.peer_epoch:
            self.queued.append(payload)
            return []
        return [self._stamp(payload)]

    def _stamp(self, payload: Any) -> Frame:
        seq = self.next_out
        self.next_out = seq + 1
        self.store[seq] = payload
        if self.keep is not None:
            self.store.pop(seq - self.keep, None)
        return Frame(self.epoch, self.peer_epoch, seq, payload)

    def heartbeat(self) -> Heartbeat:
        return Heartbeat(self.epoch, self.peer_epoch, self.next_out)

    def alive(self, now_ns: int, timeout_ns: int) -> bool:
        """Failure detection: heard from the peer within ``timeout_ns``."""
        return self.last_heard_ns is not None and now_ns - self.last_heard_ns <= timeout_ns

    # -- receiving ----------------------------------------------------------------------------
    def receive(self, msg: Any, now_ns: int) -> Received:
        """Apply one session message from the peer (:data:`QUIET` when nothing came of it)."""
        kind = type(msg)
        if (kind is Heartbeat and msg.src_epoch == self.peer_epoch and msg.dst_epoch == self.epoch
                and msg.next_seq <= self.next_in and not self.held):
            self.last_heard_ns = now_ns  # the peer is alive and we miss nothing: most messages
            return QUIET
        out = Received()
        if msg.src_epoch < self.peer_epoch:
            return out  # from an incarnation of the peer that is dead
        if msg.src_epoch > self.peer_epoch:
            self._peer_up(msg.src_epoch, out)
        self.last_heard_ns = now_ns
        if msg.dst_epoch != self.epoch:
            if type(msg) is Heartbeat:  # it does not know us yet: introduce ourselves
                out.replies.append(self.heartbeat())
            return out  # frames for an earlier incarnation of ours are not ours to deliver
        if kind is Frame:
            self._frame(msg, now_ns, out)
        elif kind is Heartbeat:
            if msg.next_seq > self.next_in and not self.held:
                self._ask(self.next_in, msg.next_seq - 1, now_ns, out, force=False)
            elif self.held:
                self._ask(self.next_in, min(self.held) - 1, now_ns, out, force=False)
        elif kind is ResendRequest:
            self._resend(msg, out)
        elif kind is GapFill and msg.new_seq > self.next_in:
            self.next_in = msg.new_seq
            for seq in [s for s in self.held if s < self.next_in]:
                del self.held[seq]
            self._drain(out)
        return out

    def _peer_up(self, epoch: int, out: Received) -> None:
        out.up = True
        out.restarted = self.peer_epoch != 0
        if out.restarted:  # a new incarnation: both directions start again at 1
            self.restarts += 1
            self.next_out = 1
            self.store.clear()
        self.peer_epoch = epoch
        self.next_in = 1
        self.held.clear()
        queued, self.queued = self.queued, []
        out.replies.extend(self._stamp(p) for p in queued)

    def _frame(self, f: Frame, now_ns: int, out: Received) -> None:
        seq = f.seq
        if seq < self.next_in or seq in self.held:
            return  # a duplicate: the network's, or a resend that crossed the original
        if seq == self.next_in:
            out.payloads.append(f.payload)
            self.next_in = seq + 1
            self._drain(out)
        elif not self.resend:  # sabotage: accept it, skip the gap for ever
            out.payloads.append(f.payload)
            self.next_in = seq + 1
        else:
            self.held[seq] = f.payload
            self.gaps += 1
            self._ask(self.next_in, seq - 1, now_ns, out, force=False)

    def _drain(self, out: Received) -> None:
        held = self.held
        while self.next_in in held:
            out.payloads.append(held.pop(self.next_in))
            self.next_in += 1

    def _ask(self, begin: int, end: int, now_ns: int, out: Received, *, force: bool) -> None:
        if not self.resend or end < begin:
            return
        if not force and now_ns - self.asked_ns < self.resend_interval_ns:
            return
        self.asked_ns = now_ns
        out.replies.append(ResendRequest(self.epoch, self.peer_epoch, begin, end))

    def _resend(self, req: ResendRequest, out: Received) -> None:
        gap_start = None
        for seq in range(req.begin, min(req.end, self.next_out - 1) + 1):
            payload = self.store.get(seq)
            if payload is None:
                if gap_start is None:
                    gap_start = seq
                continue
            if gap_start is not None:
                out.replies.append(GapFill(self.epoch, self.peer_epoch, gap_start, seq))
                self.gap_filled += 1
                gap_start = None
            out.replies.append(Frame(self.epoch, self.peer_epoch, seq, payload))
            self.resent += 1
        if gap_start is not None:
            out.replies.append(GapFill(self.epoch, self.peer_epoch, gap_start,
                                       min(req.end, self.next_out - 1) + 1))
            self.gap_filled += 1
