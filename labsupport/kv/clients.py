"""Per-connection server state and the CLIENT command: SETNAME GETNAME ID INFO LIST KILL REPLY
UNBLOCK NO-EVICT NO-TOUCH SETINFO.

Mirrors Redis's ``networking.c`` (``clientCommand``, ``catClientInfoString``) and the reply
switch of ``addReply`` (``CLIENT_REPLY_OFF`` / ``CLIENT_REPLY_SKIP``).

Theory of operation
-------------------
The engine's :class:`~.engine.Client` carries the I/O-level state of a connection (its write
function, the pending commands of a blocked client). What the server-level commands add (a name,
the selected database, a transaction being queued, watched keys, the reply mode, whether the
client authenticated) lives in one :class:`ClientState`, reached with :func:`state`; the
engine's client keeps it in its ``srv`` slot so the hot path never looks at it.

Reply modes (``CLIENT REPLY``): ``ON`` sends every reply; ``OFF`` sends none until ``CLIENT
REPLY ON``; ``SKIP`` drops the reply of the next command only. Pub/sub messages and other pushes
are not replies and are always delivered. The engine applies the mode in its slow path, which
a client with a non-default mode is forced through (:func:`set_reply_mode`).

``CLIENT LIST`` prints Redis's ``key=value`` fields for the ones this server knows (id, addr,
laddr, name, age, flags, db, sub, psub, multi, resp; not idle or cmd, which would cost the hot
path a store per command); ``CLIENT KILL`` closes a connection
by id or address (``CLIENT KILL addr``, ``CLIENT KILL ID n``, ``ADDR``, ``LADDR``, ``SKIPME``).
"""

from __future__ import annotations

import time

from . import resp
from .commands import BLOCKED, NOT_INT, SYNTAX, command, parse_int
from .settings import settings


class ClientState:
    """Server-level state of one connection (see the module docstring)."""

    __slots__ = ("name", "ctime", "multi", "multi_error", "watched",
                 "dirty_cas", "reply", "authed", "lib", "in_exec", "special")

    def __init__(self, authed: bool = True) -> None:
        self.name = b""
        self.ctime = time.monotonic()
        self.multi: list | None = None     # commands queued since MULTI
        self.multi_error = False          # a queued command was refused: EXEC aborts
        self.watched: list = []           # (db index, key, expired-at-WATCH) triples
        self.dirty_cas = False            # a watched key was touched: EXEC fails
        self.reply = b"on"                # on | off | skip
        self.authed = authed
        self.lib = b""
        self.in_exec = False              # EXEC is running the queue: blocking commands don't block
        self.special = not authed         # route the client's commands through :func:`call`

    def refresh(self, cl) -> None:
        """Recompute :attr:`special` and the engine client's slow-path flag."""
        self.special = self.multi is not None or self.reply != b"on" or not self.authed
        cl.update_mode()


def state(cl) -> ClientState:
    """The :class:`ClientState` of an engine client (created on first use)."""
    try:
        s = cl.srv
    except AttributeError:   # an engine whose clients have no ``srv`` slot: a side table
        s = cl.engine.__dict__.setdefault("_client_states", {}).get(cl.id)
        if s is None:
            s = cl.engine._client_states[cl.id] = ClientState(not settings(cl.engine)["requirepass"])
        return s
    if s is None:
        s = cl.srv = ClientState(authed=not settings(cl.engine)["requirepass"])
    return s


def on_connect(cl) -> None:
    """A new connection: with ``requirepass`` set it must authenticate first."""
    if settings(cl.engine)["requirepass"]:
        cl.srv = ClientState(authed=False)
        cl.update_mode()


def transport_of(cl):
    """The asyncio transport behind a client, or None (an AOF loader, a test client)."""
    return getattr(cl.write, "__self__", None)


def _addr(transport, key: str) -> bytes:
    if transport is None or not hasattr(transport, "get_extra_info"):
        return b""
    peer = transport.get_extra_info(key)
    if not peer:
        return b""
    return b"%s:%d" % (str(peer[0]).encode(), peer[1])


def client_info(cl) -> bytes:
    """One line of CLIENT LIST / CLIENT INFO."""
    s = state(cl)
    t = transport_of(cl)
    now = time.monotonic()
    flags = b""
    if s.multi is not None:
        flags += b"x"
    if cl.blocked:
        flags += b"b"
    if cl.subs or cl.psubs:
        flags += b"P"
    if cl.is_master:
        flags += b"M"
    if s.dirty_cas:
        flags += b"d"
    return (b"id=%d addr=%s laddr=%s name=%s age=%d flags=%s db=%d sub=%d psub=%d multi=%d "
            b"user=default resp=%d lib-name=%s" % (
                cl.id, _addr(t, "peername"), _addr(t, "sockname"), s.name,
                int(now - s.ctime), flags or b"N", cl.db, len(cl.subs), len(cl.psubs),
                -1 if s.multi is None else len(s.multi), 3 if cl.resp3 else 2, s.lib))


_PRE_AUTH = {b"auth", b"hello", b"quit", b"reset"}
_ALWAYS_DELIVERED = {b"subscribe", b"psubscribe", b"unsubscribe", b"punsubscribe"}
NOAUTH = b"-NOAUTH Authentication required.\r\n"


def call(cl, fn, flags: int, argv) -> bytes:
    """Run one command for a client with server-level state: authentication, a transaction
    being queued, a reply mode other than ON (the engine's slow path calls this)."""
    from . import multi
    st = cl.srv
    name = argv[0].lower()
    if not st.authed and name not in _PRE_AUTH:
        multi.flag_error(cl)
        return NOAUTH
    if st.multi is not None and name not in multi.CONTROL:
        return multi.queue(cl, st, fn, flags, argv)
    before = st.reply
    if before == b"skip-next":   # CLIENT REPLY SKIP was the previous command: skip this reply
        before = st.reply = b"skip"
    r = fn(cl, argv)
    if r is BLOCKED:
        return r
    if cl.resp3:
        from .resp3 import adapt
        r = adapt(argv[0], r, argv)
    after = st.reply
    if before == b"skip":
        if after == b"skip":
            st.reply = b"on"
            st.refresh(cl)
        if name not in _ALWAYS_DELIVERED:
            r = b""
    elif after == b"off" and name not in _ALWAYS_DELIVERED:
        r = b""
    return r


def set_reply_mode(cl, mode: bytes) -> None:
    st = state(cl)
    st.reply = b"skip-next" if mode == b"skip" else mode
    st.refresh(cl)


def _valid_name(name: bytes) -> bool:
    return all(33 <= c <= 126 for c in name)


def kill_client(cl) -> None:
    """Close a connection as Redis's CLIENT KILL does (after the current command)."""
    t = transport_of(cl)
    if t is not None and hasattr(t, "close"):
        t.close()
    cl.engine.drop_client(cl)


def _kill(cl, argv) -> bytes:
    eng = cl.engine
    if len(argv) == 3:   # old form: CLIENT KILL addr:port
        for c in list(eng.clients):
            if _addr(transport_of(c), "peername") == argv[2]:
                kill_client(c)
                return resp.OK
        return b"-ERR No such client\r\n"
    if len(argv) % 2:
        return SYNTAX
    want_id = addr = laddr = None
    skipme = True
    for i in range(2, len(argv), 2):
        opt, val = argv[i].lower(), argv[i + 1]
        if opt == b"id":
            want_id = parse_int(val)
            if want_id is None or want_id <= 0:
                return b"-ERR client-id should be greater than 0\r\n"
        elif opt == b"addr":
            addr = val
        elif opt == b"laddr":
            laddr = val
        elif opt == b"skipme":
            if val.lower() not in (b"yes", b"no"):
                return SYNTAX
            skipme = val.lower() == b"yes"
        elif opt in (b"type", b"user", b"maxage"):
            continue
        else:
            return SYNTAX
    n = 0
    for c in list(eng.clients):
        if c is cl and skipme:
            continue
        if want_id is not None and c.id != want_id:
            continue
        t = transport_of(c)
        if addr is not None and _addr(t, "peername") != addr:
            continue
        if laddr is not None and _addr(t, "sockname") != laddr:
            continue
        kill_client(c)
        n += 1
    return b":%d\r\n" % n


def _unblock(cl, argv) -> bytes:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: end a blocking pop as if it timed out, or with an error."""
    from . import blocking
    how = argv[3].upper() if len(argv) == 4 else b"TIMEOUT"
    if how not in (b"TIMEOUT", b"ERROR"):
        return b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    want = parse_int(argv[2])
    if want is None:
        return NOT_INT
    eng = cl.engine
    target = next((c for c in eng.waiters if c.id == want), None)
    if target is None:
        return b":0\r\n"
    reply = (b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n" if how == b"ERROR"
             else b"_\r\n" if target.resp3 else resp.NULL_ARRAY)
    blocking.unblock(eng, target, reply)
    return b":1\r\n"


@command("client", -2)
def cmd_client(cl, argv):
    sub = argv[1].lower()
    n = len(argv)
    if sub == b"id" and n == 2:
        return b":%d\r\n" % cl.id
    if sub == b"setname" and n == 3:
        if not _valid_name(argv[2]):
            return b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        state(cl).name = argv[2]
        return resp.OK
    if sub == b"getname" and n == 2:
        name = state(cl).name
        return resp.bulk(name) if name else resp.NULL
    if sub == b"reply" and n == 3:
        mode = argv[2].lower()
        if mode not in (b"on", b"off", b"skip"):
            return SYNTAX
        set_reply_mode(cl, mode)
        return resp.OK if mode == b"on" else b""
    if sub == b"list":
        if n > 2 and (n != 4 or argv[2].lower() not in (b"type", b"id")):
            return SYNTAX
        clients = sorted(cl.engine.clients, key=lambda c: c.id)
        if n == 4 and argv[2].lower() == b"id":
            ids = {parse_int(a) for a in argv[3:]}
            if None in ids:
                return NOT_INT
            clients = [c for c in clients if c.id in ids]
        return resp.bulk(b"".join(client_info(c) + b"\n" for c in clients))
    if sub == b"info" and n == 2:
        return resp.bulk(client_info(cl) + b"\n")
    if sub == b"kill" and n >= 3:
        return _kill(cl, argv)
    if sub == b"unblock" and n in (3, 4):
        return _unblock(cl, argv)
    if sub == b"setinfo" and n == 4:
        if argv[2].lower() == b"lib-name":
            state(cl).lib = argv[3]
        return resp.OK
    if sub in (b"no-evict", b"no-touch") and n == 3:
        if argv[2].lower() not in (b"on", b"off"):
            return SYNTAX
        return resp.OK
    return resp.error("ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.".format(
        argv[1].decode("utf-8", "replace")))
