"""Lab 10: a microservice exchange.

A FIX 4.4 order-entry gateway (:mod:`.session`, :mod:`.gateway`), Lab 06's pre-trade risk and
a drop copy (:mod:`.services`), Lab 02's matching engine or Lab 11's compiled one (``--engine``;
:mod:`.levels` keeps the L2 levels the compiled one does not publish) partitioned by symbol
with a journal (:mod:`.matching`), market data over ZeroMQ PUB and MoldUDP64/ITCH UDP with snapshot recovery
(:mod:`.marketdata`), wired by sequenced ZeroMQ streams (:mod:`.bus`) with the control paths
over Lab 07's RPC (:mod:`.control`). The same classes run in one process (:mod:`.local`) or
as supervised processes (:mod:`.system`, ``python -m labsupport.exchange up --dir DIR``).
Clients: :mod:`.client` (FIX, simplefix-based), :mod:`.bots` (load), :mod:`.mdclient`
(feed subscribers that rebuild and check the book).

Names are imported on first use (PEP 562): a service process imports only what it runs
(the ITCH encoder pulls in numba, which only market data needs).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"Gateway": ".gateway", "OrderState": ".gateway", "ExchangeCore": ".local",
         "Monolith": ".local", "L2Book": ".marketdata", "MarketData": ".marketdata",
         "Journal": ".matching", "Matcher": ".matching", "ENGINES": ".matching",
         "LevelBook": ".levels", "partition_of": ".matching",
         "DEFAULT_LIMITS": ".services", "DropCopy": ".services", "RiskGate": ".services",
         "EXCHANGE_COMP_ID": ".session", "ExchangeError": ".session",
         "FixSession": ".session", "SessionStore": ".session", "FixClient": ".client"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
