"""A simulated disk that survives a node's crash, with the write/fsync semantics of a real one.

What FoundationDB's simulated file system (``AsyncFileNonDurable``) models, reduced to files of
records: a write goes to the page cache and is visible to the process at once, but only an
``fsync`` makes it durable. When the node crashes, what was never fsynced is at the mercy of the
policy below, and the record that was being written when the power went can be torn (a strict
prefix of its bytes reaches the platter). A recovery path must therefore checksum its records
and stop at the first bad one; :mod:`labsupport.sim.demo` does, and its tests show why.

Theory of operation
-------------------
Each file is two lists of ``bytes`` records: ``durable`` (survives any crash) and ``pending``
(written, not yet fsynced). ``read`` returns durable + pending, which is what the running process
sees. ``fsync(file)`` moves pending to durable. On a crash, per file in name order (so the damage
is the same for a seed), ``keep`` pending records survive, in write order (the disk may have
flushed some on its own, never out of order):

=============  =============================================================================
``unsynced``   records that survive a crash out of ``n`` un-fsynced ones
=============  =============================================================================
``"lose"``     none: the strictest model, every un-fsynced write is lost
``"random"``   a prefix of uniformly random length 0..n (the default)
``"keep"``     all of them: as if the kernel flushed just in time (a kind machine)
=============  =============================================================================

With ``torn_writes=True``, when at least one record is lost, the first lost one is torn with
probability one half: a prefix of 1..len-1 of its bytes is kept as the file's last record.
Randomness comes from the disk's own stream, so the disk's damage does not shift the network's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import SimConfigError

__all__ = ["SimDisk", "UNSYNCED_POLICIES"]

UNSYNCED_POLICIES = ("lose", "random", "keep")


@dataclass(slots=True)
class _File:
    durable: list[bytes] = field(default_factory=list)
    pending: list[bytes] = field(default_factory=list)


class SimDisk:
    """Files of records with page-cache visibility, ``fsync`` durability and crash damage."""

    __slots__ = ("rng", "unsynced", "torn_writes", "_files", "writes", "fsyncs",
                 "lost_records", "torn_records", "crashes")

    def __init__(self, rng: random.Random, *, unsynced: str = "random",
                 torn_writes: bool = False) -> None:
        if unsynced not in UNSYNCED_POLICIES:
            raise SimConfigError(f"unsynced={unsynced!r}: expected one of "
                                 f"{', '.join(UNSYNCED_POLICIES)}")
        self.rng = rng
        self.unsynced = unsynced
        self.torn_writes = torn_writes
        self._files: dict[str, _File] = {}
        self.writes = self.fsyncs = self.lost_records = self.torn_records = self.crashes = 0

    def append(self, file: str, record: bytes) -> None:
        """Write one record at the end of ``file`` (created if absent); not durable until fsync."""
        if not isinstance(record, (bytes, bytearray)):
            raise TypeError(f"SimDisk.append({file!r}): records are bytes, "
                            f"not {type(record).__name__}")
        self._files.setdefault(file, _File()).pending.append(bytes(record))
        self.writes += 1

    write = append  # a write is an append of one record: files here are logs

    def fsync(self, file: str | None = None) -> None:
        """Make ``file``'s writes durable (every file's when ``file`` is None)."""
        names = [file] if file is not None else sorted(self._files)
        for name in names:
            f = self._files.get(name)
            if f is not None and f.pending:
                f.durable.extend(f.pending)
                f.pending.clear()
        self.fsyncs += 1

    def read(self, file: str) -> list[bytes]:
        """Every record of ``file`` as the running process sees it (durable, then pending)."""
        f = self._files.get(file)
        return [] if f is None else f.durable + f.pending

    def unsynced_count(self, file: str) -> int:
        """How many records of ``file`` a crash could lose right now."""
        f = self._files.get(file)
        return 0 if f is None else len(f.pending)

    def files(self) -> list[str]:
        """Names of the files that exist, sorted."""
        return sorted(self._files)

    def delete(self, file: str) -> None:
        """Remove ``file`` durably (an unlink followed by an fsync of the directory)."""
        self._files.pop(file, None)

    def crash(self) -> tuple[int, int]:
        """Apply a power failure: returns ``(records lost, records torn)``. Called by the host."""
        lost = torn = 0
        rng = self.rng
        for name in sorted(self._files):
            f = self._files[name]
            n = len(f.pending)
            if not n:
                continue
            if self.unsynced == "random":
                keep = rng.randint(0, n)
            else:
                keep = 0 if self.unsynced == "lose" else n
            f.durable.extend(f.pending[:keep])
            if keep < n and self.torn_writes and len(f.pending[keep]) > 1 and rng.random() < 0.5:
                rec = f.pending[keep]
                f.durable.append(rec[:rng.randint(1, len(rec) - 1)])
                torn += 1
            lost += n - keep
            f.pending.clear()
        self.lost_records += lost
        self.torn_records += torn
        self.crashes += 1
        return lost, torn
