"""Lab 04: a mini Redis that real Redis clients use unchanged.

RESP2 codec (:mod:`.resp`), keyspace with lazy + active expiry (:mod:`.keyspace`), the command
table (:mod:`.commands` and the ``cmd_*`` modules), the engine's dispatch (:mod:`.engine`) and
its measured shortcut (:mod:`.fastpath`), AOF (:mod:`.aof`), snapshots (:mod:`.snapshot`) and
the forked persistence processes (:mod:`.persistence`), glob patterns (:mod:`.glob`),
replication (:mod:`.replication`, :mod:`.replica`), the asyncio server (:mod:`.server`), the
command line (``python -m labsupport.kv``) and the benchmark
(:mod:`.bench`).
"""

from .aof import AofLoadReport, AofWriter, load_aof, read_commands
from .commands import COMMANDS
from .engine import Client, Config, Engine
from .errors import KvError, PersistenceError, ProtocolError
from .fastpath import FastCommandParser
from .keyspace import Keyspace
from .resp import NEED_DATA, CommandParser, ReplyError, ReplyParser, encode_command
from .server import KvServer, ServerThread, new_event_loop

__all__ = [
    "AofLoadReport", "AofWriter", "load_aof", "read_commands", "COMMANDS", "Client", "Config",
    "Engine", "KvError", "PersistenceError", "ProtocolError", "Keyspace", "NEED_DATA",
    "CommandParser", "FastCommandParser", "ReplyError", "ReplyParser", "encode_command", "KvServer", "ServerThread",
    "new_event_loop",
]
