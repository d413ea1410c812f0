"""Errors of the key-value server, by whose fault they are.

:class:`KvError` is the base. A :class:`ProtocolError` is the remote peer's fault (it sent bytes
that are not RESP, or exceed a limit); :class:`PersistenceError` is about files on disk (a
corrupt snapshot, an AOF damaged before its tail) and names the file and offset.
"""

from __future__ import annotations


class KvError(Exception):
    """Base of every error raised by ``labsupport.kv``."""


class ProtocolError(KvError):
    """Raised (or stored on the parser) when a peer sends malformed or oversized RESP.

    ``offset`` is the byte offset in the connection's stream where the bad request starts.
    The message is the one Redis replies with, so it is sent to the client as ``-ERR <message>``.
    """

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class PersistenceError(KvError):
    """Raised when a snapshot or an AOF on disk cannot be loaded (what file, which offset)."""
