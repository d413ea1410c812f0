"""Atomic replacement and directory fsync used by the storage labs.

The order of the system calls is the whole contract (data synced before the rename, the directory
synced after it), so the tests record the calls and check that order, and what a failure leaves.
"""

from __future__ import annotations

import os
import stat

import pytest

from labsupport import durable
from labsupport.durable import fsync_dir, write_atomic


@pytest.fixture
def calls(monkeypatch):
    """Record ("fsync", 'file'|'dir', name) and ("replace", src, dst) in the order they happen."""
    log: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        name = os.readlink(f"/proc/self/fd/{fd}")
        log.append(("fsync", kind, os.path.basename(name)))
        real_fsync(fd)

    def replace(src, dst) -> None:
        log.append(("replace", os.path.basename(src), os.path.basename(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(durable.os, "fsync", fsync)
    monkeypatch.setattr(durable.os, "replace", replace)
    return log


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "meta.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["meta.json"]


def test_data_is_synced_before_the_rename_and_the_directory_after(tmp_path, calls) -> None:
    write_atomic(tmp_path / "meta.json", b"x" * 100)
    tmp_name = f"meta.json.{os.getpid()}.tmp"
    assert calls == [
        ("fsync", "file", tmp_name),
        ("replace", tmp_name, "meta.json"),
        ("fsync", "dir", tmp_path.name),
    ]


def test_write_atomic_large_payload_survives_short_writes(tmp_path, monkeypatch) -> None:
    real_write = os.write
    monkeypatch.setattr(durable.os, "write", lambda fd, view: real_write(fd, view[:4096]))
    data = os.urandom(3 << 20)
    write_atomic(tmp_path / "blob", data)
    assert (tmp_path / "blob").read_bytes() == data


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    target = tmp_path / "meta.json"
    write_atomic(target, b"old")

    def full_disk(fd, view):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable.os, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["meta.json"]


def test_fsync_dir_syncs_that_directory(tmp_path, calls) -> None:
    fsync_dir(tmp_path)
    fsync_dir(str(tmp_path))
    assert calls == [("fsync", "dir", tmp_path.name)] * 2
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")
