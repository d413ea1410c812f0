"""DEBUG (the subcommands that make sense for this server) and FUNCTION (no functions here).

Mirrors Redis's ``debug.c``: ``DEBUG SLEEP`` blocks the server like a slow command,
``DEBUG SET-ACTIVE-EXPIRE 0|1`` switches the cron's active expiry off and on (lazy expiry on
access keeps working), ``DEBUG OBJECT`` describes a value with its encoding as OBJECT ENCODING
reports it and its size in this server's snapshot format (``serializedlength``), ``DEBUG RELOAD`` saves a snapshot of every database and loads it back (a round trip
through the snapshot format), ``DEBUG PROTOCOL <type>`` answers one reply of each RESP type.

FUNCTION: this server has no scripting, so there is never a library to delete: ``FUNCTION
FLUSH`` answers OK and ``FUNCTION LIST`` an empty list (Redis's replies with no library loaded).
"""

from __future__ import annotations

import time

from . import resp
from .commands import ADMIN, COMMANDS, SYNTAX, command
from .settings import settings

_PROTOCOL_TYPES = "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"


def _protocol(cl, kind: bytes) -> bytes:
    r3 = cl.resp3
    if kind == b"string":
        return resp.bulk(b"Hello World")
    if kind == b"integer":
        return b":12345\r\n"
    if kind == b"double":
        return b",3.141\r\n" if r3 else resp.bulk(b"3.141")
    if kind == b"bignum":
        n = b"1234567999999999999999999999999999999"
        return b"(" + n + b"\r\n" if r3 else resp.bulk(n)
    if kind == b"null":
        return b"_\r\n" if r3 else resp.NULL
    if kind == b"array":
        return b"*3\r\n:0\r\n:1\r\n:2\r\n"
    if kind == b"set":
        return (b"~" if r3 else b"*") + b"3\r\n:0\r\n:1\r\n:2\r\n"
    if kind == b"map":
        t, f = (b"#t\r\n", b"#f\r\n") if r3 else (b":1\r\n", b":0\r\n")
        return (b"%3\r\n" if r3 else b"*6\r\n") + b":0\r\n" + f + b":1\r\n" + t + b":2\r\n" + f
    if kind == b"attrib":
        head = (b"|1\r\n" + resp.bulk(b"key-popularity") + b"*2\r\n" + resp.bulk(b"key:123")
                + b":90\r\n") if r3 else b""
        return head + resp.bulk(b"Some real reply following the attribute")
    if kind == b"push":
        if not r3:
            return b"-ERR RESP2 is not supported by this command\r\n"
        return (b">2\r\n" + resp.bulk(b"server-cpu-usage") + b":42\r\n"
                + resp.bulk(b"Some real reply following the push reply"))
    if kind in (b"true", b"false"):
        v = kind == b"true"
        return (b"#t\r\n" if v else b"#f\r\n") if r3 else (b":1\r\n" if v else b":0\r\n")
    if kind == b"verbatim":
        text = b"This is a verbatim\nstring"
        return b"=%d\r\ntxt:%s\r\n" % (len(text) + 4, text) if r3 else resp.bulk(text)
    return resp.error("ERR Wrong protocol type name. Please use one of the following: "
                      + _PROTOCOL_TYPES)


def _object(cl, key: bytes) -> bytes:
    v = cl.ks.lookup(key)
    if v is None:
        return b"-ERR no such key\r\n"
    enc = b"unknown"
    obj = COMMANDS.get(b"object")
    if obj is not None:
        r = obj[0](cl, [b"OBJECT", b"ENCODING", key])
        if r[:1] == b"$":
            enc = r.split(b"\r\n")[1]
    from . import snapshot
    size = len(snapshot.dump([(key, v, -1)])) - len(snapshot.dump([]))   # its snapshot record
    return resp.simple(b"Value at:0x%x refcount:1 encoding:%s serializedlength:%d lru:0 "
                       b"lru_seconds_idle:0" % (id(v), enc, size))


def _reload(eng) -> bytes:
    """Save every database to the snapshot file and load it back."""
    from . import snapshot
    eng.save()
    with open(eng.dump_path, "rb") as f:
        _aux, entries = snapshot.load(f.read(), eng.config.dbfilename)
    snapshot.restore_all(eng.dbs, entries)
    return resp.OK


@command("debug", -2, ADMIN)
def cmd_debug(cl, argv):
    sub = argv[1].lower()
    n = len(argv)
    if sub == b"sleep" and n == 3:
        try:
            secs = float(argv[2])
        except ValueError:
            return b"-ERR value is not a valid float\r\n"
        time.sleep(max(secs, 0.0))
        return resp.OK
    if sub == b"set-active-expire" and n == 3:
        if argv[2] not in (b"0", b"1"):
            return SYNTAX
        settings(cl.engine)["active_expire"] = argv[2] == b"1"
        return resp.OK
    if sub == b"protocol" and n == 3:
        return _protocol(cl, argv[2].lower())
    if sub == b"object" and n == 3:
        return _object(cl, argv[2])
    if sub == b"reload" and n == 2:
        return _reload(cl.engine)
    return resp.error("ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.".format(
        argv[1].decode("utf-8", "replace")))


@command("function", -2)
def cmd_function(cl, argv):
    sub = argv[1].lower()
    if sub == b"flush" and (len(argv) == 2 or (len(argv) == 3 and argv[2].lower() in (b"async", b"sync"))):
        return resp.OK
    if sub == b"list":
        return resp.EMPTY_ARRAY
    return resp.error("ERR unknown subcommand '{}'. Try FUNCTION HELP.".format(
        argv[1].decode("utf-8", "replace")))
