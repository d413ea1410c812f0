"""Master side of replication: the replication offset, the backlog, PSYNC, REPLCONF, WAIT.

Mirrors Redis's ``replication.c`` (PSYNC2 without the secondary id).

Theory of operation
-------------------
* The *replication stream* is the exact bytes of every write command the master executes,
  as RESP (the same bytes the AOF gets). ``master_repl_offset`` counts the bytes ever fed into
  it; a replica counts the bytes it applied, so equal offsets mean equal datasets.
* The *backlog* is the last ``backlog_size`` bytes of the stream (a bytearray trimmed from the
  front; ``first_byte_offset`` is the offset of its first byte, 1-based like Redis's
  ``repl_backlog_first_byte_offset``). It exists from the first replica on.
* ``PSYNC <replid> <offset>``: a replica asks to continue from ``offset`` (the next byte it
  needs). If ``replid`` is ours and that byte is still in the backlog the master answers
  ``+CONTINUE`` and sends the missing tail (partial resync). Otherwise ``+FULLRESYNC <replid>
  <offset>``, then ``$<len>\\r\\n`` and a snapshot (no CRLF after it, as Redis does), then
  the live stream from ``offset`` on.
* Replicas report ``REPLCONF ACK <offset>`` every second and when asked with
  ``REPLCONF GETACK *``. ``WAIT n timeout`` blocks the client until ``n`` replicas acknowledged
  the offset reached when WAIT was called, or the timeout (ms, 0 = forever) passes, and replies
  how many did.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from . import resp, snapshot
from .commands import ADMIN, BLOCKED, NOT_INT, SYNTAX, command, parse_int
from .resp import encode_command

GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])


class ReplicaInfo:
    """One connected replica as the master sees it."""

    __slots__ = ("client", "port", "ack_offset", "ack_time", "state")

    def __init__(self, client, port: int, now: float) -> None:
        self.client = client
        self.port = port
        self.ack_offset = 0
        self.ack_time = now                # monotonic seconds of the last ACK (INFO lag)
        self.state = "online"


class MasterState:
    """Offsets, backlog and connected replicas of this server as a master."""

    def __init__(self, backlog_size: int = 1024 * 1024,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic       # WAIT deadlines and replica lag (injected: fake time)
        self.replid = secrets.token_hex(20)
        self.offset = 0
        self.backlog_size = backlog_size
        self.backlog: bytearray | None = None
        self.first_byte_offset = 0
        self.replicas: list[ReplicaInfo] = []
        self.waiters: list = []          # (client, target_offset, numreplicas, deadline_monotonic)
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0

    def feed(self, data: bytes) -> None:
        """Append stream bytes: backlog, offset, every online replica."""
        bl = self.backlog
        if bl is None:
            return
        bl += data
        self.offset += len(data)
        extra = len(bl) - self.backlog_size
        if extra > 0:
            del bl[:extra]
        self.first_byte_offset = self.offset - len(bl) + 1
        for r in self.replicas:
            r.client.push(data)

    def new_history(self) -> None:
        """A new replication history (after becoming a master again, or a full resync)."""
        self.replid = secrets.token_hex(20)
        self.backlog = None

    def acked(self, target: int) -> int:
        return sum(1 for r in self.replicas if r.ack_offset >= target)

    def check_waiters(self, now: float | None = None) -> None:
        if not self.waiters:
            return
        now = self.monotonic() if now is None else now
        keep = []
        for cl, target, need, deadline in self.waiters:
            n = self.acked(target)
            if n >= need or (deadline is not None and now >= deadline) or cl.closed:
                cl.unblock(b":%d\r\n" % n)
            else:
                keep.append((cl, target, need, deadline))
        self.waiters = keep

    def info_lines(self) -> list[str]:
        lines = [f"connected_slaves:{len(self.replicas)}"]
        now = self.monotonic()
        for i, r in enumerate(self.replicas):
            lines.append(f"slave{i}:ip=127.0.0.1,port={r.port},state={r.state},offset={r.ack_offset},lag={int(now - r.ack_time)}")
        hist = len(self.backlog) if self.backlog is not None else 0
        lines += [
            "master_failover_state:no-failover",
            f"master_replid:{self.replid}",
            "master_replid2:0000000000000000000000000000000000000000",
            f"master_repl_offset:{self.offset}",
            "second_repl_offset:-1",
            f"repl_backlog_active:{int(self.backlog is not None)}",
            f"repl_backlog_size:{self.backlog_size}",
            f"repl_backlog_first_byte_offset:{self.first_byte_offset if hist else 0}",
            f"repl_backlog_histlen:{hist}",
        ]
        return lines


@command("replconf", -1, ADMIN)
def cmd_replconf(cl, argv):
    if len(argv) % 2 == 0:
        return SYNTAX
    eng = cl.engine
    for i in range(1, len(argv), 2):
        opt = argv[i].lower()
        if opt == b"listening-port":
            cl.listening_port = parse_int(argv[i + 1]) or 0
        elif opt == b"ack":
            info = cl.replica_info
            off = parse_int(argv[i + 1])
            if info is not None and off is not None:
                info.ack_offset = max(info.ack_offset, off)
                info.ack_time = eng.master.monotonic()
                eng.master.check_waiters()
            return b""   # ACKs get no reply
        elif opt == b"getack":
            link = eng.master_link
            if link is not None:
                link.send_ack()
            return b""
    return resp.OK


@command("psync", -3, ADMIN)
def cmd_psync(cl, argv):
    eng = cl.engine
    m = eng.master
    if m.backlog is None:
        m.backlog = bytearray()
        m.first_byte_offset = m.offset + 1
    want = parse_int(argv[2])
    cl.replica_info = ReplicaInfo(cl, getattr(cl, "listening_port", 0), m.monotonic())
    cl.push_direct = True
    if (argv[1].decode("ascii", "replace") == m.replid and want is not None
            and m.first_byte_offset <= want <= m.offset + 1):
        m.sync_partial_ok += 1
        tail = bytes(m.backlog[want - m.first_byte_offset:])
        m.replicas.append(cl.replica_info)
        return b"+CONTINUE " + m.replid.encode() + b"\r\n" + tail
    if argv[1] != b"?":
        m.sync_partial_err += 1
    m.sync_full += 1
    eng.stream_db = -1   # the stream after the image starts with a SELECT
    image = snapshot.dump_dbs(eng.dbs, {"repl_id": m.replid, "repl_offset": m.offset})
    m.replicas.append(cl.replica_info)
    return (b"+FULLRESYNC %s %d\r\n" % (m.replid.encode(), m.offset)
            + b"$%d\r\n" % len(image) + image)


@command("wait", 3)
def cmd_wait(cl, argv):
    need, timeout = parse_int(argv[1]), parse_int(argv[2])
    if need is None or timeout is None:
        return NOT_INT
    if timeout < 0:
        return b"-ERR timeout is negative\r\n"
    eng = cl.engine
    if eng.master_link is not None:
        return b"-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.\r\n"
    eng.flush_propagation(cl)   # the writes pipelined before WAIT count
    m = eng.master
    target = m.offset
    n = m.acked(target)
    if n >= need or not m.replicas:
        return b":%d\r\n" % n
    m.feed(GETACK)
    deadline = None if timeout == 0 else m.monotonic() + timeout / 1000.0
    m.waiters.append((cl, target, need, deadline))
    return BLOCKED   # the reply comes from check_waiters
