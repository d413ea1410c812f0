"""The server's core without sockets: clients, command dispatch in batches, propagation to the
AOF and replicas, the periodic cron.

Mirrors Redis's ``server.c`` (``processCommand``, ``call``, ``serverCron``, ``beforeSleep``).

Where things are
----------------
* here: :class:`Engine`'s dispatch (:meth:`Engine.run_batch`, the path every command can take),
  the end of a batch (replication, AOF group commit, replies), roles and the cron;
* :mod:`.persistence`: recovery, SAVE, BGSAVE and BGREWRITEAOF in forked children (a mixin);
* :mod:`.fastpath`: runs of one command shape (16 pipelined GETs, one SET) parsed and executed
  column-wise, a measured optimisation of ``run_batch`` with the same replies and bytes on disk.

Theory of operation
-------------------
The I/O layer (:mod:`.server`) hands :meth:`Engine.run_batch` every complete command one read
produced. The batch is executed in order; each reply is already RESP bytes. Write commands
record what to replay with :meth:`Engine.propagate`. At the end of the batch:

1. the propagated commands go into the replication stream (backlog + replicas) as RESP;
2. with an AOF, they are queued for the end of the event loop's turn and the batch's replies
   are *held*; a ``call_soon`` callback (:meth:`Engine._commit`, Redis's ``beforeSleep``)
   encodes every write of the turn, appends it with one ``write`` (and one ``fdatasync``
   under ``appendfsync always``: group commit), and only then sends the held replies:
   durability before acknowledgement;
3. otherwise the replies are joined and written to the client at once, in one ``write``.

A handler may return :data:`BLOCKED` (WAIT): the rest of the batch, and anything the client
sends meanwhile, waits in ``client.pending`` until :meth:`Client.unblock`.

Time and chance are injected: ``clock_ms`` (key deadlines), ``time_s`` (wall seconds: INFO,
LASTSAVE), ``monotonic`` (WAIT timeouts, replica lag) and ``rng`` (active expiry's sampling), so
tests and the notebook drive them with fakes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import (  # noqa: F401
    blocking,
    clients,
    cmd_collections,
    cmd_keys,
    cmd_server,
    cmd_strings,
    cmd_types,
    databases,
    fastpath,
    multi,
    notify,
    pubsub,
    replication,
    resp,
    resp3,
    snapshot,
)
from .aof import AofWriter
from .commands import (
    BLOCKED,
    COMMANDS,
    LOOKUP,
    PUBSUB,
    WRITE,
    arity_error,
    unknown_command,
)
from .keyspace import Keyspace, wall_clock_ms
from .persistence import Persistence
from .replication import MasterState
from .resp import encode_command
from .settings import settings


@dataclass
class Config:
    """Server options, named as redis-server's."""

    port: int = 6380
    bind: str = "127.0.0.1"
    dir: str = "."
    appendonly: bool = False
    appendfsync: str = "everysec"
    appendfilename: str = "appendonly.aof"
    dbfilename: str = "dump.kvs"
    replicaof: tuple[str, int] | None = None
    hz: int = 10
    repl_backlog_size: int = 1024 * 1024


class Client:
    """One connection's state. ``write`` sends bytes to the peer (the I/O layer provides it)."""

    __slots__ = ("engine", "ks", "write", "closed", "subs", "psubs", "restricted", "is_master",
                 "replica_info", "listening_port", "blocked", "pending", "id", "push_direct",
                 "close_after", "resp3", "held", "after_commit", "slow", "db", "srv")

    def __init__(self, engine: Engine, write, is_master: bool = False) -> None:
        self.engine = engine
        self.ks = engine.ks
        self.db = 0                      # SELECT index; ks is engine.dbs[db]
        self.srv = None                  # .clients.ClientState: name, MULTI, WATCH, reply mode
        self.write = write
        self.closed = False
        self.subs: set[bytes] = set()
        self.psubs: set[bytes] = set()
        self.is_master = is_master
        self.replica_info = None
        self.listening_port = 0
        self.blocked = False
        self.pending: list = []
        self.push_direct = False
        self.close_after = False
        self.resp3 = False               # HELLO 3 was sent: nulls and maps in RESP3 form
        self.held: list[bytes] | None = None   # replies waiting for the group fsync
        self.after_commit = None         # e.g. close the connection once held replies are out
        engine._next_id += 1
        self.id = engine._next_id
        self.update_mode()

    def push(self, data: bytes) -> None:
        """Out-of-band data (pub/sub messages, replication stream)."""
        if not self.closed:
            self.write(data)

    def update_mode(self) -> None:
        """Refresh the flag that sends commands through the slow checks."""
        self.restricted = bool(self.subs or self.psubs) or (
            self.engine.read_only and not self.is_master)
        self.slow = (self.restricted or self.resp3 or (self.srv is not None and self.srv.special)
                     or bool(self.engine.hooks & notify.NEW))

    def unblock(self, reply: bytes) -> None:
        self.blocked = False
        if self.closed:
            return
        self.write(reply)
        pending, self.pending = self.pending, []
        if pending:
            self.engine.run_batch(self, pending)


def _encode(cmd) -> bytes:
    """A recorded write as RESP: argument lists are encoded, RESP bytes pass through."""
    return cmd if type(cmd) is bytes else encode_command(cmd)


_SUB_ALLOWED = "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"


class Engine(Persistence):
    """Keyspace + dispatch + persistence + replication state of one server."""

    def __init__(self, config: Config | None = None,
                 clock_ms: Callable[[], int] = wall_clock_ms, *,
                 time_s: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.config = config or Config()
        self.time_s = time_s
        self.monotonic = monotonic
        self.dbs = [Keyspace(clock_ms, rng=rng) for _ in range(databases.NUM_DBS)]
        for i, ks in enumerate(self.dbs):
            ks.on_expire = self.expire_hook(i)
        self.ks = self.dbs[0]
        self.exec_db = 0                 # database of the command being executed
        self.stream_db = -1              # database the AOF / replication stream is on (SELECT)
        self.watched: dict = {}          # (db, key) -> clients WATCHing it (.multi)
        self.hooks = 0                   # keyspace-notification flags (.notify); 0: none
        self.blocked_on: dict = {}       # (db, key) -> FIFO of .blocking.Waiter
        self.waiters: dict = {}          # blocked client -> its Waiter
        self.ready: list = []            # (db, key) written while someone waits on it
        self.ready_set: set = set()
        self.serving = False
        self.pubsub = pubsub.Registry()
        self.master = MasterState(self.config.repl_backlog_size, monotonic=monotonic)
        self.master_link = None          # set by the replica side (.replica.MasterLink)
        self.read_only = False
        self.clients: set[Client] = set()
        self.aof: AofWriter | None = None
        self._pending: list[list[bytes]] = []
        self.defer = None                # loop.call_soon, set by the I/O layer (group commit)
        self._aof_cmds: list[list[bytes]] = []   # writes of this loop turn, not yet logged
        self.commands_processed = 0
        self._held: list[Client] = []
        self._commit_scheduled = False
        self._next_id = 0
        self.children: dict[int, str] = {}     # pid -> "rdb" | "aof"
        self.rewrite_buf: list[bytes] | None = None
        self.stats = {"total_commands_processed": 0, "total_connections_received": 0,
                      "rdb_saves": 0, "aof_rewrites": 0}
        self.last_save_time = int(time_s())
        self.start_time = time_s()
        self.load_report = ""
        self.loaded_aux: dict = {}
        self._ack_tick = 0

    # ------------------------------------------------------------ dispatch

    def new_client(self, write, is_master: bool = False) -> Client:
        cl = Client(self, write, is_master)
        clients.on_connect(cl)
        self.clients.add(cl)
        self.stats["total_connections_received"] += 1
        return cl

    def drop_client(self, cl: Client) -> None:
        cl.closed = True
        self.clients.discard(cl)
        self.pubsub.drop_client(cl)
        if cl.srv is not None:
            multi.unwatch_all(cl)
        if cl.blocked and cl in self.waiters:
            blocking.drop(self, cl)
        if cl.replica_info is not None and cl.replica_info in self.master.replicas:
            self.master.replicas.remove(cl.replica_info)

    def run_batch(self, cl: Client, cmds: list) -> None:
        """Execute commands in order; log their writes; reply in one write; replicate."""
        if cl.blocked:
            cl.pending.extend(cmds)
            return
        out = []
        get = LOOKUP.get
        i = 0
        self.exec_db = cl.db
        for argv in cmds:
            i += 1
            entry = get(argv[0])           # exact-case hit for "GET"/"get"; else fold case
            if entry is None:
                entry = get(argv[0].lower())
                if entry is None:
                    out.append(unknown_command(argv))
                    if cl.slow:
                        multi.flag_error(cl)   # inside MULTI: EXEC aborts
                    continue
            fn, arity, flags = entry
            n = len(argv)
            if n != arity and (arity > 0 or n < -arity):
                out.append(arity_error(argv[0]))
                if cl.slow:
                    multi.flag_error(cl)
                continue
            r = self._slow_call(cl, fn, flags, argv) if cl.slow else fn(cl, argv)
            if r is BLOCKED:
                cl.blocked = True
                cl.pending = list(cmds[i:])
                break
            out.append(r)
        self.commands_processed += i
        self._end_batch(cl, b"".join(out) if out else b"")

    # A read that is one run of a single command shape: see .fastpath (a measured shortcut).
    run_run = fastpath.run_run

    def _end_batch(self, cl: Client, reply: bytes) -> None:
        """After a batch: replicate and log its writes, then send (or hold) its replies."""
        if self.ready:   # keys that blocked clients wait on were written: serve them first
            blocking.serve(self)
        if self._pending:
            self.flush_propagation(cl)
        if reply:
            if cl.held is not None:
                cl.held.append(reply)
            else:
                cl.write(reply)

    def flush_propagation(self, cl: Client) -> None:
        """Hand the writes recorded so far to the replicas and the AOF (end of a batch, and
        WAIT, which must count the writes pipelined before it in the same batch)."""
        pending = self._pending
        if pending:
            if self.master.backlog is not None:
                self.master.feed(b"".join(map(_encode, pending)))
            if self.aof is not None:
                if self.defer is not None:
                    # Appended to the AOF at the end of this event-loop turn, encoded and
                    # written once (one fdatasync under "always") for every client served in
                    # the turn; the replies of these writes are held until then.
                    self._aof_cmds += pending
                    if cl.held is None:
                        cl.held = []
                        self._held.append(cl)
                    if not self._commit_scheduled:
                        self._commit_scheduled = True
                        self.defer(self._commit)
                else:
                    self._aof_write(b"".join(map(_encode, pending)))
            pending.clear()

    def _commit(self) -> None:
        """End of the turn: one AOF write (+ fdatasync under always), then the held replies."""
        self._commit_scheduled = False
        if self._aof_cmds:
            data = b"".join([c if type(c) is bytes else encode_command(c)
                             for c in self._aof_cmds])
            self._aof_cmds.clear()
            if self.aof is not None:
                self._aof_write(data)
        held, self._held = self._held, []
        for cl in held:
            replies, cl.held = cl.held, None
            if not cl.closed and replies:
                cl.write(b"".join(replies))
            if cl.after_commit is not None:
                cl.after_commit()

    def _slow_call(self, cl: Client, fn, flags: int, argv):
        """A command from a client in subscribed mode, on a read-only replica, or on RESP3."""
        if cl.restricted:
            refused = self._refuse(cl, flags, argv)
            if refused is not None:
                if cl.srv is not None:
                    multi.flag_error(cl)
                return refused
        if self.hooks & notify.NEW and flags & WRITE:   # "new key" notifications are on
            fn = notify.tracking_new(fn)
        srv = cl.srv
        if srv is not None and srv.special:   # AUTH pending, MULTI queueing, CLIENT REPLY
            return clients.call(cl, fn, flags, argv)
        r = fn(cl, argv)
        if cl.resp3 and r is not BLOCKED:
            r = resp3.adapt(argv[0], r, argv)
        return r

    def _refuse(self, cl: Client, flags: int, argv) -> bytes | None:
        if (cl.subs or cl.psubs) and not flags & PUBSUB and not cl.resp3:   # RESP3: any command
            return resp.error(_SUB_ALLOWED % argv[0].lower().decode("utf-8", "replace"))
        if flags & WRITE and self.read_only and not cl.is_master:
            return b"-READONLY You can't write against a read only replica.\r\n"
        return None

    def propagate(self, argv: list[bytes]) -> None:
        """Record a write to replay (AOF, replicas) at the end of the batch.

        ``_pending`` holds argument lists, or ``bytes`` already in RESP (a run of SETs
        recorded as the read that carried it); :func:`_encode` turns either into RESP.
        """
        db = self.exec_db
        if db != self.stream_db:   # a write in another database than the previous one
            self.stream_db = db
            self._pending.append([b"SELECT", b"%d" % db])
        self._pending.append(argv)
        self.dbs[db].dirty += 1
        if self.watched:
            multi.touch_propagated(self, db, argv)
        if self.blocked_on:
            blocking.signal(self, db, argv)
        if self.hooks:
            notify.notify_propagated(self.pubsub, self.hooks, db, argv)

    def expire_hook(self, db: int):
        """The expiry callback of database ``db``: an expired key is deleted here, so the AOF
        and the replicas must delete it too; watchers and notification subscribers learn it."""
        def expired(key: bytes) -> None:
            if db != self.stream_db:
                self.stream_db = db
                self._pending.append([b"SELECT", b"%d" % db])
            self._pending.append([b"DEL", key])
            if self.watched:
                multi.touch(self, db, key)
            if self.hooks:
                notify.notify(self.pubsub, self.hooks, db, notify.EXPIRED, b"expired", key)
        return expired

    def flush_expired(self) -> None:
        """Log and replicate the DELs produced by active expiry outside any client batch."""
        if self._pending:
            if self.master.backlog is not None:
                self.master.feed(b"".join(map(_encode, self._pending)))
            if self.aof is not None:
                self._aof_cmds += self._pending   # after anything still buffered: order kept
                self._commit()
            self._pending.clear()

    def apply(self, argv: list[bytes]) -> bytes:
        """Run one command with no client connection (AOF replay, scripts, tests)."""
        cl = self._loader
        entry = COMMANDS.get(argv[0].lower())
        if entry is None:
            return unknown_command(argv)
        return entry[0](cl, argv)

    @property
    def _loader(self) -> Client:
        cl = getattr(self, "_loader_client", None)
        if cl is None:
            cl = Client(self, lambda data: None, is_master=True)
            self._loader_client = cl
        return cl

    # ------------------------------------------------------------ roles

    def become_replica(self, host: str, port: int, replid: str | None = None,
                       offset: int = -1) -> None:
        """Start following ``host:port`` (REPLICAOF); needs a running event loop."""
        from .replica import MasterLink
        if self.master_link is not None:
            replid, offset = self.master_link.replid, self.master_link.offset
            self.master_link.close()
        for r in list(self.master.replicas):
            r.client.closed = True
        self.master.replicas.clear()
        self.config.replicaof = (host, port)
        self.read_only = True
        for ks in self.dbs:
            ks.is_replica = True
        self.master_link = MasterLink(self, host, port, replid, offset)
        self.master_link.start()
        for c in self.clients:
            c.update_mode()

    def become_master(self) -> None:
        """Stop following (REPLICAOF NO ONE): keep the data, start a new history."""
        link = self.master_link
        if link is not None:
            link.close()
            self.master_link = None
            self.master.new_history()
            self.master.offset = max(link.offset, 0)
        self.config.replicaof = None
        self.read_only = False
        for ks in self.dbs:
            ks.is_replica = False
        for c in self.clients:
            c.update_mode()

    # ------------------------------------------------------------ cron

    def cron(self) -> None:
        """Every 1/hz s: active expiry, finished children, WAIT timeouts."""
        if not self.read_only and settings(self)["active_expire"]:
            budget = 1000.0 / self.config.hz / 4
            for ks in self.dbs:
                if ks.expires:
                    ks.active_expire_cycle(time_budget_ms=budget)
            self.flush_expired()
        if self.children:
            self._reap_children()
        self.master.check_waiters()
        if self.waiters:
            blocking.expire(self)
        link = self.master_link
        if link is not None:
            self._ack_tick += 1
            if self._ack_tick >= self.config.hz:   # REPLCONF ACK once a second
                self._ack_tick = 0
                link.send_ack(now=True)
