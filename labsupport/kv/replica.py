"""Replica side of replication: the link to the master (handshake, full sync, stream, ACKs).

Mirrors Redis's ``replication.c`` (``syncWithMaster``, ``readSyncBulkPayload``,
``replicationSendAck``).

Theory of operation
-------------------
The link is an asyncio protocol with four states:

``handshake``
    sends ``PING``, ``REPLCONF listening-port``, ``REPLCONF capa psync2`` and
    ``PSYNC <replid> <offset+1>`` (``PSYNC ? -1`` the first time) in one write, reads the three
    ``+`` replies and the PSYNC answer;
``bulk-len`` / ``bulk``
    after ``+FULLRESYNC <replid> <offset>``: reads ``$<len>\\r\\n`` and ``len`` bytes of snapshot,
    verifies and loads it (the old dataset is discarded), takes the master's replid and offset;
``stream``
    every byte after that is a write command from the master; they run through the normal
    dispatch as a *master client* (allowed to write on a read-only replica) and ``offset``
    grows by the bytes applied. ``+CONTINUE`` (partial resync) goes straight to this state.

The replica sends ``REPLCONF ACK <offset>`` every second and after a batch containing
``REPLCONF GETACK``. When the connection drops it reconnects every half second with
``PSYNC <replid> <offset+1>``, so a short outage costs only the missing tail of the backlog.
"""

from __future__ import annotations

import asyncio

from . import snapshot
from .fastpath import FastCommandParser
from .resp import encode_command


class MasterLink(asyncio.Protocol):
    """This server's connection to its master."""

    def __init__(self, engine, host: str, port: int, replid: str | None = None,
                 offset: int = -1) -> None:
        self.engine = engine
        self.host, self.port = host, port
        self.replid = replid
        self.offset = offset
        self.state = "connecting"
        self.transport = None
        self.closed = False
        self.buf = bytearray()
        self.need = 0
        self.parser: FastCommandParser | None = None
        self.client = engine.new_client(lambda data: None, is_master=True)
        self.ack_requested = False
        self.last_io = self.engine.monotonic()
        self.full_syncs = 0
        self.partial_syncs = 0
        self._task: asyncio.Task | None = None
        self._lost: asyncio.Future | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            self._lost = loop.create_future()
            try:
                await loop.create_connection(lambda: self, self.host, self.port)
                await self._lost
            except OSError:
                pass
            self.state = "connecting"
            if not self.closed:
                await asyncio.sleep(0.5)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        if self._task is not None:
            self._task.cancel()
        self.engine.drop_client(self.client)

    # ------------------------------------------------------------ protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.state = "handshake"
        self.buf.clear()
        self.replies = 0
        replid = self.replid or "?"
        offset = b"%d" % (self.offset + 1) if self.replid else b"-1"
        transport.write(b"".join([
            encode_command([b"PING"]),
            encode_command([b"REPLCONF", b"listening-port", b"%d" % self.engine.config.port]),
            encode_command([b"REPLCONF", b"capa", b"psync2"]),
            encode_command([b"PSYNC", replid.encode(), offset]),
        ]))

    def connection_lost(self, exc) -> None:
        self.transport = None
        self.state = "connecting"
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.last_io = self.engine.monotonic()
        if self.state == "stream":
            self._stream(data)
            return
        self.buf += data
        while self.state in ("handshake", "bulk-len"):
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                return
            line = bytes(self.buf[:nl])
            del self.buf[:nl + 2]
            if self.state == "handshake":
                self._handshake_line(line)
            else:
                self.need = int(line[1:])
                self.state = "bulk"
        if self.state == "bulk" and len(self.buf) >= self.need:
            image = bytes(self.buf[:self.need])
            rest = bytes(self.buf[self.need:])
            self.buf.clear()
            self._load(image)
            self.state = "stream"
            if rest:
                self._stream(rest)
        elif self.state == "stream" and self.buf:
            rest = bytes(self.buf)
            self.buf.clear()
            self._stream(rest)

    def _handshake_line(self, line: bytes) -> None:
        if line.startswith(b"+FULLRESYNC"):
            _, replid, offset = line.split()
            self.replid, self.offset = replid.decode(), int(offset)
            self.state = "bulk-len"
            self.full_syncs += 1
        elif line.startswith(b"+CONTINUE"):
            parts = line.split()
            if len(parts) > 1:
                self.replid = parts[1].decode()
            self.state = "stream"
            self.parser = FastCommandParser(inline=False)
            self.partial_syncs += 1
        # +PONG, +OK of the first three commands (and any -ERR to REPLCONF capa) are skipped

    def _load(self, image: bytes) -> None:
        eng = self.engine
        _aux, entries = snapshot.load(image, "full sync payload")
        snapshot.restore_all(eng.dbs, entries)   # the master's image replaces every database
        self.parser = FastCommandParser(inline=False)
        if eng.aof is not None:
            eng.rewrite_aof_sync()   # the AOF must describe the new dataset

    def _stream(self, data: bytes) -> None:
        parser = self.parser
        before = parser.consumed
        cmds = parser.feed(data)
        if cmds:
            self.engine.run_batch(self.client, cmds)
        self.offset += parser.consumed - before
        if self.ack_requested:
            self.ack_requested = False
            self.send_ack(now=True)

    # ------------------------------------------------------------ acks

    def send_ack(self, now: bool = False) -> None:
        """Called by REPLCONF GETACK (deferred to the end of the batch) and by the cron."""
        if not now:
            self.ack_requested = True
            return
        if self.transport is not None and self.state == "stream":
            self.transport.write(encode_command([b"REPLCONF", b"ACK", b"%d" % self.offset]))

    def info_lines(self) -> list[str]:
        up = self.state == "stream"
        return [
            f"master_host:{self.host}", f"master_port:{self.port}",
            "master_link_status:%s" % ("up" if up else "down"),
            f"master_last_io_seconds_ago:{int(self.engine.monotonic() - self.last_io)}",
            f"master_sync_in_progress:{int(self.state in ('bulk-len', 'bulk'))}",
            f"slave_read_repl_offset:{self.offset}",
            f"slave_repl_offset:{self.offset}",
            "slave_priority:100", "slave_read_only:1", "replica_announced:1",
        ]
