"""The base of every component: sessions to its peers, heartbeats, its clock, its history.

A component is a :class:`labsupport.sim.Node` (a plain class with ``on_start``, ``on_message``
and ``on_timer``, no I/O of its own). In simulation its host is the simulator's; in a live run
:mod:`.live` gives it a host made of asyncio, TCP sockets and a real disk, with the same
methods, so one class runs both ways.

What the base does for every subclass
-------------------------------------
- On start (and after every restart) it reads its boot count from its disk, adds one and
  fsyncs it: that is its session epoch (see :mod:`.session`). Then it opens one
  :class:`~.session.Session` per peer in :attr:`Component.PEERS` and starts heartbeats.
- Each incoming session message goes through its peer's session; payloads come out in order
  and exactly once and go to :meth:`Component.handle`; a peer seen with a new epoch is
  announced to :meth:`Component.peer_up`.
- Faults it must obey come from the :class:`Context` the harness injected: a pause (a
  SIGSTOP or a GC pause: events wait until it ends), a grey failure (it ignores what arrives),
  a clock skew (:meth:`Component.local_ns` is offset and drifts), a slow disk (``fsync_ns``).
- :meth:`Component.record` appends to the harness's history at the observer's time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from labsupport.sim import MS, Node

from .history import History
from .journal import Journal
from .session import QUIET, SESSION_TYPES, Session

__all__ = ["Context", "Component", "Limits", "HEARTBEAT_NS"]

HEARTBEAT_NS = 20 * MS
_SESSION_CLASSES = frozenset(SESSION_TYPES.values())


@dataclass(frozen=True, slots=True)
class Limits:
    """The desk's limits, handed to Lab 06's risk engine as TOML (see :meth:`toml`)."""

    max_order_qty: int = 5
    max_position: int = 40
    drawdown_limit: str = "1000000"  # currency, exact decimal text

    def toml(self) -> str:
        return (f"[defaults]\nmax_order_qty = {self.max_order_qty}\n"
                f"max_position = {self.max_position}\ndrawdown_limit = {self.drawdown_limit}\n"
                "max_orders_per_s = 1000000\nprice_collar_pct = 50\n")


@dataclass
class Context:
    """What the harness gives every component and keeps across its crashes."""

    history: History
    sabotage: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)
    observer_ns: Callable[[], int] = lambda: 0
    defer: Callable[[int, Callable[[], None]], None] | None = None  # run later (pauses)
    alive: Callable[[Component], bool] = lambda node: True
    paused_until: dict[str, int] = field(default_factory=dict)
    silent_until: dict[str, int] = field(default_factory=dict)
    reject_until: dict[str, int] = field(default_factory=dict)
    skew: dict[str, tuple[int, float]] = field(default_factory=dict)  # offset ns, drift ppm
    fsync_ns: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # per-scenario knobs

    def setting(self, key: str, default: Any) -> Any:
        return self.settings.get(key, default)


class Component(Node):
    """A node with sessions to :attr:`PEERS`; subclasses override ``start``, ``handle``,
    ``timer`` and ``peer_up``."""

    PEERS: tuple[str, ...] = ()
    KEEP: dict[str, int] = {}  # peer -> how many sent messages to keep for resends

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.epoch = 0
        self.sessions: dict[str, Session] = {}
        self._fsyncs = 0
        self._pending_fsync: dict[Hashable, tuple[Journal, Callable[[], None]]] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def on_start(self) -> None:
        boot = Journal(self.disk, "boot")
        self.epoch = len(boot.recover()) + 1
        boot.append(self.epoch)
        resend = "no-resend" not in self.ctx.sabotage
        self.sessions = {p: Session(p, self.epoch, keep=self.KEEP.get(p), resend=resend)
                         for p in self.PEERS}
        if self.epoch > 1:
            self.record("restart", self.epoch)
        self.start()
        self._heartbeat()

    def start(self) -> None:
        """Recover from the disk, set timers (after every restart too)."""

    # -- messages -----------------------------------------------------------------------------
    def on_message(self, src: str, msg: Any) -> None:
        now = self.now_ns
        ctx = self.ctx
        if ctx.paused_until and ctx.paused_until.get(self.name, 0) > now:
            self._later(lambda: self.on_message(src, msg))
            return
        if ctx.silent_until and ctx.silent_until.get(self.name, 0) > now:
            return  # a grey failure: alive, heartbeating, deaf
        session = self.sessions.get(src)
        if session is None or type(msg) not in _SESSION_CLASSES:
            return
        got = session.receive(msg, now)
        if got is QUIET:
            return  # a heartbeat that changed nothing: the common case
        for reply in got.replies:
            self.send(src, reply)
        if got.up:
            self.peer_up(src, got.restarted)
        for payload in got.payloads:
            self.handle(src, payload)

    def handle(self, src: str, payload: Any) -> None:
        """One application message from ``src``, in order, exactly once per session."""

    def peer_up(self, peer: str, restarted: bool) -> None:
        """``peer``'s session started (``restarted``: a new incarnation replaced an old one)."""

    def emit(self, dst: str, payload: Any) -> None:
        """Send an application message to ``dst`` through its session."""
        for frame in self.sessions[dst].send(payload):
            self.send(dst, frame)

    # -- timers -------------------------------------------------------------------------------
    def on_timer(self, name: Hashable) -> None:
        paused = self.ctx.paused_until
        if paused and paused.get(self.name, 0) > self.now_ns:
            self._later(lambda: self.on_timer(name))
            return
        if name == "hb":
            self._heartbeat()
        elif name in self._pending_fsync:
            journal, then = self._pending_fsync.pop(name)
            journal.disk.fsync(journal.file)
            then()
        else:
            self.timer(name)

    def timer(self, name: Hashable) -> None:
        """A timer set with :meth:`after` fired."""

    def after(self, local_ns: int, name: Hashable) -> None:
        """A timer ``local_ns`` from now as this component's (possibly drifting) clock counts."""
        skew = self.ctx.skew
        if skew and self.name in skew:
            local_ns = local_ns / (1 + skew[self.name][1] * 1e-6)
        self.set_timer(max(0, int(local_ns)), name)

    def _heartbeat(self) -> None:
        for peer, session in self.sessions.items():
            self.send(peer, session.heartbeat())
        self.after(HEARTBEAT_NS, "hb")

    def _later(self, fn: Callable[[], None]) -> None:
        until = self.ctx.paused_until[self.name]
        ctx = self.ctx
        if ctx.defer is not None:
            ctx.defer(until, lambda: fn() if ctx.alive(self) else None)

    # -- clock, disk, history -------------------------------------------------------------------
    def local_ns(self) -> int:
        """This component's clock: the true time, offset and drifting under a skew fault."""
        now = self.now_ns
        skew = self.ctx.skew
        if not skew or self.name not in skew:
            return now
        offset, drift = skew[self.name]
        return now + offset + int(now * drift * 1e-6)

    def durable(self, journal: Journal, value: Any, then: Callable[[], None]) -> None:
        """Append ``value``, fsync, then call ``then``: at once on a fast disk, after
        ``fsync_ns`` on a slow one (a crash in between loses the record, never ``then``'s
        effect without it)."""
        delay = self.ctx.fsync_ns.get(self.name, 0)
        if not delay:
            journal.append(value)
            then()
            return
        journal.append(value, sync=False)
        self._fsyncs += 1
        key = ("fsync", self._fsyncs)  # a counter, not id(): timer names are in the trace
        self._pending_fsync[key] = (journal, then)
        self.set_timer(delay, key)

    def record(self, kind: str, *fields: Any) -> None:
        self.ctx.history.record(self.ctx.observer_ns(), self.name, kind, *fields)
