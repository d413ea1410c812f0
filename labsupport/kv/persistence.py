"""Persistence processes: recovery at start, SAVE, and BGSAVE / BGREWRITEAOF in forked children.

Mirrors Redis's ``rdb.c`` (``rdbSave``, ``rdbSaveBackground``) and ``aof.c``
(``rewriteAppendOnlyFileBackground``, ``backgroundRewriteDoneHandler``), and is a mixin of
:class:`.engine.Engine`: it reads the engine's config, keyspace and AOF writer, and adds no
state of its own beyond ``children`` and ``rewrite_buf``.

Theory of operation
-------------------
* **Recovery** (:meth:`Persistence.start`): with ``appendonly yes`` the AOF is replayed through
  :meth:`.engine.Engine.apply`; otherwise the snapshot is loaded, if there is one. A fresh AOF
  on a non-empty dataset is first written as a rewrite, so the file alone rebuilds the data.
* **Fork for a consistent image**: BGSAVE and BGREWRITEAOF ``fork()``. The child sees a
  copy-on-write image of the keyspace frozen at the fork, writes it out atomically
  (:func:`labsupport.durable.write_atomic`: temp file, fsync, rename, fsync of the directory)
  and leaves with ``os._exit`` so no parent cleanup runs twice. The parent keeps serving; the
  cron reaps the child (:meth:`Persistence._reap_children`).
* **The rewrite's tail**: writes made while the child works go to the old AOF *and* to
  ``rewrite_buf``. When the child succeeds, the buffer is appended to the new file, the file
  is fsynced and renamed over the old one: the new AOF is the image plus every later write.
"""

from __future__ import annotations

import os
import time

from ..durable import fsync_dir, write_atomic
from . import databases, snapshot
from .aof import AofWriter, load_aof, rewrite_commands
from .resp import encode_command


class Persistence:
    """Files and forked children of an :class:`.engine.Engine` (mixed into it)."""

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
            self.stream_db = -1   # where the file is positioned is not tracked: SELECT again
            databases.select(self._loader, 0)   # later apply() calls start in db 0 again
            report = rep.describe()
        elif os.path.exists(self.dump_path):
            with open(self.dump_path, "rb") as f:
                aux, entries = snapshot.load(f.read(), self.config.dbfilename)
            n = snapshot.restore_all(self.dbs, entries)
            self.loaded_aux = aux
            report = f"snapshot loaded: {n} keys"
        if self.config.appendonly:
            fresh = not os.path.exists(self.aof_path)
            self.aof = AofWriter(self.aof_path, self.config.appendfsync)
            if fresh and any(len(ks) for ks in self.dbs):
                self.rewrite_aof_sync()
        for ks in self.dbs:
            ks.dirty = 0
        self.load_report = report
        return report

    # ------------------------------------------------------------ snapshots

    def snapshot_bytes(self) -> bytes:
        aux = {"repl_id": self.master.replid, "repl_offset": self.master.offset}
        link = self.master_link
        if link is not None and link.replid:
            aux = {"repl_id": link.replid, "repl_offset": link.offset}
        return snapshot.dump_dbs(self.dbs, aux)   # every database, after RDB-style SELECTDBs

    def save(self) -> None:
        write_atomic(self.dump_path, self.snapshot_bytes())
        for ks in self.dbs:
            ks.dirty = 0
        self.last_save_time = int(self.time_s())
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

    # ------------------------------------------------------------ AOF rewrite

    def aof_image(self) -> bytes:
        """The current dataset as the shortest list of commands that rebuilds it."""
        parts = []
        enc = encode_command
        for db, ks in enumerate(self.dbs):
            if ks.data:   # each database's keys after a SELECT of it, as Redis's rewrite
                parts.append(enc([b"SELECT", b"%d" % db]))
                self._aof_image_db(ks, parts)
        return b"".join(parts)

    def _aof_image_db(self, ks, parts: list) -> None:
        enc = encode_command
        for key, value, deadline in ks.items_with_deadlines():
            parts.extend(map(enc, rewrite_commands(key, value, deadline)))

    def rewrite_aof_sync(self) -> None:
        self.stream_db = -1   # the new file's next write must SELECT its database again
        write_atomic(self.aof_path, self.aof_image())
        if self.aof is not None:
            self.aof.swap(self.aof_path)

    def bgrewriteaof(self) -> bool:
        if "aof" in self.children.values():
            return False
        tmp = self.aof_path + ".rewrite"
        self.rewrite_buf = []
        self.stream_db = -1   # the writes appended after the image start with a SELECT
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

    def _aof_write(self, data: bytes, sync: bool = True) -> None:
        self.aof.write(data, sync=sync)
        if self.rewrite_buf is not None:
            self.rewrite_buf.append(data)

    # ------------------------------------------------------------ children

    def _reap_children(self) -> None:
        for pid, kind in list(self.children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            del self.children[pid]
            ok = os.waitstatus_to_exitcode(status) == 0
            if kind == "rdb" and ok:
                self.last_save_time = int(self.time_s())
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
        """Block until background saves/rewrites finish (tests, shutdown).

        Real time on purpose: a forked child runs on the machine's clock, not the engine's.
        """
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

