"""The command table: name -> (handler, arity, flags), and the helpers handlers share.

Mirrors Redis's ``server.c`` command table and ``processCommand`` checks (arity, unknown
command, read-only replica, pub/sub context).

Theory of operation
-------------------
A handler is a plain function ``handler(client, argv) -> bytes`` that returns its reply already
RESP-encoded (see :mod:`.resp`); ``argv[0]`` is the command name as the client sent it. A write
handler that changed the keyspace calls ``client.engine.propagate(argv)`` with the command to
replay (relative times rewritten to absolute ones, as Redis 7 does), which feeds the AOF and the
replicas. Arity follows Redis: ``n > 0`` means exactly ``n`` arguments counting the name,
``n < 0`` at least ``-n``. The table is one dict lookup per command; the handler modules
register themselves with :func:`command` when :mod:`.engine` imports them.
"""

from __future__ import annotations

import re

from . import glob as _glob
from . import resp

WRITE = 1       # changes the keyspace: refused on a read-only replica
PUBSUB = 2      # allowed while the client is in subscribed mode
ADMIN = 4

COMMANDS: dict[bytes, tuple] = {}   # lower-case name -> entry (what COMMAND lists)
LOOKUP: dict[bytes, tuple] = {}     # dispatch: lower- and upper-case names -> entry

BLOCKED = b"<blocked>"   # returned (by identity) by a handler whose reply comes later (WAIT)

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
NOT_INT = b"-ERR value is not an integer or out of range\r\n"
SYNTAX = b"-ERR syntax error\r\n"
READONLY = b"-READONLY You can't write against a read only replica.\r\n"
OVERFLOW = b"-ERR increment or decrement would overflow\r\n"

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)


def command(name: str, arity: int, flags: int = 0):
    """Register the decorated handler under ``name`` (lower case) in :data:`COMMANDS`."""

    def register(fn):
        alias(name, (fn, arity, flags))
        return fn

    return register


def alias(name: str, entry: tuple) -> None:
    """Make ``entry`` callable as ``name`` (any case)."""
    COMMANDS[name.lower().encode()] = entry
    LOOKUP[name.lower().encode()] = entry
    LOOKUP[name.upper().encode()] = entry


def arity_error(name: bytes | str) -> bytes:
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return resp.error(f"ERR wrong number of arguments for '{name.lower()}' command")


def unknown_command(argv: list[bytes]) -> bytes:
    name = argv[0].decode("utf-8", "replace")
    rest = "".join("'{}' ".format(a[:128].decode("utf-8", "replace")) for a in argv[1:])
    return resp.error(f"ERR unknown command '{name}', with args beginning with: {rest}")


_INT_RE = re.compile(rb"-?[1-9][0-9]{0,19}|0")


def parse_int(b: bytes) -> int | None:
    """A signed 64-bit integer in Redis's strict form (``string2ll``), else None.

    No spaces, no ``+``, no leading zeros: ``b"01"`` and ``b" 1"`` are not integers for Redis.
    """
    if _INT_RE.fullmatch(b) is None:
        return None
    v = int(b)
    if v > LLONG_MAX or v < LLONG_MIN:
        return None
    return v


def glob_to_regex(pattern: bytes) -> re.Pattern:
    """A Redis glob as a regex whose ``fullmatch`` matches in polynomial time (:mod:`.glob`)."""
    return _glob.compile(pattern)
