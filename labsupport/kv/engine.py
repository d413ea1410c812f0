"""The server's core without sockets: clients, command dispatch in batches, propagation to the
AOF and replicas, snapshots and AOF rewrites in forked children, the periodic cron.

Mirrors Redis's ``server.c`` (``processCommand``, ``call``, ``serverCron``, ``beforeSleep``).

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

Snapshots (BGSAVE) and AOF rewrites fork, exactly like Redis: the child sees a copy-on-write
image of the keyspace frozen at the fork and writes it out while the parent keeps serving.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..durable import fsync_dir, write_atomic
from . import (  # noqa: F401
    cmd_collections,
    cmd_keys,
    cmd_server,
    cmd_strings,
    pubsub,
    replication,
    resp,
    snapshot,
)
from .aof import AofWriter, load_aof
from .commands import (
    BLOCKED,
    COMMANDS,
    LOOKUP,
    PUBSUB,
    WRITE,
    WRONGTYPE,
    arity_error,
    unknown_command,
)
from .keyspace import Keyspace, wall_clock_ms
from .replication import MasterState
from .resp import NULL, OK, encode_command


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


GET_ENTRY = LOOKUP[b"GET"]
SET_ENTRY = LOOKUP[b"SET"]
_BULK_HEADS = [b"$%d" % n for n in range(4096)]   # "$n" by value length, for GET runs


class Client:
    """One connection's state. ``write`` sends bytes to the peer (the I/O layer provides it)."""

    __slots__ = ("engine", "ks", "write", "closed", "subs", "psubs", "restricted", "is_master",
                 "replica_info", "listening_port", "blocked", "pending", "id", "push_direct",
                 "close_after", "resp3", "held", "after_commit", "slow")

    def __init__(self, engine: Engine, write, is_master: bool = False) -> None:
        self.engine = engine
        self.ks = engine.ks
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
        self.slow = self.restricted or self.resp3

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


class Engine:
    """Keyspace + dispatch + persistence + replication state of one server."""

    def __init__(self, config: Config | None = None, clock_ms=wall_clock_ms) -> None:
        self.config = config or Config()
        self.ks = Keyspace(clock_ms)
        self.ks.on_expire = self._on_expire
        self.pubsub = pubsub.Registry()
        self.master = MasterState(self.config.repl_backlog_size)
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
        self.last_save_time = int(time.time())
        self.start_time = time.time()
        self.load_report = ""
        self.loaded_aux: dict = {}
        self._ack_tick = 0

    # ------------------------------------------------------------ dispatch

    def new_client(self, write, is_master: bool = False) -> Client:
        cl = Client(self, write, is_master)
        self.clients.add(cl)
        self.stats["total_connections_received"] += 1
        return cl

    def drop_client(self, cl: Client) -> None:
        cl.closed = True
        self.clients.discard(cl)
        self.pubsub.drop_client(cl)
        if cl.replica_info is not None and cl.replica_info in self.master.replicas:
            self.master.replicas.remove(cl.replica_info)

    def run_batch(self, cl: Client, cmds: list) -> None:
        """Execute commands in order; log their writes; reply in one write; replicate."""
        if cl.blocked:
            cl.pending.extend(cmds)
            return
        out = []
        append = out.append
        get = LOOKUP.get
        ks = self.ks
        data_get = ks.data.get
        i = 0
        get_entry = GET_ENTRY
        fast = not cl.slow and not ks.expires
        for argv in cmds:
            i += 1
            entry = get(argv[0])           # exact-case hit for "GET"/"get"; else fold case
            if entry is get_entry and fast and len(argv) == 2:
                # GET inlined: in CPython a function call costs about as much as the lookup
                # itself, and GET is most of what a cache serves (same logic as cmd_get,
                # for the common case: no deadlines anywhere, an ordinary RESP2 client).
                v = data_get(argv[1])
                if v is None:
                    append(NULL)
                elif type(v) is bytes:
                    append(b"$%d\r\n%s\r\n" % (len(v), v))
                else:
                    append(WRONGTYPE)
                continue
            if entry is None:
                entry = get(argv[0].lower())
                if entry is None:
                    append(unknown_command(argv))
                    continue
            fn, arity, flags = entry
            n = len(argv)
            if n != arity and (arity > 0 or n < -arity):
                append(arity_error(argv[0]))
                continue
            r = self._slow_call(cl, fn, flags, argv) if cl.slow else fn(cl, argv)
            # the command may have changed what the GET shortcut relies on (SUBSCRIBE, HELLO,
            # a SET with a deadline): re-check
            fast = not cl.slow and not ks.expires
            if r is BLOCKED:
                cl.blocked = True
                cl.pending = list(cmds[i:])
                break
            append(r)
        self.commands_processed += i
        self._end_batch(cl, b"".join(out) if out else b"")

    def run_run(self, cl: Client, name: bytes, cols: list, read: bytes) -> None:
        """A read that is one run of a single command shape (``CommandParser.feed_run``).

        Runs of plain GETs and of plain ``SET key value`` are executed column-wise, with a few
        C-level calls for the whole run instead of a dispatch per command: the values come
        from one ``map`` over the keys, the reply is one ``join``, the AOF/replication record
        of a SET run is the read itself (its bytes *are* the commands' RESP encoding). Other
        runs, and any client or keyspace state the shortcut does not cover (deadlines,
        subscribed mode, a read-only replica, RESP3, a blocked client), go through
        :meth:`run_batch` with the same replies.
        """
        ks = self.ks
        entry = LOOKUP.get(name)
        if not (cl.slow or cl.blocked or ks.expires) and entry is not None:
            if entry is GET_ENTRY and len(cols) == 1:
                keys = cols[0]
                if len(keys) == 1:   # unpipelined: one GET, as run_batch's inlined GET
                    v = ks.data.get(keys[0])
                    self.commands_processed += 1
                    self._end_batch(cl, NULL if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
                                    if type(v) is bytes else WRONGTYPE)
                    return
                vals = list(map(ks.data.get, keys))
                try:   # None (missing), a hash or list (WRONGTYPE), a long value: TypeError etc.
                    items = [b""] * (2 * len(vals) + 1)
                    items[0:-1:2] = map(_BULK_HEADS.__getitem__, map(len, vals))
                    items[1::2] = vals
                    reply = b"\r\n".join(items)
                except (TypeError, IndexError):
                    reply = b"".join([
                        NULL if v is None else
                        b"$%d\r\n%s\r\n" % (len(v), v) if type(v) is bytes else WRONGTYPE
                        for v in vals])
                self.commands_processed += len(vals)
                if self._pending or cl.held is not None:
                    self._end_batch(cl, reply)
                else:
                    cl.write(reply)
                return
            if entry is SET_ENTRY and len(cols) == 2:
                keys, vals = cols
                k = len(keys)
                if k == 1:
                    ks.data[keys[0]] = vals[0]
                else:
                    ks.data.update(zip(keys, vals))
                ks.dirty += k
                self.commands_processed += k
                if (self.defer is None or self.aof is None or self.master.backlog is not None
                        or self._pending):
                    self._pending.append(read)   # already RESP: logged and replicated as is
                    self._end_batch(cl, OK * k)
                    return
                # The usual case (AOF on, no replicas): what _end_batch does, inlined.
                self._aof_cmds.append(read)
                held = cl.held
                if held is None:
                    cl.held = [OK * k]
                    self._held.append(cl)
                else:
                    held.append(OK * k)
                if not self._commit_scheduled:
                    self._commit_scheduled = True
                    self.defer(self._commit)
                return
        self.run_batch(cl, [[name, *args] for args in zip(*cols)])

    def _end_batch(self, cl: Client, reply: bytes) -> None:
        """After a batch: replicate and log its writes, then send (or hold) its replies."""
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
        if reply:
            if cl.held is not None:
                cl.held.append(reply)
            else:
                cl.write(reply)

    def _aof_write(self, data: bytes, sync: bool = True) -> None:
        self.aof.write(data, sync=sync)
        if self.rewrite_buf is not None:
            self.rewrite_buf.append(data)

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
                return refused
        r = fn(cl, argv)
        if cl.resp3 and r is not BLOCKED:
            r = resp.to_resp3(argv[0], r)
        return r

    def _refuse(self, cl: Client, flags: int, argv) -> bytes | None:
        if (cl.subs or cl.psubs) and not flags & PUBSUB:
            return resp.error(_SUB_ALLOWED % argv[0].lower().decode("utf-8", "replace"))
        if flags & WRITE and self.read_only and not cl.is_master:
            return b"-READONLY You can't write against a read only replica.\r\n"
        return None

    def propagate(self, argv: list[bytes]) -> None:
        """Record a write to replay (AOF, replicas) at the end of the batch.

        ``_pending`` holds argument lists, or ``bytes`` already in RESP (a run of SETs
        recorded as the read that carried it); :func:`_encode` turns either into RESP.
        """
        self._pending.append(argv)
        self.ks.dirty += 1

    def _on_expire(self, key: bytes) -> None:
        # An expired key is deleted here, so the AOF and the replicas must delete it too.
        self._pending.append([b"DEL", key])

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
        self.ks.is_replica = True
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
        self.ks.is_replica = False
        for c in self.clients:
            c.update_mode()

    # ------------------------------------------------------------ cron

    def cron(self) -> None:
        """Every 1/hz s: active expiry, finished children, WAIT timeouts."""
        if not self.read_only:
            self.ks.active_expire_cycle(time_budget_ms=1000.0 / self.config.hz / 4)
            self.flush_expired()
        if self.children:
            self._reap_children()
        self.master.check_waiters()
        link = self.master_link
        if link is not None:
            self._ack_tick += 1
            if self._ack_tick >= self.config.hz:   # REPLCONF ACK once a second
                self._ack_tick = 0
                link.send_ack(now=True)

    # ------------------------------------------------------------ persistence

    @property
    def aof_path(self) -> str:
        return os.path.join(self.config.dir, self.config.appendfilename)

    @property
    def dump_path(self) -> str:
        return os.path.join(self.config.dir, self.config.dbfilename)

    def start(self) -> str:
        """Recover the dataset from disk and open the AOF; returns what was loaded."""
        os.makedirs(self.config.dir, exist_ok=True)
        report = "empty dataset"
        if self.config.appendonly and os.path.exists(self.aof_path):
            rep = load_aof(self.aof_path, self.apply)
            self._pending.clear()
            report = rep.describe()
        elif os.path.exists(self.dump_path):
            with open(self.dump_path, "rb") as f:
                aux, entries = snapshot.load(f.read(), self.config.dbfilename)
            n = snapshot.restore(self.ks, entries)
            self.loaded_aux = aux
            report = f"snapshot loaded: {n} keys"
        if self.config.appendonly:
            fresh = not os.path.exists(self.aof_path)
            self.aof = AofWriter(self.aof_path, self.config.appendfsync)
            if fresh and len(self.ks):
                self.rewrite_aof_sync()
        self.ks.dirty = 0
        self.load_report = report
        return report

    def snapshot_bytes(self) -> bytes:
        aux = {"repl_id": self.master.replid, "repl_offset": self.master.offset}
        link = self.master_link
        if link is not None and link.replid:
            aux = {"repl_id": link.replid, "repl_offset": link.offset}
        return snapshot.dump(self.ks.items_with_deadlines(), aux)

    def save(self) -> None:
        write_atomic(self.dump_path, self.snapshot_bytes())
        self.ks.dirty = 0
        self.last_save_time = int(time.time())
        self.stats["rdb_saves"] += 1

    def bgsave(self) -> bool:
        if "rdb" in self.children.values():
            return False
        pid = os.fork()
        if pid == 0:  # child: write the frozen image and leave without running any cleanup
            code = 0
            try:
                write_atomic(self.dump_path, self.snapshot_bytes())
            except BaseException:
                code = 1
            os._exit(code)
        self.children[pid] = "rdb"
        return True

    def aof_image(self) -> bytes:
        """The current dataset as the shortest list of commands that rebuilds it."""
        parts = []
        enc = resp.encode_command
        for key, value, deadline in self.ks.items_with_deadlines():
            t = type(value)
            if t is bytes:
                parts.append(enc([b"SET", key, value]))
            elif t is dict:
                flat = [b"HSET", key]
                for f, v in value.items():
                    flat += (f, v)
                parts.append(enc(flat))
            else:
                parts.append(enc([b"RPUSH", key, *value]))
            if deadline != -1:
                parts.append(enc([b"PEXPIREAT", key, b"%d" % deadline]))
        return b"".join(parts)

    def rewrite_aof_sync(self) -> None:
        write_atomic(self.aof_path, self.aof_image())
        if self.aof is not None:
            self.aof.swap(self.aof_path)

    def bgrewriteaof(self) -> bool:
        if "aof" in self.children.values():
            return False
        tmp = self.aof_path + ".rewrite"
        self.rewrite_buf = []
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                write_atomic(tmp, self.aof_image())
            except BaseException:
                code = 1
            os._exit(code)
        self.children[pid] = "aof"
        return True

    def _reap_children(self) -> None:
        for pid, kind in list(self.children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            del self.children[pid]
            ok = os.waitstatus_to_exitcode(status) == 0
            if kind == "rdb" and ok:
                self.last_save_time = int(time.time())
                self.stats["rdb_saves"] += 1
            elif kind == "aof":
                self._finish_rewrite(ok)

    def _finish_rewrite(self, ok: bool) -> None:
        buf, self.rewrite_buf = self.rewrite_buf, None
        tmp = self.aof_path + ".rewrite"
        if not ok or self.aof is None:
            if os.path.exists(tmp):
                os.unlink(tmp)
            return
        # Writes made while the child worked are in the old AOF and in buf: append buf to the
        # new file, make it durable, then atomically replace the old file.
        with open(tmp, "ab") as f:
            for chunk in buf:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.aof_path)
        fsync_dir(self.config.dir)
        self.aof.swap(self.aof_path)
        self.stats["aof_rewrites"] += 1

    def wait_children(self, timeout_s: float = 30.0) -> None:
        """Block until background saves/rewrites finish (tests, shutdown)."""
        end = time.monotonic() + timeout_s
        while self.children and time.monotonic() < end:
            self._reap_children()
            time.sleep(0.005)

    def shutdown(self) -> None:
        self._commit()
        self.wait_children()
        if self.aof is not None:
            self.aof.close()
            self.aof = None
