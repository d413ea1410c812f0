"""Fault scenarios the notebook's *Break it* section runs, and the tests assert on.

One implementation for both: ``tests/test_kv_persistence.py`` and ``tests/test_kv_replication.py``
call these functions and check their results, so the notebook shows what the tests check.

* :func:`kill9_under_writes`: several writer threads hammer a server started from the command
  line; the server is killed with SIGKILL mid-stream once ``min_acked`` writes were acknowledged
  (a :class:`TimeoutError` if that takes over ``timeout_s``), restarted on the same directory, and
  every write that had been acknowledged is looked up.
* :func:`replica_catch_up`: a master and a replica as processes; the replica is killed (SIGKILL
  or SIGTERM), the master keeps taking writes, the replica restarts and catches up; returns the
  offsets and how it resynchronised (full or partial).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .launch import RawClient, kv_process


@dataclass(frozen=True, slots=True)
class Kill9Result:
    """Acknowledged writes before the kill, and how many of them the restarted server has."""

    appendfsync: str
    acknowledged: int
    recovered: int
    lost: int
    load_report: str
    lost_keys: tuple[bytes, ...] = ()    # the first few acknowledged keys that are missing


def kill9_under_writes(workdir: str, appendfsync: str = "always", writers: int = 4,
                       min_acked: int = 300, timeout_s: float = 30.0) -> Kill9Result:
    acked: list[list[bytes]] = [[] for _ in range(writers)]
    stop = threading.Event()

    def writer(i: int, port: int) -> None:
        try:
            with RawClient(port) as c:
                n = 0
                while not stop.is_set():
                    key = b"w%d:%d" % (i, n)
                    if c.call(b"SET", key, b"v" * 32) == "OK":
                        acked[i].append(key)
                    n += 1
        except (ConnectionError, OSError):
            pass   # killed mid-request: that request was never acknowledged

    with kv_process(workdir, appendonly=True, appendfsync=appendfsync) as srv:
        threads = [threading.Thread(target=writer, args=(i, srv.port)) for i in range(writers)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: sum(map(len, acked)) >= min_acked, timeout_s, poll_s=0.005)
        finally:
            srv.kill9()
            stop.set()
            for t in threads:
                t.join(10)
    keys = [k for part in acked for k in part]
    with kv_process(workdir, appendonly=True) as again, RawClient(again.port) as c:
        present = set(c.call(b"KEYS", b"w*"))
        report = again.log_text().splitlines()[0]
    report = report.split("(", 1)[1].rsplit(";", 2)[0] if "(" in report else report
    lost = [k for k in keys if k not in present]
    return Kill9Result(appendfsync, len(keys), len(keys) - len(lost), len(lost), report,
                       tuple(lost[:5]))


def info(c: RawClient, section: str = "replication") -> dict[str, str]:
    """INFO <section> as a dict of field -> value."""
    text = c.call(b"INFO", section.encode()).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def wait_until(pred, timeout_s: float = 15.0, poll_s: float = 0.02):
    """Poll ``pred`` until it is true (returns its value) or raise TimeoutError after
    ``timeout_s`` of real time (processes and sockets: the machine's clock is the one)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(poll_s)
    raise TimeoutError(f"condition not reached within {timeout_s:.1f} s")


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What happened when a replica was stopped, missed writes and came back."""

    how_stopped: str
    missed_writes: int
    master_offset: int
    replica_offset: int
    keys_master: int
    keys_replica: int
    resync: str          # "full" or "partial"


def replica_catch_up(master_dir: str, replica_dir: str, writes: int = 200,
                     how: str = "kill9") -> CatchUp:
    """Stop a replica (``kill9`` or ``sigterm``), write to the master, restart, compare."""
    with kv_process(master_dir) as master, RawClient(master.port) as m:
        rep = kv_process(replica_dir, replicaof=("127.0.0.1", master.port))
        with rep:
            wait_until(lambda: info(m, "replication")["connected_slaves"] == "1")
            for i in range(writes):
                m.call(b"SET", b"before:%d" % i, b"%d" % i)
            m.call(b"WAIT", b"1", b"5000")
            rep.kill9() if how == "kill9" else rep.stop()
        before = info(m, "stats")
        for i in range(writes):
            m.call(b"SET", b"missed:%d" % i, b"%d" % i)
        with kv_process(replica_dir, replicaof=("127.0.0.1", master.port)) as rep2, \
                RawClient(rep2.port) as r:
            wait_until(lambda: m.call(b"WAIT", b"1", b"100") == 1
                       and info(r, "replication")["slave_repl_offset"]
                       == info(m, "replication")["master_repl_offset"])
            after = info(m, "stats")
            partial = int(after["sync_partial_ok"]) - int(before["sync_partial_ok"])
            return CatchUp(how, writes, int(info(m, "replication")["master_repl_offset"]),
                           int(info(r, "replication")["slave_repl_offset"]),
                           m.call(b"DBSIZE"), r.call(b"DBSIZE"),
                           "partial" if partial else "full")
