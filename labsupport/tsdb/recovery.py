"""Opening a directory after a crash: which segments are live, which WAL files to replay.

The rules that make flushes and compactions atomic (see db.py and compaction.py):
- a ``.tmp`` file is an unfinished segment or state file: removed;
- a segment whose generation range LO..HI lies inside another segment's range (or equals
  it with a lower GEN) was an input of a committed compaction or retention rewrite: removed;
- a WAL file numbered at or below the largest live HI is already in a segment: removed;
  the rest are replayed, in order, into the memtable (db.py does that part).
A segment that fails its footer or index checks is reported by name and, unless the
caller asked to skip it, stops the open: silently reading around it could lose data.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from .errors import SegmentCorruptError
from .segment import Segment


@dataclass(slots=True)
class RecoveryReport:
    """What opening the directory found and repaired."""

    replayed_points: int = 0
    replayed_wal_files: list[str] = field(default_factory=list)
    torn_tails: list[str] = field(default_factory=list)
    removed_tmp: list[str] = field(default_factory=list)
    removed_obsolete: list[str] = field(default_factory=list)
    corrupt_segments: list[str] = field(default_factory=list)


def live_segments(path: str, on_corrupt: str, rep: RecoveryReport) -> list[Segment]:
    """Open every committed segment, drop obsolete ones; oldest first."""
    for tmp in glob.glob(os.path.join(path, "*.tmp")):
        os.unlink(tmp)
        rep.removed_tmp.append(os.path.basename(tmp))
    segs = []
    for p in sorted(glob.glob(os.path.join(path, "seg-*.seg"))):
        try:
            segs.append(Segment(p))
        except SegmentCorruptError as e:
            if on_corrupt == "raise":
                raise
            rep.corrupt_segments.append(str(e))
    live = []
    for s in segs:
        covered = any(
            o is not s
            and o.lo <= s.lo
            and s.hi <= o.hi
            and ((o.lo, o.hi) != (s.lo, s.hi) or o.gen > s.gen)
            for o in segs
        )
        if covered:
            s.close()
            os.unlink(s.path)
            rep.removed_obsolete.append(s.name)
        else:
            live.append(s)
    return sorted(live, key=lambda s: s.hi)


def pending_wals(path: str, top: int) -> tuple[list[tuple[int, str]], int]:
    """WAL files above ``top`` (to replay, in order) and the next generation number.

    Files at or below ``top`` are already in segments and are deleted here.
    """
    wals = sorted(glob.glob(os.path.join(path, "wal-*.log")))
    ids = [int(os.path.basename(w)[4:12]) for w in wals]
    pending = [(i, w) for i, w in zip(ids, wals) if i > top]
    for i, w in zip(ids, wals):
        if i <= top:
            os.unlink(w)
    return pending, max([top, *ids]) + 1
