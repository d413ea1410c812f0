"""Key-level commands on any type: RENAME RENAMENX COPY MOVE RANDOMKEY TOUCH UNLINK EXPIRETIME
PEXPIRETIME OBJECT MEMORY.

Mirrors Redis's ``db.c`` (rename, copy, move, randomkey), ``expire.c`` and ``object.c``.

OBJECT ENCODING names this server's own representation of a value, in Redis's vocabulary,
rather than what Redis would pick: a string is a CPython ``bytes`` (header and bytes in one
allocation, which is Redis's ``embstr`` layout), a hash and a set are hash tables
(``hashtable``), a list is a ``deque`` of fixed-size blocks (``quicklist``), a sorted set is a
skip list plus a dict (``skiplist``). There are no compact small encodings (``listpack``,
``intset``, ``int``). OBJECT REFCOUNT is CPython's reference count of the value (minus the
references of this call). Access times and frequencies are not tracked (no eviction policy
needs them here), so OBJECT IDLETIME and OBJECT FREQ answer with an error, as Redis does for
the one a configured policy does not track. MEMORY USAGE is the deep ``sys.getsizeof`` of the
key and value.
"""

from __future__ import annotations

import sys
from collections import deque

from . import resp
from .commands import NOT_INT, SYNTAX, WRITE, command, parse_int
from .skiplist import ZSet

NO_SUCH_KEY = b"-ERR no such key\r\n"
SAME_OBJECT = b"-ERR source and destination objects are the same\r\n"
DB_RANGE = b"-ERR DB index is out of range\r\n"


def copy_value(v):
    """An independent copy of a stored value (bytes are immutable and shared)."""
    t = type(v)
    if t is bytes:
        return v
    if t is dict:
        return dict(v)
    if t is deque:
        return deque(v)
    if t is set:
        return set(v)
    z = ZSet()
    for m, s in v.items():
        z.add(m, s)
    return z


def _rename(cl, argv, nx: bool):
    ks = cl.ks
    src, dst = argv[1], argv[2]
    v = ks.lookup(src)
    if v is None:
        return NO_SUCH_KEY
    if src == dst:
        return b":0\r\n" if nx else resp.OK
    if nx and ks.lookup(dst) is not None:
        return b":0\r\n"
    deadline = ks.expires.get(src)
    ks.delete(src)
    ks.delete(dst)
    ks.set(dst, v)
    if deadline is not None:
        ks.set_deadline(dst, deadline)
    cl.engine.propagate(argv)
    return b":1\r\n" if nx else resp.OK


@command("rename", 3, WRITE)
def cmd_rename(cl, argv):
    return _rename(cl, argv, False)


@command("renamenx", 3, WRITE)
def cmd_renamenx(cl, argv):
    return _rename(cl, argv, True)


def _db(cl, arg: bytes):
    n = parse_int(arg)
    if n is None:
        return None, NOT_INT
    dbs = getattr(cl.engine, "dbs", [cl.engine.ks])
    if not 0 <= n < len(dbs):
        return None, DB_RANGE
    return dbs[n], None


@command("copy", -3, WRITE)
def cmd_copy(cl, argv):
    target = cl.ks
    replace = False
    i = 3
    while i < len(argv):
        o = argv[i].upper()
        if o == b"REPLACE":
            replace = True
        elif o == b"DB" and i + 1 < len(argv):
            target, err = _db(cl, argv[i + 1])
            if err:
                return err
            i += 1
        else:
            return SYNTAX
        i += 1
    src, dst = argv[1], argv[2]
    if target is cl.ks and src == dst:
        return SAME_OBJECT
    v = cl.ks.lookup(src)
    if v is None:
        return b":0\r\n"
    if target.lookup(dst) is not None:
        if not replace:
            return b":0\r\n"
        target.delete(dst)
    target.set(dst, copy_value(v))
    deadline = cl.ks.expires.get(src)
    if deadline is not None:
        target.set_deadline(dst, deadline)
    cl.engine.propagate(argv)
    return b":1\r\n"


@command("move", 3, WRITE)
def cmd_move(cl, argv):
    target, err = _db(cl, argv[2])
    if err:
        return b"-ERR index out of range\r\n" if err is DB_RANGE else err
    if target is cl.ks:
        return SAME_OBJECT
    key = argv[1]
    v = cl.ks.lookup(key)
    if v is None or target.lookup(key) is not None:
        return b":0\r\n"
    deadline = cl.ks.expires.get(key)
    cl.ks.delete(key)
    target.set(key, v)
    if deadline is not None:
        target.set_deadline(key, deadline)
    cl.engine.propagate(argv)
    return b":1\r\n"


@command("randomkey", 1)
def cmd_randomkey(cl, argv):
    ks = cl.ks
    rng = ks.rng
    for _ in range(100):   # a few draws: a drawn key may turn out to be past its deadline
        if not ks.data:
            return resp.NULL
        k = rng.choice(tuple(ks.data))
        if ks.lookup(k) is not None:
            return resp.bulk(k)
    return resp.NULL


@command("touch", -2)
def cmd_touch(cl, argv):
    lookup = cl.ks.lookup
    return b":%d\r\n" % sum(1 for k in argv[1:] if lookup(k) is not None)


@command("unlink", -2, WRITE)
def cmd_unlink(cl, argv):
    ks = cl.ks
    n = sum(1 for k in argv[1:] if ks.delete(k))
    if n:
        cl.engine.propagate([b"DEL", *argv[1:]])
    return b":%d\r\n" % n


def _expiretime(cl, key: bytes, unit: int):
    ks = cl.ks
    if ks.lookup(key) is None:
        return b":-2\r\n"
    when = ks.expires.get(key)
    return b":-1\r\n" if when is None else b":%d\r\n" % (when // unit)


@command("expiretime", 2)
def cmd_expiretime(cl, argv):
    return _expiretime(cl, argv[1], 1000)


@command("pexpiretime", 2)
def cmd_pexpiretime(cl, argv):
    return _expiretime(cl, argv[1], 1)


def encoding(v) -> bytes:
    """This server's representation of a value, in Redis's names (module docstring)."""
    t = type(v)
    if t is bytes:
        return b"embstr"
    if t is deque:
        return b"quicklist"
    if t is ZSet:
        return b"skiplist"
    return b"hashtable"


_OBJECT_HELP = [
    b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"ENCODING <key>",
    b"    Return the kind of internal representation used in order to store the value",
    b"    associated with a <key>.",
    b"FREQ <key>",
    b"    Return the access frequency index of the <key>. The returned integer is",
    b"    proportional to the logarithm of the recent access frequency of the key.",
    b"IDLETIME <key>",
    b"    Return the idle time of the <key>, that is the approximated number of",
    b"    seconds elapsed since the last access to the key.",
    b"REFCOUNT <key>",
    b"    Return the number of references of the value associated with the specified",
    b"    <key>.",
    b"HELP",
    b"    Print this help.",
]


@command("object", -2)
def cmd_object(cl, argv):
    sub = argv[1].upper()
    if sub == b"HELP" and len(argv) == 2:
        return b"*%d\r\n" % len(_OBJECT_HELP) + b"".join(b"+%s\r\n" % line for line in _OBJECT_HELP)
    if sub not in (b"ENCODING", b"REFCOUNT", b"IDLETIME", b"FREQ"):
        return resp.error("ERR unknown subcommand '{}'. Try OBJECT HELP.".format(
            argv[1].decode("utf-8", "replace")))
    if len(argv) != 3:
        return resp.error("ERR unknown subcommand or wrong number of arguments for '{}'. Try "
                          "OBJECT HELP.".format(argv[1].decode("utf-8", "replace")))
    v = cl.ks.lookup(argv[2])
    if v is None:
        return resp.NULL
    if sub == b"ENCODING":
        return resp.bulk(encoding(v))
    if sub == b"REFCOUNT":
        return b":%d\r\n" % max(sys.getrefcount(v) - 2, 1)
    if sub == b"IDLETIME":
        return (b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
                b"that when switching between policies at runtime LRU and LFU data will take "
                b"some time to adjust.\r\n")
    return (b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
            b"Please note that when switching between policies at runtime LRU and LFU data "
            b"will take some time to adjust.\r\n")


def deep_size(key: bytes, v) -> int:
    """Bytes held by a key and its value (CPython objects, containers included)."""
    n = sys.getsizeof(key) + sys.getsizeof(v)
    t = type(v)
    if t is dict:
        n += sum(sys.getsizeof(f) + sys.getsizeof(x) for f, x in v.items())
    elif t is deque or t is set:
        n += sum(map(sys.getsizeof, v))
    elif t is ZSet:
        n += sys.getsizeof(v.scores) + sum(sys.getsizeof(m) + 24 for m in v.scores)
        n += sum(sys.getsizeof(node) + 2 * sys.getsizeof(node.forward) for node in v.sl)
    return n


@command("memory", -2)
def cmd_memory(cl, argv):
    sub = argv[1].upper()
    if sub == b"USAGE" and len(argv) in (3, 5):
        if len(argv) == 5 and (argv[3].upper() != b"SAMPLES" or parse_int(argv[4]) is None):
            return SYNTAX
        v = cl.ks.lookup(argv[2])
        return resp.NULL if v is None else b":%d\r\n" % deep_size(argv[2], v)
    return resp.error("ERR unknown subcommand or wrong number of arguments for '{}'. Try "
                      "MEMORY HELP.".format(argv[1].decode("utf-8", "replace")))
