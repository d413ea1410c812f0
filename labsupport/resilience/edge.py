"""The components at the edges of the workflow: the market-data feed, the strategy, the drop copy.

- :class:`Feed` republishes the exchange's mid price to the strategy as sequenced ticks. Its
  session keeps only the last 8 ticks for resends: an older tick is worthless once a newer one
  exists, so a resend request for it is answered with a gap fill (FIX's SequenceReset-GapFill),
  the way a market-data feed handler recovers by snapshot rather than by replaying history.
- :class:`Strategy` is a one-lot market maker: on each new mid it asks the OMS to quote one tick
  either side. Its ``runaway`` setting is the Knight Capital bug (1 August 2012: a deployment
  left one server running retired code that sent over 4 million orders in 45 minutes): from a
  given time it sends a quote every 0.3 ms at jittered prices, which only the kill switch stops.
- :class:`DropCopy` is the exchange's independent copy of every desk fill (what a clearing
  firm or a risk desk subscribes to). It journals each fill before counting it, and after any
  restart on either side asks the exchange for every fill after the last one it has
  (``FillsSince``), so its position is the exchange's. The OMS checks its position against it.
"""

from __future__ import annotations

from typing import Any

from labsupport.sim import MS, US

from .component import Component
from .journal import Journal
from .messages import DropFill, FillsSince, MarketData, PositionQuery, PositionReply, Quote, Tick

__all__ = ["Feed", "Strategy", "DropCopy"]


class Feed(Component):
    PEERS = ("exchange", "strategy")
    KEEP = {"strategy": 8}

    def handle(self, src: str, msg: Any) -> None:
        if type(msg) is MarketData:
            self.emit("strategy", Tick(msg.mid_ticks))


class Strategy(Component):
    PEERS = ("feed", "oms")

    def start(self) -> None:
        self.mid = 0
        runaway = self.ctx.setting("runaway_at_ns", None)
        if runaway is not None and runaway >= self.now_ns:
            self.set_timer(runaway - self.now_ns, "runaway")

    def handle(self, src: str, msg: Any) -> None:
        if type(msg) is Tick and msg.mid_ticks != self.mid:
            self.mid = msg.mid_ticks
            if self.now_ns < self.ctx.setting("trade_until_ns", 1 << 62):
                self.emit("oms", Quote(self.mid - 1, self.mid + 1, 1 + self.rng.randrange(3),
                                       self.mid))

    def timer(self, name: Any) -> None:
        if name != "runaway":
            return
        if self.mid:
            jitter = self.rng.randint(-3, 3)
            self.emit("oms", Quote(self.mid - 2 + jitter, self.mid + 2 + jitter, 1, self.mid))
        self.set_timer(300 * US, "runaway")


class DropCopy(Component):
    PEERS = ("exchange", "oms")

    def start(self) -> None:
        self.journal = Journal(self.disk, "fills")
        self.seen: set[int] = set()
        self.position = 0
        self.last = 0
        for exec_id, signed in self.journal.recover():
            self._count(exec_id, signed)
        self.after(50 * MS, "catchup")

    def _count(self, exec_id: int, signed: int) -> None:
        self.seen.add(exec_id)
        self.position += signed
        self.last = max(self.last, exec_id)

    def handle(self, src: str, msg: Any) -> None:
        kind = type(msg)
        if kind is DropFill and msg.exec_id not in self.seen:
            signed = msg.side * msg.qty
            self.journal.append([msg.exec_id, signed])
            self._count(msg.exec_id, signed)
            self.record("fill", msg.exec_id, signed)
        elif kind is PositionQuery:
            self.emit("oms", PositionReply(msg.ref, self.position, len(self.seen)))

    def peer_up(self, peer: str, restarted: bool) -> None:
        if peer == "exchange":
            self.emit("exchange", FillsSince(self.last))

    def timer(self, name: Any) -> None:
        if name == "catchup":  # a cheap safety net: ask for anything after the last fill
            self.emit("exchange", FillsSince(self.last))
            self.after(50 * MS, "catchup")

    def final(self) -> dict[str, Any]:
        return {"position": self.position, "fills": sorted(self.seen)}
