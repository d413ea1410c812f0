"""The whole exchange in one process: the same service classes, wired by in-memory queues.

What it is for: ``--mode monolith`` and the baseline of every comparison. :class:`ExchangeCore`
builds the gateway, risk gate, matchers, market data and drop copy exactly as the distributed
exchange does and connects them with a :class:`~.bus.LocalBus`, so one FIX message runs the
whole chain synchronously (gateway -> risk -> matching -> market data, drop copy, reports).
:class:`Monolith` puts the network around it: the FIX acceptor, the ZeroMQ PUB feed, the
MoldUDP64 feed and the RPC control service, on OS-assigned loopback ports, in threads of one
process, and stops them all on :meth:`Monolith.close`; with ``heartbeat_s`` the feeds send a
heartbeat that often (the ``monolith`` service does; in-process runs stay deterministic).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import zmq

from labsupport.risk import LimitsFile

from .bus import LocalBus, dispatcher, partition_symbols
from .control import ExchangeControl
from .gateway import Gateway
from .marketdata import PUB_HWM, MarketData
from .matching import DEFAULT_ENGINE, Journal, Matcher
from .net import FixServer, UdpFanout
from .services import DEFAULT_LIMITS, DropCopy, RiskGate

__all__ = ["ExchangeCore", "Monolith"]


class ExchangeCore:
    """Every service as an object; ``gateway.receive(session, bytes)`` then :meth:`pump`."""

    def __init__(self, symbols: list[str] | tuple[str, ...], matchers: int = 1, *,
                 journal_dir: str | Path | None = None,
                 limits: LimitsFile | str = DEFAULT_LIMITS, publish: Any = None,
                 datagram: Any = None, engine: str = DEFAULT_ENGINE) -> None:
        self.symbols = tuple(symbols)
        self.bus = bus = LocalBus()
        self.gateway = Gateway(self.symbols, lambda m: bus.send("risk", m))
        self.risk = RiskGate(self.symbols, matchers, bus.send, limits=limits)
        self.matchers = []
        for k, syms in enumerate(partition_symbols(self.symbols, matchers)):
            journal = Journal(Path(journal_dir) / f"match{k}.jnl") if journal_dir else None
            m = Matcher(syms, k, journal=journal, send=bus.send, engine=engine)
            m.recover()
            self.matchers.append(m)
        self.md = MarketData(self.symbols, publish=publish, datagram=datagram)
        self.dropcopy = DropCopy()
        bus.handlers.update({"risk": dispatcher("risk", self.risk),
                             "dropcopy": dispatcher("dropcopy", self.dropcopy),
                             "gateway": dispatcher("gateway", self.gateway),
                             "md": dispatcher("md", self.md)})
        for k, m in enumerate(self.matchers):
            bus.handlers[f"match.{k}"] = dispatcher("match", m)

    def pump(self) -> int:
        return self.bus.pump()

    def parts(self) -> dict[str, Any]:
        return {"gateway": self.gateway, "risk": self.risk, "matchers": self.matchers,
                "md": self.md, "dropcopy": self.dropcopy}

    def matcher_for(self, symbol: str) -> Matcher:
        return next(m for m in self.matchers if symbol in m.symbols)


class Monolith:
    """The core behind real sockets: ``ports`` has ``fix``, ``md_zmq``, ``md_udp``, ``rpc``."""

    def __init__(self, symbols: list[str] | tuple[str, ...], matchers: int = 1, *,
                 journal_dir: str | Path | None = None, limits: LimitsFile | str = DEFAULT_LIMITS,
                 ports: dict[str, int] | None = None, heartbeat_s: float | None = None,
                 engine: str = DEFAULT_ENGINE) -> None:
        from labsupport.rpc.threaded import ServerThread

        want = ports or {}
        self.lock = threading.Lock()
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.setsockopt(zmq.SNDHWM, PUB_HWM)
        md_port = want.get("md_zmq", 0)
        if md_port:
            self.pub.bind(f"tcp://127.0.0.1:{md_port}")
        else:
            md_port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.udp = UdpFanout(want.get("md_udp", 0))
        self.core = ExchangeCore(symbols, matchers, journal_dir=journal_dir, limits=limits,
                                 publish=self.pub.send, datagram=self.udp.send, engine=engine)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="exchange-fix")
        self.thread.start()
        self.fix = FixServer(self.core.gateway, self.core.pump, self.lock)
        asyncio.run_coroutine_threadsafe(self.fix.start(port=want.get("fix", 0)),
                                         self.loop).result(10)
        if heartbeat_s:
            self.loop.call_soon_threadsafe(self._beat, heartbeat_s)
        self.rpc = ServerThread(ExchangeControl("monolith", self.core.parts(), self.lock),
                                port=want.get("rpc", 0))
        self.ports = {"fix": self.fix.port, "md_zmq": md_port, "md_udp": self.udp.port,
                      "rpc": self.rpc.port}

    def _beat(self, every_s: float) -> None:
        """The feeds' heartbeat (see :meth:`.marketdata.MarketData.heartbeat`), on the loop
        thread that also publishes (a ZeroMQ socket belongs to one thread)."""
        with self.lock:
            self.core.md.heartbeat()
        self.loop.call_later(every_s, self._beat, every_s)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.fix.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.rpc.close()
        self.udp.close()
        self.pub.close()
        self.ctx.term()
        for m in self.core.matchers:
            if m.journal is not None:
                m.journal.close()

    def __enter__(self) -> Monolith:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
