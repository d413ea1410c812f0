"""Who hears what the engine publishes: the :class:`Listener` interface and :class:`Recorder`.

The engine builds report objects (trades, execution reports, rejects, L2 updates) only when a
listener is attached, and L2 updates only when it sets ``wants_l2``: publishing is the
expensive part of an event in Python (a frozen dataclass costs about as much as matching an
order), so it is paid only by those who ask for it. A feed handler, a drop-copy or a risk
check would each be a listener; the tests, the CLI and the notebook use :class:`Recorder`.
"""

from __future__ import annotations

from .types import ExecutionReport, L2Update, Reject, Trade


class Listener:
    """Receives what the engine publishes. Subclass and override what you need.

    ``wants_l2`` turns on incremental L2 updates (they cost a little on every event)."""

    wants_l2 = False

    def on_trade(self, trade: Trade) -> None:
        pass

    def on_execution(self, report: ExecutionReport) -> None:
        pass

    def on_reject(self, reject: Reject) -> None:
        pass

    def on_l2_update(self, update: L2Update) -> None:
        pass


class Recorder(Listener):
    """A listener that keeps everything in lists (tests, CLI, notebook)."""

    def __init__(self, l2: bool = False) -> None:
        self.wants_l2 = l2
        self.trades: list[Trade] = []
        self.executions: list[ExecutionReport] = []
        self.rejects: list[Reject] = []
        self.l2_updates: list[L2Update] = []

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    def on_execution(self, report: ExecutionReport) -> None:
        self.executions.append(report)

    def on_reject(self, reject: Reject) -> None:
        self.rejects.append(reject)

    def on_l2_update(self, update: L2Update) -> None:
        self.l2_updates.append(update)


class CountingListener(Listener):
    """Receives everything (L2 included) and only counts it: the cost of publishing without
    the cost of keeping millions of report objects alive (which the cyclic GC then walks)."""

    wants_l2 = True

    def __init__(self) -> None:
        self.trades = self.executions = self.rejects = self.l2_updates = 0

    def on_trade(self, trade: Trade) -> None:
        self.trades += 1

    def on_execution(self, report: ExecutionReport) -> None:
        self.executions += 1

    def on_reject(self, reject: Reject) -> None:
        self.rejects += 1

    def on_l2_update(self, update: L2Update) -> None:
        self.l2_updates += 1
