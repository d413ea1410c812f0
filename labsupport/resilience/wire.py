"""The live runs' wire format and host: JSON lines over TCP, asyncio timers, a real disk.

In simulation a component's host is the simulator's :class:`~labsupport.sim.Host`. Here
:class:`LiveHost` offers the component the same four things (``send``, ``set_timer``,
``cancel_timer`` and a ``sim.now_ns`` clock) on an asyncio loop, so the very classes that
passed the fault matrix run as processes. Messages are the same frozen dataclasses, encoded as
``{"_": "ClassName", "v": [fields...]}`` one per line (nested for a frame's payload).

Each process listens on the port its supervisor assigned and dials the peers named on its
command line (the one side of each pair that depends on the other dials), says ``{"from":
NAME}`` first, and then both directions share that connection. A connection that breaks (a
peer killed with -9, the fault proxy cutting it) is dialled again every 50 ms; what was lost in
between is the session layer's business, exactly as in simulation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Hashable
from typing import Any

from .messages import APP_TYPES
from .session import SESSION_TYPES

__all__ = ["encode", "decode", "LiveHost"]

_TYPES = {**APP_TYPES, **SESSION_TYPES}


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {"_": type(obj).__name__, "v": [_plain(getattr(obj, f.name))
                                               for f in dataclasses.fields(obj)]}
    if isinstance(obj, (tuple, list)):
        return [_plain(x) for x in obj]
    return obj


def _typed(obj: Any) -> Any:
    if isinstance(obj, dict) and "_" in obj:
        return _TYPES[obj["_"]](*(_typed(v) for v in obj["v"]))
    if isinstance(obj, list):
        return tuple(_typed(x) for x in obj)
    return obj


def encode(msg: Any) -> bytes:
    return json.dumps(_plain(msg), separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Any:
    return _typed(json.loads(line))


class LiveHost:
    """What a component's ``_host`` must offer, for real."""

    def __init__(self, name: str, node: Any, dial: dict[str, tuple[str, int]]) -> None:
        self.name, self.node, self.dial = name, node, dial
        self.sim = self  # Node.now_ns reads host.sim.now_ns
        self.writers: dict[str, asyncio.StreamWriter] = {}
        self.timers: dict[Hashable, asyncio.TimerHandle] = {}
        self.tasks: list[asyncio.Task] = []

    @property
    def now_ns(self) -> int:
        return time.time_ns()  # one clock for every process on the machine: histories merge

    # -- what the component calls -------------------------------------------------------------
    def send(self, dst: str, msg: Any) -> None:
        w = self.writers.get(dst)
        if w is not None and not w.is_closing():
            w.write(encode(msg))  # no connection: the message is lost, as on a real network

    def set_timer(self, delay_ns: int, name: Hashable) -> None:
        self.cancel_timer(name)
        loop = asyncio.get_running_loop()
        self.timers[name] = loop.call_later(delay_ns / 1e9, self._fire, name)

    def cancel_timer(self, name: Hashable) -> bool:
        handle = self.timers.pop(name, None)
        if handle is not None:
            handle.cancel()
        return handle is not None

    def _fire(self, name: Hashable) -> None:
        self.timers.pop(name, None)
        self.node.on_timer(name)

    # -- connections --------------------------------------------------------------------------
    async def serve(self, port: int) -> asyncio.Server:
        server = await asyncio.start_server(self._accepted, "127.0.0.1", port)
        for peer, addr in self.dial.items():
            self.tasks.append(asyncio.create_task(self._dial(peer, addr)))
        return server

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            hello = json.loads(await reader.readline() or b"{}")
        except json.JSONDecodeError:
            writer.close()
            return
        peer = hello.get("from")
        if peer not in self.node.PEERS:
            writer.close()
            return
        await self._pump(peer, reader, writer)

    async def _dial(self, peer: str, addr: tuple[str, int]) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(*addr)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.write(json.dumps({"from": self.name}).encode() + b"\n")
            await self._pump(peer, reader, writer)
            await asyncio.sleep(0.05)

    async def _pump(self, peer: str, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        self.writers[peer] = writer
        try:
            while True:
                try:
                    line = await reader.readline()
                    msg = decode(line) if line else None
                except (ConnectionError, ValueError, KeyError, TypeError):
                    break  # a broken or garbled connection: dial again / wait for the peer
                if msg is None:
                    break
                self.node.on_message(peer, msg)  # a bug in a handler keeps its traceback
        finally:
            if self.writers.get(peer) is writer:
                del self.writers[peer]
            writer.close()
