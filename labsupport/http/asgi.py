"""ASGI 3 adapter: run a FastAPI / Starlette (or any ASGI 3 HTTP) app on this server.

Follows the ASGI HTTP connection scope spec (version 2.3) as uvicorn implements it:
the server builds ``scope``, the app pulls the body with ``receive()`` and pushes the
response with ``send()``: ``http.response.start`` (status, headers) then one or more
``http.response.body`` messages.

Theory of operation: the adapter is a native handler that returns an ``ASGICall``; the
server awaits ``ASGICall.send`` in one Task per request (uvicorn also runs one Task per
request). The body has already been read by the server (within ``--max-body``), so the
first ``receive()`` returns it whole; a later one waits until the response is finished or
the client goes away and returns ``http.disconnect``. A response that arrives in a single
body message gets a Content-Length and is written with its head in one write; a response
in several messages without a Content-Length is sent chunked (or, to an HTTP/1.0 client,
delimited by closing the connection). Lifespan startup/shutdown is run by ``Lifespan``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from .errors import LocalProtocolError
from .response import LAST_CHUNK, encode_chunk, serialize_chunked_head, serialize_response
from .routing import HttpRequest

__all__ = ["ASGIAdapter", "ASGICall", "Lifespan"]

_ASGI = {"version": "3.0", "spec_version": "2.3"}


class ASGICall:
    """One request being served by the ASGI app."""

    __slots__ = ("adapter", "request", "proto", "head", "keep", "status", "headers",
                 "started", "complete", "chunked", "has_length", "head_written", "_body_sent",
                 "_done")

    def __init__(self, adapter: ASGIAdapter, request: HttpRequest) -> None:
        self.adapter = adapter
        self.request = request
        self.started = self.complete = self.chunked = self.has_length = False
        self.head_written = False
        self._body_sent = False
        self._done: asyncio.Future[None] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 500

    async def send(self, proto: Any, head: Any, keep: bool) -> None:
        self.proto, self.head, self.keep = proto, head, keep
        scope = self.adapter.make_scope(self.request, proto)
        try:
            await self.adapter.app(scope, self._receive, self._send)
        except Exception:
            if self.started:
                raise  # the head is out: the only honest signal left is to drop the connection
            self.status, self.headers = 500, [(b"content-type", b"text/plain; charset=utf-8")]
            await self._send({"type": "http.response.start", "status": 500, "headers": self.headers})
            await self._send({"type": "http.response.body", "body": b"internal server error\n"})
        if not self.started:
            raise LocalProtocolError("ASGI app returned without sending a response")
        if not self.complete:
            raise LocalProtocolError("ASGI app returned before finishing its response body")

    async def _receive(self) -> dict[str, Any]:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self.request.body, "more_body": False}
        # Nothing more will come: wait for the end of this response or of the connection.
        if not self.complete and not self.proto.closing:
            self._done = asyncio.get_running_loop().create_future()
            self.proto.disconnect_waiters.append(self._done)
            await self._done
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise LocalProtocolError("http.response.start sent twice")
            self.started = True
            self.status = message["status"]
            headers = []
            for name, value in message.get("headers", ()):
                if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
                    raise LocalProtocolError(f"CR or LF in response field {name!r}")
                name = name.lower()
                if name == b"content-length":
                    self.has_length = True
                elif name in (b"connection", b"transfer-encoding"):
                    continue  # framing is the server's business
                headers.append((name, value))
            self.headers = headers
            return
        if kind != "http.response.body":
            raise LocalProtocolError(f"unexpected ASGI message {kind!r}")
        if not self.started:
            raise LocalProtocolError("http.response.body before http.response.start")
        if self.complete:
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        proto, head = self.proto, self.head
        transport = proto.transport
        date = proto.server.date.line
        head_only = head.method == "HEAD"
        if not self.chunked and not more and not self.head_written:
            # The whole response in one message: one write, with a Content-Length.
            transport.write(serialize_response(
                self.status, self.headers, body, keep_alive=self.keep, head_only=head_only,
                date_line=date, http10_keep_alive=self.keep and head.http_version == "1.0",
                content_length=None if self.has_length else len(body))
                if not self.has_length else self._raw_head(date) + (b"" if head_only else body))
            self._finish()
            return
        if not self.head_written:
            self.chunked = not self.has_length and head.http_version == "1.1"
            if not self.has_length and not self.chunked:
                self.keep = False  # HTTP/1.0 streaming: the close marks the end
            transport.write(serialize_chunked_head(self.status, self.headers, keep_alive=self.keep,
                                                   date_line=date)
                            if self.chunked else self._raw_head(date))
            self.head_written = True
        if not head_only and body:
            transport.write(encode_chunk(body) if self.chunked else body)
        if not more:
            if self.chunked and not head_only:
                transport.write(LAST_CHUNK)
            self._finish()
        else:
            await proto.drain()

    def _raw_head(self, date: bytes) -> bytes:
        """Head with the app's own Content-Length (or none, for a close-delimited body)."""
        return serialize_response(self.status, self.headers, b"", keep_alive=self.keep,
                                  date_line=date, add_length=False)

    def _finish(self) -> None:
        self.complete = True


class ASGIAdapter:
    """A native handler that runs an ASGI 3 application."""

    def __init__(self, app: Any, *, root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path

    def make_scope(self, request: HttpRequest, proto: Any) -> dict[str, Any]:
        head = request.head
        sock = proto.sockname
        path = head.path
        return {
            "type": "http",
            "asgi": _ASGI,
            "http_version": head.http_version,
            "method": head.method,
            "scheme": "http",
            "path": unquote(path) if "%" in path else path,
            "raw_path": path.encode("ascii"),
            "query_string": head.query,
            "root_path": self.root_path,
            "headers": list(head.headers),
            "client": proto.peer[:2] if proto.peer else None,
            "server": sock[:2] if sock else None,
        }

    def __call__(self, request: HttpRequest) -> ASGICall:
        return ASGICall(self, request)


class Lifespan:
    """Runs the ASGI lifespan protocol (startup before serving, shutdown after)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._events: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.supported = True

    async def _receive(self) -> dict[str, Any]:
        return await self._queue.get()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        stage = kind.split(".")[1]  # startup / shutdown
        fut = self._events.get(stage)
        if fut is not None and not fut.done():
            if kind.endswith("failed"):
                fut.set_exception(RuntimeError(f"lifespan {stage} failed: {message.get('message', '')}"))
            else:
                fut.set_result(None)

    async def _run(self) -> None:
        try:
            await self.app({"type": "lifespan", "asgi": _ASGI, "state": {}}, self._receive, self._send)
        except Exception:
            self.supported = False  # apps without lifespan support raise on the unknown scope
        for fut in self._events.values():
            if not fut.done():
                fut.set_result(None)

    async def _stage(self, stage: str) -> None:
        if not self.supported:
            return
        loop = asyncio.get_running_loop()
        self._events[stage] = loop.create_future()
        if self._task is None:
            self._task = loop.create_task(self._run())
        await self._queue.put({"type": f"lifespan.{stage}"})
        await self._events[stage]

    async def startup(self) -> None:
        await self._stage("startup")

    async def shutdown(self) -> None:
        await self._stage("shutdown")
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)
