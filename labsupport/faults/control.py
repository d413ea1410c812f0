"""The proxy's control protocol: one JSON object per line over TCP, one answer line per request.

Like toxiproxy's HTTP API, but small enough to type with ``nc``::

    {"op": "get"}                                   -> {"ok": true, "faults": {...}}
    {"op": "set", "direction": "downstream", "changes": {"latency_ms": 50}}
                                                    -> {"ok": true, "faults": {...}}
    {"op": "set", "refuse": true}                   -> {"ok": true, "faults": {...}}
    {"op": "clear"}                                 -> {"ok": true, "faults": {...}}  (all off)
    {"op": "stats"}                                 -> {"ok": true, "stats": {...}}
    anything wrong                                  -> {"ok": false, "error": "what and why"}

``direction`` is ``upstream`` (client to server), ``downstream`` or ``both`` (the default); the
names in ``changes`` are the fields of :class:`~.shaping.Direction`. The server listens on
loopback only. :class:`ControlClient` is the blocking client the command line and tests use.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from .proxy import FaultProxy
from .shaping import FaultError, Faults


class ControlError(FaultError):
    """The control server refused a request, or did not answer; the message says why."""


class ControlServer:
    """Serves the control protocol for one :class:`~.proxy.FaultProxy`."""

    def __init__(self, proxy: FaultProxy, port: int = 0) -> None:
        self.proxy = proxy
        self.port = port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> ControlServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(await self.answer(line)).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def answer(self, line: bytes) -> dict[str, Any]:
        """The reply to one request line (never raises for a bad request: it says so)."""
        try:
            req = json.loads(line)
        except json.JSONDecodeError as exc:
            return {"ok": False, "error": f"not JSON: {exc}"}
        if not isinstance(req, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        op = req.get("op")
        try:
            if op == "get":
                return {"ok": True, "faults": self.proxy.faults.as_dict()}
            if op == "stats":
                return {"ok": True, "stats": self.proxy.stats()}
            if op == "clear":
                return {"ok": True, "faults": (await self.proxy.configure(Faults())).as_dict()}
            if op == "set":
                changes = req.get("changes", {})
                if not isinstance(changes, dict):
                    return {"ok": False, "error": "changes must be an object"}
                faults = await self.proxy.update(req.get("direction", "both"),
                                                 req.get("refuse"), **changes)
                return {"ok": True, "faults": faults.as_dict()}
        except (FaultError, TypeError) as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": False, "error": f"unknown op {op!r} (get, set, clear, stats)"}


class ControlClient:
    """A blocking client of the control protocol on ``127.0.0.1:port``."""

    def __init__(self, port: int, timeout_s: float = 5.0) -> None:
        try:
            self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        except OSError as exc:
            raise ControlError(f"no fault proxy control on 127.0.0.1:{port}: "
                               f"{exc.strerror or exc}") from None
        self._file = self._sock.makefile("rwb")

    def request(self, doc: dict[str, Any]) -> dict[str, Any]:
        self._file.write(json.dumps(doc).encode() + b"\n")
        self._file.flush()
        line = self._file.readline()
        if not line:
            raise ControlError("the control server closed the connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(reply.get("error", "refused"))
        return reply

    def set(self, direction: str = "both", refuse: bool | None = None,
            **changes: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {"op": "set", "direction": direction, "changes": changes}
        if refuse is not None:
            doc["refuse"] = refuse
        return self.request(doc)["faults"]

    def get(self) -> dict[str, Any]:
        return self.request({"op": "get"})["faults"]

    def clear(self) -> dict[str, Any]:
        return self.request({"op": "clear"})["faults"]

    def stats(self) -> dict[str, int]:
        return self.request({"op": "stats"})["stats"]

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
