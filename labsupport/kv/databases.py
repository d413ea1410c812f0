"""Numbered databases: SELECT SWAPDB FLUSHDB FLUSHALL DBSIZE, and the database of each write.

Mirrors Redis's ``db.c`` (``selectDb``, ``swapdbCommand``, ``flushdbCommand``) and the way
``propagate`` / ``feedAppendOnlyFile`` / ``replicationFeedSlaves`` prefix the stream with a
``SELECT`` whenever the database of a write differs from the previous write's.

Theory of operation
-------------------
The engine has :data:`NUM_DBS` keyspaces (``engine.dbs``); a client's ``ks`` is the one it
selected (``cl.db`` its index), so every handler, and the GET/SET fast path, works on the
client's database without knowing there are others. The engine remembers the database the
command being executed runs in (``engine.exec_db``, set per batch and by SELECT) and, in
``propagate``, the database the AOF and the replication stream are positioned on
(``engine.stream_db``): a write to another database is preceded by ``SELECT n`` in both, so
replaying the AOF or applying the stream on a replica runs each write in its database. The
stream position is forgotten (``-1``) whenever a new stream starts (an AOF rewrite, a replica's
full sync), so the next write carries a SELECT again.

SWAPDB exchanges two keyspace objects in ``engine.dbs`` and repoints every client that had one
of them selected, as Redis does; FLUSHALL empties every database. Both touch the watched keys
they change (:mod:`.multi`).
"""

from __future__ import annotations

from . import blocking, multi, resp
from .commands import NOT_INT, SYNTAX, WRITE, command, parse_int

NUM_DBS = 16
OUT_OF_RANGE = b"-ERR DB index is out of range\r\n"


def select(cl, db: int) -> None:
    """Point ``cl`` at database ``db`` (already range-checked)."""
    eng = cl.engine
    cl.db = db
    cl.ks = eng.dbs[db]
    eng.exec_db = db
    cl.update_mode()


@command("select", 2)
def cmd_select(cl, argv):
    db = parse_int(argv[1])
    if db is None:
        return NOT_INT
    if not 0 <= db < NUM_DBS:
        return OUT_OF_RANGE
    select(cl, db)
    return resp.OK


@command("swapdb", 3, WRITE)
def cmd_swapdb(cl, argv):
    a, b = parse_int(argv[1]), parse_int(argv[2])
    if a is None:
        return b"-ERR invalid first DB index\r\n"
    if b is None:
        return b"-ERR invalid second DB index\r\n"
    if not (0 <= a < NUM_DBS and 0 <= b < NUM_DBS):
        return OUT_OF_RANGE
    eng = cl.engine
    if a != b:
        dbs = eng.dbs
        multi.touch_swapped(eng, a, b)
        dbs[a], dbs[b] = dbs[b], dbs[a]
        for ks, i in ((dbs[a], a), (dbs[b], b)):
            ks.on_expire = eng.expire_hook(i)
        for c in eng.clients:
            if c.db in (a, b):
                c.ks = dbs[c.db]
        loader = eng.__dict__.get("_loader_client")
        if loader is not None:
            loader.ks = dbs[loader.db]
        blocking.swapped(eng, a, b)
        eng.propagate([b"SWAPDB", argv[1], argv[2]])
    return resp.OK


def _flush_args_ok(argv) -> bool:
    return len(argv) == 1 or (len(argv) == 2 and argv[1].upper() in (b"ASYNC", b"SYNC"))


@command("flushdb", -1, WRITE)
def cmd_flushdb(cl, argv):
    if not _flush_args_ok(argv):
        return SYNTAX
    eng = cl.engine
    multi.touch_flushed(eng, cl.db)
    cl.ks.clear()
    eng.propagate([b"FLUSHDB"])
    return resp.OK


@command("flushall", -1, WRITE)
def cmd_flushall(cl, argv):
    if not _flush_args_ok(argv):
        return SYNTAX
    eng = cl.engine
    for i, ks in enumerate(eng.dbs):
        multi.touch_flushed(eng, i)
        ks.clear()
    eng.propagate([b"FLUSHALL"])
    return resp.OK


@command("dbsize", 1)
def cmd_dbsize(cl, argv):
    return b":%d\r\n" % len(cl.ks.data)


