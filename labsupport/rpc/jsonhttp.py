"""JSON over HTTP/1.1, the comparison every RPC framework is measured against.

What it mirrors: the REST-style call most services expose: ``POST /bench.Echo/Say`` with a JSON
body, answered with a JSON body, on a keep-alive HTTP/1.1 connection (one call in flight per
connection: HTTP/1.1 has no stream ids, so concurrency means more connections).

Theory of operation. :func:`asgi_echo` is an ASGI app served by Lab 01's server (``python -m
labsupport.http --app labsupport.rpc.jsonhttp:asgi_echo``); it decodes the JSON request and
encodes it back, so both ends pay JSON's cost as a real service would. :class:`JsonHttpClient`
is a minimal asyncio client: it writes the request and reads the head to the blank line, then
``Content-Length`` bytes of body.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .errors import RpcError, StatusCode


async def asgi_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echo the JSON request body as ``{"echo": body}``."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        reply = json.dumps({"echo": json.loads(body)}).encode()
        status = 200
    except ValueError:
        reply, status = b'{"error": "bad JSON"}', 400
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(reply)).encode())]})
    await send({"type": "http.response.body", "body": reply})


class JsonHttpClient:
    """One keep-alive HTTP/1.1 connection posting JSON."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> JsonHttpClient:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def call(self, path: str, message: Any) -> Any:
        assert self.reader is not None and self.writer is not None
        body = json.dumps(message).encode()
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self.host.encode(),
                                                             len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        reply = await self.reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RpcError(StatusCode.UNKNOWN, head.split(b"\r\n", 1)[0].decode())
        return json.loads(reply)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
