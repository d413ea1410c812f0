"""Keyspace notifications: ``__keyspace@<db>__:<key>`` and ``__keyevent@<db>__:<event>`` messages.

Mirrors Redis's ``notify.c`` (``notifyKeyspaceEvent``, the ``notify-keyspace-events`` flag
string) and the event names its commands raise (``t_string.c``, ``t_list.c``, ``db.c``...).

Theory of operation
-------------------
``CONFIG SET notify-keyspace-events KEA`` sets a bit mask (:func:`parse_flags`); zero, the
default, costs one truth test per write. Redis raises an event inside each command; here the
events are derived from what the command *propagated*: a write handler calls
``engine.propagate(argv)`` only when it changed the dataset, with the command that replays the
change, so ``SREM myset x`` on a missing member raises nothing, exactly as in Redis. The table
:data:`EVENTS` maps a propagated command to its class (``$ l s h z g``), its event name and the
positions of its keys; expiry raises ``expired`` from the keyspace's expiry hook.

The ``new`` event (a key created) needs the state *before* the command: while the ``n`` class is
on, every client goes through the engine's slow path and each write runs wrapped by
:func:`tracking_new`, which notes which of the command's keys did not exist and raises ``new``
for those that exist afterwards. Derived events differ from Redis's in a few places, kept
small: the ``del`` raised when a collection's last element goes is not derived, and a command
propagated in another form raises that form's event.
"""

from __future__ import annotations

GENERIC, STRING, LIST, SET, HASH, ZSET, EXPIRED, EVICTED, STREAM, MODULE, NEW = (
    1 << i for i in range(11))
KEYSPACE, KEYEVENT, KEY_MISS = 1 << 11, 1 << 12, 1 << 13
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE

_CHARS = [("g", GENERIC), ("$", STRING), ("l", LIST), ("s", SET), ("h", HASH), ("z", ZSET),
          ("x", EXPIRED), ("e", EVICTED), ("t", STREAM), ("d", MODULE), ("n", NEW)]
_BY_CHAR = dict(_CHARS) | {"A": ALL, "K": KEYSPACE, "E": KEYEVENT, "m": KEY_MISS}


def parse_flags(text: str) -> int | None:
    """The mask for a ``notify-keyspace-events`` string, None if a character is unknown."""
    flags = 0
    for ch in text:
        f = _BY_CHAR.get(ch)
        if f is None:
            return None
        flags |= f
    return flags


def flags_to_string(flags: int) -> str:
    """Redis's canonical spelling of a mask (``A`` for all classes, then ``K``, ``E``, ``m``)."""
    if flags & ALL == ALL:
        out = "A" + ("n" if flags & NEW else "")
    else:
        out = "".join(ch for ch, f in _CHARS if flags & f)
    return out + "".join(ch for ch, f in (("K", KEYSPACE), ("E", KEYEVENT), ("m", KEY_MISS))
                         if flags & f)


def _first(argv):
    return argv[1:2]


def _all(argv):
    return argv[1:]


def _pairs(argv):
    return argv[1::2]


# propagated command -> [(class, event, key selector)]
EVENTS: dict[bytes, list] = {}


def _ev(names: str, cls: int, event: str | None = None, keys=_first) -> None:
    for name in names.split():
        EVENTS.setdefault(name.encode(), []).append((cls, (event or name).encode(), keys))


_ev("set setnx setex psetex getset getdel getex", STRING, "set")
_ev("append setrange incrby decrby incrbyfloat", STRING)
_ev("incr", STRING, "incrby")
_ev("decr", STRING, "decrby")
_ev("mset msetnx", STRING, "set", _pairs)
_ev("del unlink", GENERIC, "del", _all)
_ev("expire pexpire expireat pexpireat", GENERIC, "expire")
_ev("persist", GENERIC)
_ev("rename renamenx", GENERIC, "rename_from")
_ev("rename renamenx", GENERIC, "rename_to", lambda a: a[2:3])
_ev("lpush lpushx", LIST, "lpush")
_ev("rpush rpushx", LIST, "rpush")
_ev("lpop rpop linsert lset ltrim lrem", LIST)
_ev("sadd srem spop sinterstore sunionstore sdiffstore", SET)
_ev("smove", SET, "srem")
_ev("smove", SET, "sadd", lambda a: a[2:3])
_ev("hset hmset hsetnx", HASH, "hset")
_ev("hdel hincrby hincrbyfloat", HASH)
_ev("zadd zrem zremrangebyscore zremrangebyrank zremrangebylex zpopmin zpopmax zincrby "
    "zunionstore zinterstore zdiffstore zrangestore", ZSET)


def _lmove(argv):
    """LMOVE src dst LEFT|RIGHT LEFT|RIGHT: a pop from src, a push on dst."""
    where_from = argv[3].lower() if len(argv) > 4 else b"right"
    where_to = argv[4].lower() if len(argv) > 4 else b"left"
    return [(LIST, b"lpop" if where_from == b"left" else b"rpop", argv[1]),
            (LIST, b"lpush" if where_to == b"left" else b"rpush", argv[2])]


_SPECIAL = {b"lmove": _lmove, b"rpoplpush": _lmove}


def events_of(argv) -> list[tuple[int, bytes, bytes]]:
    """(class, event, key) for one propagated command."""
    name = argv[0].lower()
    special = _SPECIAL.get(name)
    if special is not None:
        return special(argv)
    out = []
    for cls, event, keys in EVENTS.get(name, ()):
        out += [(cls, event, k) for k in keys(argv)]
    timed = name in (b"setex", b"psetex") or (
        name == b"set" and any(a.lower() in (b"ex", b"px", b"exat", b"pxat") for a in argv[3:]))
    if timed:
        out.append((GENERIC, b"expire", argv[1]))
    return out


def notify(registry, flags: int, db: int, cls: int, event: bytes, key: bytes) -> None:
    """Publish one event on the channels ``flags`` enables (``registry``: the pub/sub one)."""
    if not flags & cls:
        return
    if flags & KEYSPACE:
        registry.publish(b"__keyspace@%d__:%s" % (db, key), event)
    if flags & KEYEVENT:
        registry.publish(b"__keyevent@%d__:%s" % (db, event), key)


def notify_propagated(registry, flags: int, db: int, argv) -> None:
    for cls, event, key in events_of(argv):
        notify(registry, flags, db, cls, event, key)


def tracking_new(fn):
    """Wrap a write handler so that keys it creates raise the ``new`` event."""
    def call(cl, argv):
        from .multi import keys_of
        data = cl.ks.data
        absent = [k for k in keys_of(argv) if k not in data]
        r = fn(cl, argv)
        eng = cl.engine
        for k in absent:
            if k in data:
                notify(eng.pubsub, eng.hooks, cl.db, NEW, b"new", k)
        return r
    return call
