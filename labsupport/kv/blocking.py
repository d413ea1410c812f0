"""Blocking pops: BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX BZMPOP.

Mirrors Redis's ``blocked.c`` (``blockForKeys``, ``signalKeyAsReady``,
``handleClientsBlockedOnKeys``, ``replyToBlockedClientTimedOut``) and the blocking parts of
``t_list.c`` / ``t_zset.c``.

Theory of operation
-------------------
A blocking pop first tries to serve itself: the first of its keys (in argument order) that
holds a non-empty value of the right type is popped at once, by running the *non-blocking*
command (``LPOP key``, ``LMOVE src dst LEFT RIGHT``, ``ZPOPMIN key``...) through the command
table, so the reply, the keyspace change and what is propagated to the AOF and replicas are
exactly that command's. Otherwise the handler registers a :class:`Waiter` on each key and
returns :data:`~.commands.BLOCKED`; the engine then holds the client's later commands.

``engine.blocked_on`` maps ``(db, key)`` to the FIFO of waiters on it, so the client that
blocked first on a key is served first. A write that changes a watched-for key (seen in
``propagate``, like WATCH) marks the key *ready*; at the end of the writer's batch, or after
its EXEC (a push inside MULTI wakes nobody before EXEC), :func:`serve` takes the ready keys in
the order they became ready and, for each, serves waiters in FIFO order while the key still
holds something to pop. A served client's reply goes out as any reply (held for the AOF's group
commit when there is one) and its held commands run.

Timeouts are in seconds, fractional allowed, ``0`` meaning forever. Deadlines use the engine's
injected ``monotonic`` clock and are checked by the cron (``hz`` times a second, as Redis
does), which answers a null array. Inside EXEC a blocking pop never blocks: with nothing to pop
it answers a null array at once. A client that disconnects while blocked is removed from every
queue (:func:`drop`).
"""

from __future__ import annotations

import math
from collections import deque

from . import resp, resp3
from .commands import BLOCKED, COMMANDS, SYNTAX, WRONGTYPE, command, parse_int, unknown_command
from .keyspace import type_name

TIMEOUT_NOT_FLOAT = b"-ERR timeout is not a float or out of range\r\n"
TIMEOUT_NEGATIVE = b"-ERR timeout is negative\r\n"


class Waiter:
    """One blocked client: the keys it waits on and how to serve it from one of them."""

    __slots__ = ("cl", "db", "keys", "kind", "serve_one", "deadline", "name")

    def __init__(self, cl, keys, kind: bytes, serve_one, deadline: float | None,
                 name: bytes = b"") -> None:
        self.cl = cl
        self.name = name          # the blocking command (its RESP3 reply shape)
        self.db = cl.db
        self.keys = keys
        self.kind = kind          # b"list" or b"zset": the type that can serve it
        self.serve_one = serve_one   # key -> reply bytes (runs the non-blocking command)
        self.deadline = deadline


def parse_timeout(arg: bytes) -> float | None | bytes:
    """Seconds as a float (None: forever), or an error reply."""
    try:
        t = float(arg)
    except ValueError:
        return TIMEOUT_NOT_FLOAT
    if math.isnan(t) or math.isinf(t):
        return TIMEOUT_NOT_FLOAT
    if t < 0:
        return TIMEOUT_NEGATIVE
    return None if t == 0 else t


def _run(cl, argv) -> bytes:
    entry = COMMANDS.get(argv[0].lower())
    return unknown_command(argv) if entry is None else entry[0](cl, argv)


def _ready_value(cl, key: bytes, kind: bytes):
    """The value at ``key`` if it can serve a pop of ``kind`` now; WRONGTYPE; or None."""
    v = cl.ks.lookup(key)
    if v is None:
        return None
    if type_name(v) != kind:
        return False
    return v if len(v) else None


def _block(cl, keys, kind: bytes, serve_one, timeout, name: bytes = b"") -> bytes:
    """Serve at once from the first ready key, else block (or, inside EXEC, answer null)."""
    for key in keys:
        v = _ready_value(cl, key, kind)
        if v is False:
            return WRONGTYPE
        if v is not None:
            return serve_one(cl, key)
    st = cl.srv
    if st is not None and st.in_exec:
        return resp.NULL_ARRAY
    eng = cl.engine
    w = Waiter(cl, list(dict.fromkeys(keys)), kind, serve_one,
               None if timeout is None else eng.monotonic() + timeout, name)
    for key in w.keys:
        eng.blocked_on.setdefault((w.db, key), deque()).append(w)
    eng.waiters[cl] = w
    return BLOCKED


def _unregister(eng, w: Waiter) -> None:
    eng.waiters.pop(w.cl, None)
    for key in w.keys:
        q = eng.blocked_on.get((w.db, key))
        if q is not None:
            q.remove(w)
            if not q:
                del eng.blocked_on[(w.db, key)]


def mark_ready(eng, db: int, key: bytes) -> None:
    if (db, key) in eng.blocked_on and (db, key) not in eng.ready_set:
        eng.ready_set.add((db, key))
        eng.ready.append((db, key))


def signal(eng, db: int, argv) -> None:
    """A recorded write: the keys it names that someone waits on become ready."""
    from .multi import keys_of
    for key in keys_of(argv):
        mark_ready(eng, db, key)


def swapped(eng, a: int, b: int) -> None:
    """SWAPDB: every key waited on in either database may hold something new."""
    for db, key in list(eng.blocked_on):
        if db in (a, b):
            mark_ready(eng, db, key)


def _finish(eng, cl, reply: bytes) -> None:
    """Send a served (or timed-out) client its reply and run what it sent meanwhile."""
    cl.blocked = False
    if cl.closed:
        return
    eng._end_batch(cl, reply)
    pending, cl.pending = cl.pending, []
    if pending:
        eng.run_batch(cl, pending)


def serve(eng) -> None:
    """Serve the waiters of every ready key, first ready first, FIFO per key."""
    if eng.serving:
        return
    eng.serving = True
    try:
        while eng.ready:
            db, key = eng.ready.pop(0)
            eng.ready_set.discard((db, key))
            q = eng.blocked_on.get((db, key))
            while q:
                w = q[0]
                cl = w.cl
                if _ready_value(cl, key, w.kind) in (None, False):
                    break
                _unregister(eng, w)
                eng.exec_db = w.db
                reply = w.serve_one(cl, key)
                if cl.resp3:
                    reply = resp3.adapt(w.name, reply)
                _finish(eng, cl, reply)
                q = eng.blocked_on.get((db, key))
    finally:
        eng.serving = False


def expire(eng) -> None:
    """Cron: answer a null array to every waiter whose deadline has passed."""
    now = eng.monotonic()
    for w in [w for w in eng.waiters.values() if w.deadline is not None and w.deadline <= now]:
        _unregister(eng, w)
        _finish(eng, w.cl, b"_\r\n" if w.cl.resp3 else resp.NULL_ARRAY)


def unblock(eng, cl, reply: bytes) -> None:
    """End ``cl``'s wait with ``reply`` (CLIENT UNBLOCK)."""
    w = eng.waiters.get(cl)
    if w is not None:
        _unregister(eng, w)
        _finish(eng, cl, reply)


def drop(eng, cl) -> None:
    """A blocked client disconnected."""
    w = eng.waiters.get(cl)
    if w is not None:
        _unregister(eng, w)


# ---------------------------------------------------------------- commands

def _pop_reply(cmd: bytes):
    def serve_one(cl, key):
        r = _run(cl, [cmd, key])
        return b"*2\r\n" + resp.bulk(key) + r
    return serve_one


@command("blpop", -3)
def cmd_blpop(cl, argv):
    t = parse_timeout(argv[-1])
    return t if type(t) is bytes else _block(cl, argv[1:-1], b"list", _pop_reply(b"LPOP"), t)


@command("brpop", -3)
def cmd_brpop(cl, argv):
    t = parse_timeout(argv[-1])
    return t if type(t) is bytes else _block(cl, argv[1:-1], b"list", _pop_reply(b"RPOP"), t)


def _move(dst: bytes, wherefrom: bytes, whereto: bytes):
    def serve_one(cl, key):
        return _run(cl, [b"LMOVE", key, dst, wherefrom, whereto])
    return serve_one


@command("brpoplpush", 4)
def cmd_brpoplpush(cl, argv):
    t = parse_timeout(argv[3])
    if type(t) is bytes:
        return t
    r = _block(cl, [argv[1]], b"list", _move(argv[2], b"RIGHT", b"LEFT"), t)
    return resp.NULL if r == resp.NULL_ARRAY else r


@command("blmove", 6)
def cmd_blmove(cl, argv):
    wf, wt = argv[3].upper(), argv[4].upper()
    if wf not in (b"LEFT", b"RIGHT") or wt not in (b"LEFT", b"RIGHT"):
        return SYNTAX
    t = parse_timeout(argv[5])
    if type(t) is bytes:
        return t
    r = _block(cl, [argv[1]], b"list", _move(argv[2], wf, wt), t)
    return resp.NULL if r == resp.NULL_ARRAY else r


def _mpop_args(argv, words: tuple[bytes, bytes]):
    """``timeout numkeys key... WHERE [COUNT n]`` -> (timeout, keys, where, count) or error."""
    t = parse_timeout(argv[1])
    if type(t) is bytes:
        return t
    n = parse_int(argv[2])
    if n is None or n <= 0:
        return b"-ERR numkeys should be greater than 0\r\n"
    if len(argv) < 4 + n:
        return SYNTAX
    keys, rest = argv[3:3 + n], argv[3 + n:]
    where = rest[0].upper()
    if where not in words:
        return SYNTAX
    count = b"1"
    if len(rest) == 3 and rest[1].upper() == b"COUNT":
        c = parse_int(rest[2])
        if c is None or c <= 0:
            return b"-ERR count should be greater than 0\r\n"
        count = rest[2]
    elif len(rest) != 1:
        return SYNTAX
    return t, keys, where, count


def _mpop(cmd: bytes, where: bytes, count: bytes):
    def serve_one(cl, key):
        return _run(cl, [cmd, b"1", key, where, b"COUNT", count])
    return serve_one


@command("blmpop", -5)
def cmd_blmpop(cl, argv):
    a = _mpop_args(argv, (b"LEFT", b"RIGHT"))
    if type(a) is bytes:
        return a
    t, keys, where, count = a
    return _block(cl, keys, b"list", _mpop(b"LMPOP", where, count), t)


def _zpop_reply(cmd: bytes):
    def serve_one(cl, key):
        r = _run(cl, [cmd, key])   # *2 member score
        return b"*3\r\n" + resp.bulk(key) + r[r.index(b"\r\n") + 2:]
    return serve_one


@command("bzpopmin", -3)
def cmd_bzpopmin(cl, argv):
    t = parse_timeout(argv[-1])
    return t if type(t) is bytes else _block(cl, argv[1:-1], b"zset", _zpop_reply(b"ZPOPMIN"), t,
                                                     b"bzpopmin")


@command("bzpopmax", -3)
def cmd_bzpopmax(cl, argv):
    t = parse_timeout(argv[-1])
    return t if type(t) is bytes else _block(cl, argv[1:-1], b"zset", _zpop_reply(b"ZPOPMAX"), t,
                                                     b"bzpopmax")


@command("bzmpop", -5)
def cmd_bzmpop(cl, argv):
    a = _mpop_args(argv, (b"MIN", b"MAX"))
    if type(a) is bytes:
        return a
    t, keys, where, count = a
    return _block(cl, keys, b"zset", _mpop(b"ZMPOP", where, count), t)
