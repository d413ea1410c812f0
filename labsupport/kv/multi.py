"""Transactions: MULTI EXEC DISCARD WATCH UNWATCH, with Redis's optimistic locking.

Mirrors Redis's ``multi.c`` (``queueMultiCommand``, ``execCommand``, ``touchWatchedKey``,
``touchAllWatchedKeysInDb``, ``isWatchedKeyExpired``).

Theory of operation
-------------------
After MULTI a client's commands are not run but queued (reply ``+QUEUED``); a command refused
while queueing (unknown, wrong arity, not allowed in a transaction) flags the transaction and
EXEC then discards it with ``-EXECABORT``. EXEC runs the queue back to back, nothing else runs
in between (the server is single-threaded), and answers one array of the replies. Its writes go
to the AOF and to replicas as one unit, ``MULTI ... EXEC``, when there is more than one of them.

WATCH is a compare-and-set on keys: EXEC answers a null array and runs nothing if a watched key
was *touched* since WATCH. The registry ``engine.watched`` maps ``(db, key)`` to the clients
watching it, so touching costs nothing when no one watches (one truth test per write). A key
is touched by any write that changed it, by this client or another: the writes are seen where
the engine records them (``propagate``: :func:`keys_of` finds their keys), by expiry (the
keyspace's expiry hook), by FLUSHDB/FLUSHALL and SWAPDB. As in Redis, a key that was already
logically expired at WATCH time and is then deleted is not a change; a watched key that
expires before EXEC fails it.
"""

from __future__ import annotations

from . import resp, resp3
from .clients import state
from .commands import command

NO_MULTI = {b"save", b"shutdown", b"sync", b"psync", b"monitor", b"replconf"}
CONTROL = {b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"}
EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"
QUEUED = b"+QUEUED\r\n"


# ---------------------------------------------------------------- keys of a recorded write

def _all(argv):
    return argv[1:]


def _pairs(argv):
    return argv[1::2]


def _two(argv):
    return argv[1:3]


_KEYS = {
    b"del": _all, b"unlink": _all, b"mset": _pairs, b"msetnx": _pairs,
    b"rename": _two, b"renamenx": _two, b"smove": _two, b"lmove": _two, b"rpoplpush": _two,
    b"bitop": lambda a: a[2:3],
    b"flushdb": lambda a: [], b"flushall": lambda a: [], b"swapdb": lambda a: [],
    b"select": lambda a: [], b"multi": lambda a: [], b"exec": lambda a: [],
    b"publish": lambda a: [], b"move": lambda a: [], b"copy": lambda a: [],
}


def keys_of(argv) -> list[bytes]:
    """The keys a recorded write changed, in the current database (first argument by default)."""
    f = _KEYS.get(argv[0].lower())
    return argv[1:2] if f is None else f(argv)


def other_db_keys(argv) -> list[tuple[int, bytes]]:
    """Keys a write changed in another database: MOVE key db, COPY src dst DB db."""
    name = argv[0].lower()
    if name == b"move" and len(argv) == 3 and argv[2].isdigit():
        return [(int(argv[2]), argv[1])]
    if name == b"copy":
        for i in range(3, len(argv) - 1):
            if argv[i].lower() == b"db" and argv[i + 1].isdigit():
                return [(int(argv[i + 1]), argv[2])]
    return []


def touch_propagated(eng, db: int, argv) -> None:
    """Touch the keys of one recorded write (``db``: the database it ran in)."""
    name = argv[0].lower()
    others = other_db_keys(argv)
    if name == b"move":
        touch(eng, db, argv[1])
    elif name == b"copy" and not others:
        touch(eng, db, argv[2])
    for key in keys_of(argv):
        touch(eng, db, key)
    for other, key in others:
        touch(eng, other, key)


# ---------------------------------------------------------------- the watch registry

def _expired(ks, key: bytes) -> bool:
    """Logically expired but still stored (lazy expiry has not deleted it yet)."""
    when = ks.expires.get(key)
    return when is not None and when <= ks.clock_ms()


def _dirty(cl) -> None:
    st = state(cl)
    st.dirty_cas = True
    unwatch_all(cl)


def touch(eng, db: int, key: bytes) -> None:
    """A write changed ``key`` in ``db``: every client watching it will fail its EXEC."""
    clients = eng.watched.get((db, key))
    if not clients:
        return
    for c in list(clients):
        for wk in state(c).watched:
            if wk[0] == db and wk[1] == key:
                if wk[2] and key not in eng.dbs[db].data:
                    wk[2] = False   # a stale key was deleted: logically no change
                    break
                _dirty(c)
                break


def touch_flushed(eng, db: int, replaced_with=None) -> None:
    """Database ``db`` is being emptied (FLUSHDB/FLUSHALL) or replaced (SWAPDB)."""
    if not eng.watched:
        return
    emptied = eng.dbs[db]
    for (wdb, key), clients in list(eng.watched.items()):
        if wdb != db:
            continue
        in_emptied = key in emptied.data
        in_new = replaced_with is not None and key in replaced_with.data
        if not (in_emptied or in_new):
            continue
        for c in list(clients):
            for wk in state(c).watched:
                if wk[0] != db or wk[1] != key:
                    continue
                if wk[2]:
                    if not in_new:
                        wk[2] = False
                        break
                    if _expired(replaced_with, key):
                        break
                elif not in_emptied and _expired(replaced_with, key):
                    wk[2] = True
                    break
                _dirty(c)
                break


def touch_swapped(eng, a: int, b: int) -> None:
    touch_flushed(eng, a, eng.dbs[b])
    touch_flushed(eng, b, eng.dbs[a])


def unwatch_all(cl) -> None:
    st = state(cl)
    watched = cl.engine.watched
    for db, key, _ in st.watched:
        s = watched.get((db, key))
        if s is not None:
            s.discard(cl)
            if not s:
                del watched[(db, key)]
    st.watched = []


# ---------------------------------------------------------------- commands

def queue(cl, st, fn, flags, argv) -> bytes:
    """A command sent after MULTI: queued, or refused (which aborts the transaction)."""
    if argv[0].lower() in NO_MULTI:
        st.multi_error = True
        return b"-ERR Command not allowed inside a transaction\r\n"
    st.multi.append((fn, flags, argv))
    return QUEUED


def flag_error(cl) -> None:
    """A command was refused while a transaction is being queued: EXEC will abort."""
    st = cl.srv
    if st is not None and st.multi is not None:
        st.multi_error = True


@command("multi", 1)
def cmd_multi(cl, argv):
    st = state(cl)
    if st.multi is not None:
        return b"-ERR MULTI calls can not be nested\r\n"
    st.multi = []
    st.multi_error = False
    st.refresh(cl)
    return resp.OK


def _end(cl, st) -> None:
    st.multi = None
    st.multi_error = False
    st.dirty_cas = False
    unwatch_all(cl)
    st.refresh(cl)


@command("discard", 1)
def cmd_discard(cl, argv):
    st = state(cl)
    if st.multi is None:
        return b"-ERR DISCARD without MULTI\r\n"
    _end(cl, st)
    return resp.OK


def _watched_expired(cl, st) -> bool:
    dbs = cl.engine.dbs
    return any(not exp and _expired(dbs[db], key) for db, key, exp in st.watched)


@command("exec", 1)
def cmd_exec(cl, argv):
    st = state(cl)
    if st.multi is None:
        return b"-ERR EXEC without MULTI\r\n"
    queued = st.multi
    if st.multi_error:
        _end(cl, st)
        return EXECABORT
    if st.dirty_cas or _watched_expired(cl, st):
        _end(cl, st)
        return b"_\r\n" if cl.resp3 else resp.NULL_ARRAY
    unwatch_all(cl)
    st.multi = None
    st.refresh(cl)
    eng = cl.engine
    pending = eng._pending
    start = len(pending)
    st.in_exec = True
    replies = [b"*%d\r\n" % len(queued)]
    try:
        for fn, _flags, args in queued:
            r = fn(cl, args)
            if cl.resp3:
                r = resp3.adapt(args[0], r, args)
            replies.append(r)
    finally:
        st.in_exec = False
        _end(cl, st)
    added = pending[start:]
    writes = [c for c in added if type(c) is not list or c[0] != b"SELECT"]
    if len(writes) > 1:   # replay as one unit: MULTI after a leading SELECT, EXEC at the end
        at = start + 1 if type(added[0]) is list and added[0][0] == b"SELECT" else start
        pending.insert(at, [b"MULTI"])
        pending.append([b"EXEC"])
    return b"".join(replies)


@command("watch", -2)
def cmd_watch(cl, argv):
    st = state(cl)
    if st.multi is not None:
        return b"-ERR WATCH inside MULTI is not allowed\r\n"
    db = cl.db
    watched = cl.engine.watched
    have = {(d, k) for d, k, _ in st.watched}
    for key in argv[1:]:
        if (db, key) in have:
            continue
        have.add((db, key))
        st.watched.append([db, key, key in cl.ks.data and _expired(cl.ks, key)])
        watched.setdefault((db, key), set()).add(cl)
    return resp.OK


@command("unwatch", 1)
def cmd_unwatch(cl, argv):
    st = state(cl)
    unwatch_all(cl)
    st.dirty_cas = False
    return resp.OK
