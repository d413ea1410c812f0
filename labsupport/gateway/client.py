"""A small asyncio HTTP/1.1 client for the gateway's tests, benchmark and notebook.

One keep-alive connection per ``AsyncClient``; responses are read with Lab 01's sans-IO
``ResponseReader``. ``crowd`` opens many connections at once and has each make requests, the
closed-loop load of "10,000 concurrent clients": it returns the count of each status (and of
transport errors, as status 0) so a caller can assert "zero errors".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence

from labsupport.http.client import NEED_DATA, RawResponse, ResponseReader

__all__ = ["AsyncClient", "crowd"]


class AsyncClient:
    """``await AsyncClient.connect(port)``, then ``await client.request("GET", "/x")``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.rr = ResponseReader()

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> AsyncClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, headers: Sequence[tuple[str, str]] = (),
                      body: bytes = b"", host: str = "gateway.test") -> RawResponse:
        lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT"):
            lines.append(f"content-length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        if method == "HEAD":
            self.rr.expect_head()
        while (resp := self.rr.next_response()) is NEED_DATA:
            data = await self.reader.read(262144)
            if not data:
                self.rr.feed_eof()
                resp = self.rr.next_response()
                if resp is NEED_DATA:
                    raise ConnectionError("server closed before a whole response")
                break
            self.rr.feed(data)
        return resp

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def crowd(port: int, connections: int, requests_each: int, path: str = "/",
                *, connect_batch: int = 500, timeout_s: float = 60.0) -> Counter[int]:
    """``connections`` clients connected at once, each making ``requests_each`` requests.

    All connections are opened (``connect_batch`` at a time, so the listen backlog is not
    overrun) and held before any request is sent: the gateway really holds them all.
    Status 0 counts transport errors (refused, reset, closed early).
    """
    statuses: Counter[int] = Counter()
    clients: list[AsyncClient] = []
    for start in range(0, connections, connect_batch):
        batch = await asyncio.gather(*(AsyncClient.connect(port) for _ in
                                       range(start, min(connections, start + connect_batch))),
                                     return_exceptions=True)
        for c in batch:
            if isinstance(c, AsyncClient):
                clients.append(c)
            else:
                statuses[0] += requests_each

    async def one(c: AsyncClient) -> None:
        for _ in range(requests_each):
            try:
                statuses[(await c.request("GET", path)).status] += 1
            except (ConnectionError, OSError):
                statuses[0] += 1
                return

    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(one(c) for c in clients))
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return statuses
