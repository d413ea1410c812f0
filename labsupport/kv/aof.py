"""The append-only file: every write command, as RESP, appended in execution order.

Mirrors Redis's ``aof.c``. The server calls :meth:`AofWriter.write` once per turn of its event
loop with every write command executed in that turn, *before* it sends their replies, so with
``appendfsync always`` a reply is only sent once its command is on disk: nothing acknowledged
can be lost to ``kill -9`` or a power cut. The policies:

* ``always``: ``write`` + ``fdatasync`` per loop turn (group commit: all clients served in the
  turn share one fsync).
* ``everysec``: ``write`` per loop turn; a background thread fdatasyncs once a second, so a
  crash of the machine loses at most about a second (a crash of the process alone loses
  nothing acknowledged: the data is in the kernel's page cache).
* ``no``: ``write`` only; the kernel flushes when it likes (typically within 30 s).

Loading (:func:`load_aof`): the file is parsed strictly as multibulk commands. A command cut
short at the very end (the process died mid-``write``) is a *torn tail*: it was never
acknowledged, so it is dropped, the file is truncated to the last complete command and the
truncation is reported. Bad bytes anywhere else mean real damage: loading stops with a
:class:`PersistenceError` giving the offset, rather than silently skipping data.

Rewrite (see :class:`.engine.Engine`): a forked child writes the current dataset as a compact
AOF while the parent keeps appending to the old file *and* to a rewrite buffer; when the child
is done the parent appends the buffer to the new file, fsyncs it and renames it over the old
one. Writes made during the rewrite are therefore in both files and never lost.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from .errors import PersistenceError
from .fastpath import FastCommandParser

POLICIES = ("always", "everysec", "no")


class AofWriter:
    """Appends to an AOF with one of the three fsync policies."""

    def __init__(self, path: str, policy: str = "everysec") -> None:
        if policy not in POLICIES:
            raise ValueError(f"appendfsync must be one of {POLICIES}, not {policy!r}")
        self.path = path
        self.policy = policy
        self._lock = threading.Lock()
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.fsyncs = 0
        self._unsynced = False
        self._stop = threading.Event()
        self._thread = None
        if policy == "everysec":
            self._thread = threading.Thread(target=self._fsync_loop, name="aof-fsync", daemon=True)
            self._thread.start()

    def sync(self) -> None:
        os.fdatasync(self.fd)
        self.fsyncs += 1

    def write(self, data: bytes, sync: bool = True) -> None:
        fd = self.fd
        n = os.write(fd, data)
        if n != len(data):  # short write (disk full, signal): finish it
            view = memoryview(data)[n:]
            while view:
                view = view[os.write(fd, view):]
        self.size += len(data)
        if self.policy == "always" and sync:
            os.fdatasync(fd)
            self.fsyncs += 1
        else:
            self._unsynced = True

    def _fsync_loop(self) -> None:
        while not self._stop.wait(1.0):
            if self._unsynced:
                self._unsynced = False
                with self._lock:
                    try:
                        os.fdatasync(self.fd)
                        self.fsyncs += 1
                    except OSError:
                        pass

    def swap(self, new_path_renamed: str) -> None:
        """Switch to the file now at ``self.path`` (after a rewrite renamed it there)."""
        with self._lock:
            old = self.fd
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self.size = os.fstat(self.fd).st_size
            os.close(old)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            try:
                os.fdatasync(self.fd)
            finally:
                os.close(self.fd)


@dataclass(frozen=True, slots=True)
class AofLoadReport:
    """What :func:`load_aof` found: commands replayed, bytes kept, torn-tail bytes dropped."""

    commands: int
    size_bytes: int
    truncated_bytes: int

    def describe(self) -> str:
        s = f"AOF loaded: {self.commands} commands, {self.size_bytes} bytes"
        if self.truncated_bytes:
            s += (f"; torn tail of {self.truncated_bytes} bytes (an incomplete last command) truncated at offset {self.size_bytes}")
        return s


def read_commands(blob: bytes, name: str = "AOF"):
    """Parse an AOF image strictly; returns ``(commands, complete_bytes)``.

    Raises :class:`PersistenceError` if bytes that are not a multibulk command appear anywhere
    (inline commands never appear in an AOF, so a non-``*`` start is damage, not a torn tail).
    """
    parser = FastCommandParser(inline=False)
    commands = parser.feed(blob)
    if parser.error is not None:
        raise PersistenceError(f"{name}: {parser.error} at offset {parser.error.offset}; the file is damaged before its tail")
    return commands, parser.consumed


def load_aof(path: str, apply) -> AofLoadReport:
    """Replay the AOF at ``path`` through ``apply(argv)``; truncate and report a torn tail."""
    with open(path, "rb") as f:
        blob = f.read()
    commands, good = read_commands(blob, os.path.basename(path))
    for argv in commands:
        apply(argv)
    torn = len(blob) - good
    if torn:
        with open(path, "r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
    return AofLoadReport(len(commands), good, torn)


ITEMS_PER_COMMAND = 64   # Redis's AOF_REWRITE_ITEMS_PER_CMD: no single huge command


def _batched(head: list[bytes], items: list[bytes], per: int) -> list[list[bytes]]:
    step = ITEMS_PER_COMMAND * per
    return [head + items[i:i + step] for i in range(0, len(items), step)]


def rewrite_commands(key: bytes, value, deadline: int) -> list[list[bytes]]:
    """The commands that rebuild one key in a rewritten AOF (any type), deadline included.

    Collections are written 64 elements per command, as Redis does. Sorted-set scores are
    written with ``repr``, the shortest text that reads back as the same double, so a rewrite
    never rounds a score.
    """
    t = type(value)
    if t is bytes:
        cmds = [[b"SET", key, value]]
    elif t is dict:
        flat = []
        for f, v in value.items():
            flat += (f, v)
        cmds = _batched([b"HSET", key], flat, 2)
    elif t is set:
        cmds = _batched([b"SADD", key], list(value), 1)
    elif hasattr(value, "scores"):   # a sorted set (.skiplist.ZSet)
        flat = []
        for m, s in value.items():
            flat += (repr(s).encode(), m)
        cmds = _batched([b"ZADD", key], flat, 2)
    else:
        cmds = _batched([b"RPUSH", key], list(value), 1)
    if deadline != -1:
        cmds.append([b"PEXPIREAT", key, b"%d" % deadline])
    return cmds
