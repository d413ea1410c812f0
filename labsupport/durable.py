"""Durable files: the two system calls every storage lab needs to get right.

A write is durable when it survives a power cut, not when ``write()`` returns. Two rules make it so
on POSIX file systems, and the storage labs (the mini Redis's snapshots, the tick store's segments
and metadata) all follow them through this module rather than each re-deriving them:

- Replace a file atomically: write a temporary file in the same directory, ``fsync`` it, then
  ``os.replace`` it over the target. A reader (or a restart after a crash) sees the old file or
  the new one, never half of either.
- A rename or a new file is a change to the *directory*: ``fsync`` the directory too, or the new
  name may vanish in a crash even though the file's bytes were synced.
"""

from __future__ import annotations

import os


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries of directory ``path`` (new files, renames, deletions) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"  # same directory, so the rename is atomic
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        os.unlink(tmp)  # the target is untouched; leave no half-written temporary behind
        raise
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")
