"""A demo trading desk served by the framework: quotes, order entry, streaming market data.

What it mirrors: the shape of a broker's order-entry and market-data API as gRPC services
expose them (a unary quote, a unary order, a server stream of ticks, a client-streamed batch
of orders, a bidirectional order/fill session), with messages as msgpack dicts.

Theory of operation. Prices follow a seeded random walk per symbol (an injected
``random.Random``), so a notebook shows the same ticks on every run. Bad input is answered
with gRPC's codes: an unknown symbol is ``NOT_FOUND``, a bad side, quantity or price is
``INVALID_ARGUMENT``; the quote is idempotent (safe to retry), the order is not.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from typing import Any

from .dispatch import CallContext
from .errors import RpcError, StatusCode
from .service import bidi, client_stream, server_stream, service, unary

SYMBOLS = ("ACME", "GLOBX", "INITECH")


@service("trading.Desk")
class TradingDesk:
    def __init__(self, symbols: tuple[str, ...] = SYMBOLS, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.prices = {s: 100.0 + 10 * i for i, s in enumerate(symbols)}
        self.order_ids = itertools.count(1)
        self.orders: list[dict[str, Any]] = []

    def _price(self, symbol: Any) -> float:
        if symbol not in self.prices:
            raise RpcError(StatusCode.NOT_FOUND, f"unknown symbol {symbol!r}")
        return self.prices[symbol]

    def _step(self, symbol: str) -> float:
        price = self.prices[symbol] = round(max(0.01, self.prices[symbol]
                                                + self.rng.gauss(0, 0.05)), 2)
        return price

    def _order(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise RpcError(StatusCode.INVALID_ARGUMENT, "an order is a map")
        price = self._price(request.get("symbol"))
        if request.get("side") not in ("buy", "sell"):
            raise RpcError(StatusCode.INVALID_ARGUMENT, "side must be buy or sell")
        qty = request.get("qty")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            raise RpcError(StatusCode.INVALID_ARGUMENT, "qty must be a positive integer")
        limit = request.get("price", price)
        if not isinstance(limit, (int, float)) or limit <= 0:
            raise RpcError(StatusCode.INVALID_ARGUMENT, "price must be positive")
        order = {"order_id": next(self.order_ids), "symbol": request["symbol"],
                 "side": request["side"], "qty": qty, "price": limit, "status": "accepted"}
        self.orders.append(order)
        return order

    @unary(idempotent=True)
    async def Quote(self, request: dict, ctx: CallContext) -> dict:
        mid = self._price(request.get("symbol") if isinstance(request, dict) else None)
        return {"symbol": request["symbol"], "bid": round(mid - 0.01, 2),
                "ask": round(mid + 0.01, 2)}

    @unary
    async def PlaceOrder(self, request: dict, ctx: CallContext) -> dict:
        return self._order(request)

    @server_stream
    async def MarketData(self, request: dict, ctx: CallContext) -> AsyncIterator[dict]:
        symbol = request.get("symbol") if isinstance(request, dict) else None
        self._price(symbol)
        interval = float(request.get("interval_ms", 0)) / 1000
        for seq in range(int(request.get("count", 10))):
            if interval:
                await asyncio.sleep(interval)
            yield {"seq": seq, "symbol": symbol, "price": self._step(symbol)}

    @client_stream
    async def SubmitBatch(self, requests: AsyncIterator[dict], ctx: CallContext) -> dict:
        accepted = rejected = 0
        async for request in requests:
            try:
                self._order(request)
                accepted += 1
            except RpcError:
                rejected += 1
        return {"accepted": accepted, "rejected": rejected}

    @bidi
    async def Trade(self, requests: AsyncIterator[dict], ctx: CallContext) -> AsyncIterator[dict]:
        async for request in requests:
            order = self._order(request)
            yield {"order_id": order["order_id"], "filled": order["qty"],
                   "price": self._step(order["symbol"])}
