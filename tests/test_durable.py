"""Atomic replacement and directory fsync used by the storage labs."""

from __future__ import annotations

import os

from labsupport.durable import fsync_dir, write_atomic


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "meta.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["meta.json"]


def test_write_atomic_large_payload(tmp_path) -> None:
    data = os.urandom(3 << 20)
    write_atomic(tmp_path / "blob", data)
    assert (tmp_path / "blob").read_bytes() == data


def test_fsync_dir_accepts_paths(tmp_path) -> None:
    fsync_dir(tmp_path)
    fsync_dir(str(tmp_path))
