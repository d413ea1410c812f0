"""Connection and server commands: PING ECHO HELLO AUTH QUIT TIME COMMAND, SAVE BGSAVE
BGREWRITEAOF LASTSAVE, REPLICAOF / SLAVEOF.

Mirrors the replies of Redis's ``server.c`` and ``replication.c`` closely enough for redis-cli,
redis-benchmark and redis-py: COMMAND answers what redis-cli asks at start-up, HELLO switches
between RESP2 and RESP3 and can authenticate. Authentication is Redis's ``requirepass`` model
without ACLs: one user, ``default``, whose password is ``requirepass`` (none by default);
``AUTH password`` and ``AUTH default password`` check it, any other user name is a WRONGPASS.
The other server-level commands live in :mod:`.clients` (CLIENT), :mod:`.cmd_config` (CONFIG,
INFO), :mod:`.cmd_debug` (DEBUG, FUNCTION), :mod:`.databases` (SELECT SWAPDB FLUSHDB FLUSHALL
DBSIZE), :mod:`.multi` (MULTI EXEC DISCARD WATCH UNWATCH), imported here so that they register;
:mod:`.blocking` (BLPOP and the other blocking pops) is imported by the engine.
"""

from __future__ import annotations

import signal
import threading
import time

from . import cmd_config, cmd_debug, databases, multi, resp  # noqa: F401  (they register commands)
from .clients import state
from .cmd_config import VERSION
from .commands import (
    ADMIN,
    COMMANDS,
    PUBSUB,
    SYNTAX,
    WRITE,
    alias,
    arity_error,
    command,
    parse_int,
)
from .settings import settings


@command("ping", -1, PUBSUB)
def cmd_ping(cl, argv):
    if len(argv) > 2:
        return arity_error(argv[0])
    if cl.subs or cl.psubs:   # in subscribed mode PING answers in the shape of a message
        return b"*2\r\n$4\r\npong\r\n" + resp.bulk(argv[1] if len(argv) > 1 else b"")
    return resp.PONG if len(argv) == 1 else resp.bulk(argv[1])


def _hello_reply(cl) -> bytes:
    role = b"replica" if cl.engine.master_link is not None else b"master"
    reply = (b"*14\r\n" + resp.bulk(b"server") + resp.bulk(b"redis") + resp.bulk(b"version")
             + resp.bulk(VERSION.encode()) + resp.bulk(b"proto") + b":%d\r\n" % (3 if cl.resp3 else 2)
             + resp.bulk(b"id") + b":%d\r\n" % cl.id + resp.bulk(b"mode") + resp.bulk(b"standalone")
             + resp.bulk(b"role") + resp.bulk(role) + resp.bulk(b"modules") + resp.EMPTY_ARRAY)
    return resp.to_resp3(b"hello", reply) if cl.resp3 else reply


@command("hello", -1, PUBSUB)
def cmd_hello(cl, argv):
    """Protocol handshake: ``HELLO [2|3 [AUTH user pass] [SETNAME name]]``."""
    ver = None
    if len(argv) > 1:
        ver = parse_int(argv[1])
        if ver is None:
            return b"-ERR Protocol version is not an integer or out of range\r\n"
        if ver not in (2, 3):
            return b"-NOPROTO unsupported protocol version\r\n"
    i, name, creds = 2, None, None
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"auth" and i + 2 < len(argv):
            creds = (argv[i + 1], argv[i + 2])
            i += 3
        elif opt == b"setname" and i + 1 < len(argv):
            name = argv[i + 1]
            i += 2
        else:
            return resp.error("ERR Syntax error in HELLO option '{}'".format(
                argv[i].decode("utf-8", "replace")))
    st = state(cl)
    if creds is not None:
        r = _auth(cl, *creds)
        if r is not resp.OK:
            return r
    elif not st.authed:
        return (b"-NOAUTH HELLO must be called with the client already authenticated, otherwise "
                b"the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                b"client and select the RESP protocol version at the same time\r\n")
    if name is not None:
        st.name = name
    if ver is not None:
        cl.resp3 = ver == 3
        cl.update_mode()
    return _hello_reply(cl)


def _auth(cl, user: bytes, password: bytes) -> bytes:
    need = settings(cl.engine)["requirepass"]
    if user == b"default" and (not need or password == need):
        state(cl).authed = True
        return resp.OK
    return b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


@command("auth", -2, PUBSUB)
def cmd_auth(cl, argv):
    """``AUTH password`` or ``AUTH username password`` (only the ``default`` user exists)."""
    if len(argv) > 3:
        return SYNTAX
    if len(argv) == 2:
        if not settings(cl.engine)["requirepass"]:
            return (b"-ERR AUTH <password> called without any password configured for the "
                    b"default user. Are you sure your configuration is correct?\r\n")
        return _auth(cl, b"default", argv[1])
    return _auth(cl, argv[1], argv[2])


@command("shutdown", -1, ADMIN)
def cmd_shutdown(cl, argv):
    """SHUTDOWN [NOSAVE|SAVE]: stop the server the way SIGTERM does (only for the server
    process's own event loop; an in-process test server refuses)."""
    opts = {a.lower() for a in argv[1:]}
    if not opts <= {b"nosave", b"save", b"now", b"force"} or {b"nosave", b"save"} <= opts:
        return SYNTAX
    if threading.current_thread() is not threading.main_thread():
        return b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    if b"save" in opts:
        cl.engine.save()
    signal.raise_signal(signal.SIGTERM)
    return resp.OK


@command("time", 1)
def cmd_time(cl, argv):
    us = time.time_ns() // 1000
    return b"*2\r\n" + resp.bulk(b"%d" % (us // 1_000_000)) + resp.bulk(b"%d" % (us % 1_000_000))


@command("echo", 2)
def cmd_echo(cl, argv):
    return resp.bulk(argv[1])


@command("quit", -1, PUBSUB)
def cmd_quit(cl, argv):
    cl.close_after = True
    return resp.OK


def _command_info(name: bytes) -> bytes:
    """One command's COMMAND INFO entry (the 10 fields of Redis 7)."""
    _fn, arity, flags = COMMANDS[name]
    words = [b"write" if flags & WRITE else b"readonly"]
    if flags & PUBSUB:
        words.append(b"pubsub")
    keys = b":0\r\n:0\r\n:0\r\n" if flags & (PUBSUB | ADMIN) else b":1\r\n:1\r\n:1\r\n"
    acl = resp.array([b"@write" if flags & WRITE else b"@read"])
    # Redis 7's 10 fields: ... first/last key, step, ACL categories, tips, key specs, subcommands
    return (b"*10\r\n" + resp.bulk(name) + b":%d\r\n" % arity + resp.array(words) + keys + acl
            + resp.EMPTY_ARRAY * 3)


@command("command", -1)
def cmd_command(cl, argv):
    if len(argv) == 1:
        names = sorted(COMMANDS)
        return b"*%d\r\n" % len(names) + b"".join(_command_info(n) for n in names)
    sub = argv[1].lower()
    if sub == b"count":
        return b":%d\r\n" % len(COMMANDS)
    if sub == b"docs":
        return resp.EMPTY_ARRAY
    if sub == b"info":
        out = [b"*%d\r\n" % (len(argv) - 2)]
        for n in argv[2:]:
            out.append(_command_info(n.lower()) if n.lower() in COMMANDS else resp.NULL_ARRAY)
        return b"".join(out)
    return resp.error("ERR unknown subcommand '{}'. Try COMMAND HELP.".format(argv[1].decode("utf-8", "replace")))


@command("save", 1, ADMIN)
def cmd_save(cl, argv):
    if cl.engine.children:
        return b"-ERR Background save already in progress\r\n"
    cl.engine.save()
    return resp.OK


@command("bgsave", -1, ADMIN)
def cmd_bgsave(cl, argv):
    if not cl.engine.bgsave():
        return b"-ERR Background save already in progress\r\n"
    return resp.simple("Background saving started")


@command("bgrewriteaof", 1, ADMIN)
def cmd_bgrewriteaof(cl, argv):
    eng = cl.engine
    if eng.aof is None:
        return b"-ERR Background append only file rewriting not possible: appendonly is off\r\n"
    if not eng.bgrewriteaof():
        return b"-ERR Background append only file rewriting already in progress\r\n"
    return resp.simple("Background append only file rewriting started")


@command("lastsave", 1)
def cmd_lastsave(cl, argv):
    return b":%d\r\n" % cl.engine.last_save_time


@command("replicaof", 3, ADMIN)
def cmd_replicaof(cl, argv):
    eng = cl.engine
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        eng.become_master()
        return resp.OK
    port = parse_int(argv[2])
    if port is None or not 0 < port < 65536:
        return b"-ERR Invalid master port\r\n"
    eng.become_replica(argv[1].decode(), port)
    return resp.OK


alias("slaveof", COMMANDS[b"replicaof"])
