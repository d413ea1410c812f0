"""The control and query paths, over Lab 07's RPC framework (native transport, msgpack).

One service definition, ``labx.Exchange``, is served by every process of the exchange (and by
the monolith); each answers for the parts it hosts and says ``NOT_FOUND`` for the others:

===========  =====================================  =========================================
method       request                                answer
===========  =====================================  =========================================
Status       ``{}``                                 ``{"service": ..., "parts": {...}}``
Snapshot     ``{}``                                 market data's recovery snapshot
Book         ``{"symbol": S}``                      the matcher's L2 book of S
Latency      ``{"reset": bool}``                    per-hop latency of acknowledgements
Positions    ``{}``                                 drop copy's positions per account/symbol
EndOfDay     ``{}``                                 ``{"csv": ...}``, the end-of-day report
===========  =====================================  =========================================

The parts are mutated by the thread that runs the service loop; every call takes the same
``lock`` so an answer is a consistent view.
"""

from __future__ import annotations

import threading
from typing import Any

from labsupport.rpc import CallContext, RpcError, StatusCode, service, unary

__all__ = ["ExchangeControl", "PATH"]

PATH = "/labx.Exchange/"


@service("labx.Exchange")
class ExchangeControl:
    """``parts``: any of ``gateway``, ``risk``, ``matchers`` (list), ``md``, ``dropcopy``."""

    def __init__(self, name: str, parts: dict[str, Any], lock: threading.Lock | None = None,
                 extra: Any = None) -> None:
        self.name = name
        self.parts = parts
        self.lock = lock or threading.Lock()
        self.extra = extra  # a callable adding transport counters to Status

    def _part(self, key: str) -> Any:
        part = self.parts.get(key)
        if part is None:
            raise RpcError(StatusCode.NOT_FOUND, f"{self.name} does not host {key}")
        return part

    @unary(idempotent=True)
    async def Status(self, request: dict, ctx: CallContext) -> dict:
        with self.lock:
            out: dict[str, Any] = {}
            for key, part in self.parts.items():
                out[key] = [m.status() for m in part] if isinstance(part, list) else part.status()
            if self.extra is not None:
                out["bus"] = self.extra()
        return {"service": self.name, "parts": out}

    @unary(idempotent=True)
    async def Snapshot(self, request: dict, ctx: CallContext) -> dict:
        md = self._part("md")
        with self.lock:
            return md.snapshot()

    @unary(idempotent=True)
    async def Book(self, request: dict, ctx: CallContext) -> dict:
        symbol = request.get("symbol") if isinstance(request, dict) else None
        with self.lock:
            for m in self._part("matchers"):
                if symbol in m.symbols:
                    return m.l2(symbol)
        raise RpcError(StatusCode.NOT_FOUND, f"no matcher here trades {symbol!r}")

    @unary(idempotent=True)
    async def Latency(self, request: dict, ctx: CallContext) -> dict:
        """Per-hop percentiles of the acknowledgements so far (``{"reset": true}`` clears)."""
        from .latency import breakdown_table

        gw = self._part("gateway")
        with self.lock:
            table = breakdown_table(gw.acks)
            if isinstance(request, dict) and request.get("reset"):
                gw.acks.clear()
        return table

    @unary(idempotent=True)
    async def Positions(self, request: dict, ctx: CallContext) -> dict:
        dc = self._part("dropcopy")
        with self.lock:
            return {"positions": dc.position_rows(), "fills": len(dc.fills)}

    @unary(idempotent=True)
    async def EndOfDay(self, request: dict, ctx: CallContext) -> dict:
        dc = self._part("dropcopy")
        with self.lock:
            return {"csv": dc.end_of_day()}
