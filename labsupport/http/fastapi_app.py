"""A small FastAPI application, served both by uvicorn and by this server's ASGI adapter.

Importing this module needs FastAPI (the ``peers`` extra); the tests and the benchmark skip
it with a message when it is absent.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

app = FastAPI()
if os.environ.get("LAB_HTTP_ROOT"):  # the benchmark's static-file workload
    app.mount("/static", StaticFiles(directory=os.environ["LAB_HTTP_ROOT"]), name="static")


class Order(BaseModel):
    symbol: str
    qty: int


@app.get("/hello", response_class=PlainTextResponse)
async def hello() -> str:
    return "Hello, World!"


@app.get("/orders/{order_id}")
def get_order(order_id: int, verbose: bool = False) -> dict:
    return {"order_id": order_id, "verbose": verbose}


@app.post("/orders")
def new_order(order: Order) -> dict:
    return {"accepted": order.symbol, "qty": order.qty}
