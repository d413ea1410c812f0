"""The asyncio shell around :class:`.engine.Engine`: one protocol object per connection.

Mirrors the role of Redis's ``ae.c`` event loop + ``networking.c`` read/write handlers.
Uses uvloop when it is installed (the same event loop uvicorn uses).

Pipelining in batches: ``data_received`` feeds whatever one read returned to the connection's
parser (:class:`.fastpath.FastCommandParser`), hands *every* complete command to
``Engine.run_batch`` at once (a run of one shape to ``Engine.run_run``), and that answers with a single ``transport.write``: 16 pipelined GETs cost one read, one write and no
per-command event-loop work. A protocol error (bad bytes, a length over the limits) is answered
with Redis's error line after the replies of the good commands before it, then the connection
is closed; the server itself never stops for a client's mistake. Back-pressure: when a client
stops reading its replies the transport's buffer fills, asyncio calls ``pause_writing`` and we
stop reading that client until it drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from .engine import Config, Engine
from .fastpath import FastCommandParser


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class RespProtocol(asyncio.Protocol):
    """One client connection."""

    __slots__ = ("engine", "parser", "transport", "client")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.parser = FastCommandParser()
        self.transport = None
        self.client = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.client = self.engine.new_client(transport.write)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        cmds = parser.feed_run(data)
        if type(cmds) is tuple:        # one run of a single command shape
            self.engine.run_run(self.client, *cmds)
        elif cmds:
            self.engine.run_batch(self.client, cmds)
        if parser.error is not None:
            line = b"-ERR %s\r\n" % str(parser.error).encode()
            if self.client.held is not None:      # keep the order: after the held replies
                self.client.held.append(line)
                self.client.after_commit = self.transport.close
            else:
                self.transport.write(line)
                self.transport.close()
        elif self.client.close_after:
            if self.client.held is not None:      # replies still waiting for the fsync
                self.client.after_commit = self.transport.close
            else:
                self.transport.close()

    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    def connection_lost(self, exc) -> None:
        self.engine.drop_client(self.client)


class KvServer:
    """Engine + listening socket + cron timer, inside a running event loop."""

    def __init__(self, config: Config, engine: Engine | None = None) -> None:
        self.config = config
        self.engine = engine or Engine(config)
        self._server: asyncio.AbstractServer | None = None
        self._cron: asyncio.TimerHandle | None = None
        self.port = config.port
        self.load_report = ""

    async def start(self) -> None:
        eng = self.engine
        self.load_report = eng.start()
        loop = asyncio.get_running_loop()
        eng.defer = loop.call_soon
        self._server = await loop.create_server(lambda: RespProtocol(eng), self.config.bind,
                                                self.config.port, reuse_address=True,
                                                backlog=511)
        self.port = self._server.sockets[0].getsockname()[1]
        eng.config.port = self.port
        if self.config.replicaof:
            aux = eng.loaded_aux
            eng.become_replica(*self.config.replicaof, aux.get("repl_id"),
                               aux.get("repl_offset", -1))
        self._tick()

    def _tick(self) -> None:
        self.engine.cron()
        self._cron = asyncio.get_running_loop().call_later(1.0 / self.config.hz, self._tick)

    async def stop(self, save_snapshot: bool = False) -> None:
        if self._cron is not None:
            self._cron.cancel()
        if self._server is not None:
            self._server.close()
        eng = self.engine
        if eng.master_link is not None:
            eng.master_link.close()
        if save_snapshot:
            eng.save()
        eng.shutdown()


class ServerThread:
    """Run a :class:`KvServer` on its own event loop in a background thread.

    For tests and notebooks that want a server in-process::

        with ServerThread(Config(port=0, dir=tmp)) as srv:
            redis.Redis(port=srv.port).set("k", "v")
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server = KvServer(config)
        self.engine = self.server.engine
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self._main, name="kv-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as e:  # reported to the starting thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the server's loop and return its result (thread-safe)."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self, save_snapshot: bool = False) -> None:
        if not self._thread.is_alive():
            return
        fut = asyncio.run_coroutine_threadsafe(self.server.stop(save_snapshot), self.loop)
        with contextlib.suppress(Exception):
            fut.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
