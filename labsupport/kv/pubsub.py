"""Publish/subscribe: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB.

Mirrors Redis's ``pubsub.c`` (RESP2 form). Fire and forget: a message goes to whoever is
subscribed at the moment of PUBLISH, written straight into each subscriber's connection; there is
no storage. ``Registry.channels`` maps a channel to the set of subscribed clients and
``Registry.patterns`` a glob pattern to its clients; each client also knows its own channels and
patterns (``client.subs``, ``client.psubs``) so a disconnect unsubscribes in O(own subscriptions).
While a client has any subscription it is in *subscribed mode*: only these commands, PING and
QUIT are accepted, as in Redis with RESP2.
"""

from __future__ import annotations

from . import glob, resp
from .commands import PUBSUB, command


class Registry:
    """Who listens to what."""

    def __init__(self) -> None:
        self.channels: dict[bytes, set] = {}
        self.patterns: dict[bytes, set] = {}

    def publish(self, channel: bytes, message: bytes) -> int:
        n = 0
        subs = self.channels.get(channel)
        if subs:
            frame = b"*3\r\n$7\r\nmessage\r\n" + resp.bulk(channel) + resp.bulk(message)
            for cl in subs:
                cl.push(b">" + frame[1:] if cl.resp3 else frame)   # RESP3: a push frame
                n += 1
        for pattern, clients in self.patterns.items():
            if glob.compile(pattern).fullmatch(channel):   # cached; polynomial
                frame = (b"*4\r\n$8\r\npmessage\r\n" + resp.bulk(pattern) + resp.bulk(channel)
                         + resp.bulk(message))
                for cl in clients:
                    cl.push(b">" + frame[1:] if cl.resp3 else frame)
                    n += 1
        return n

    def drop_client(self, cl) -> None:
        for ch in cl.subs:
            self._remove(self.channels, ch, cl)
        for p in cl.psubs:
            self._remove(self.patterns, p, cl)
        cl.subs.clear()
        cl.psubs.clear()

    @staticmethod
    def _remove(table: dict, name: bytes, cl) -> None:
        s = table.get(name)
        if s is not None:
            s.discard(cl)
            if not s:
                del table[name]


def _count(cl) -> int:
    return len(cl.subs) + len(cl.psubs)


def _frame(kind: bytes, name: bytes | None, count: int, push: bool = False) -> bytes:
    """A (un)subscribe confirmation; for a RESP3 client (``push``) a push frame."""
    return (b">3\r\n" if push else b"*3\r\n") + resp.bulk(kind) + resp.bulk(name) + b":%d\r\n" % count


@command("publish", 3, PUBSUB)
def cmd_publish(cl, argv):
    return b":%d\r\n" % cl.engine.pubsub.publish(argv[1], argv[2])


def _subscribe(cl, names, mine: set, table: dict, kind: bytes) -> bytes:
    """Add ``cl`` to each channel (or pattern) of ``names``; one confirmation frame per name."""
    out = []
    for name in names:
        if name not in mine:
            mine.add(name)
            table.setdefault(name, set()).add(cl)
        out.append(_frame(kind, name, _count(cl), cl.resp3))
    cl.update_mode()
    return b"".join(out)


@command("subscribe", -2, PUBSUB)
def cmd_subscribe(cl, argv):
    return _subscribe(cl, argv[1:], cl.subs, cl.engine.pubsub.channels, b"subscribe")


@command("psubscribe", -2, PUBSUB)
def cmd_psubscribe(cl, argv):
    return _subscribe(cl, argv[1:], cl.psubs, cl.engine.pubsub.patterns, b"psubscribe")


def _unsub(cl, argv, mine: set, table: dict, kind: bytes) -> bytes:
    names = argv[1:] or sorted(mine)
    if not names:
        return _frame(kind, None, _count(cl), cl.resp3)
    out = []
    for name in names:
        if name in mine:
            mine.discard(name)
            Registry._remove(table, name, cl)
        out.append(_frame(kind, name, _count(cl), cl.resp3))
    cl.update_mode()
    return b"".join(out)


@command("unsubscribe", -1, PUBSUB)
def cmd_unsubscribe(cl, argv):
    return _unsub(cl, argv, cl.subs, cl.engine.pubsub.channels, b"unsubscribe")


@command("punsubscribe", -1, PUBSUB)
def cmd_punsubscribe(cl, argv):
    return _unsub(cl, argv, cl.psubs, cl.engine.pubsub.patterns, b"punsubscribe")


@command("pubsub", -2, PUBSUB)
def cmd_pubsub(cl, argv):
    """PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT (introspection)."""
    reg = cl.engine.pubsub
    sub = argv[1].lower()
    if sub == b"channels" and len(argv) <= 3:
        names = sorted(reg.channels)
        if len(argv) == 3:
            rx = glob.compile(argv[2])
            names = [c for c in names if rx.fullmatch(c)]
        return resp.array(names)
    if sub == b"numsub":
        out = [b"*%d\r\n" % (2 * (len(argv) - 2))]
        for ch in argv[2:]:
            out.append(resp.bulk(ch) + b":%d\r\n" % len(reg.channels.get(ch, ())))
        return b"".join(out)
    if sub == b"numpat" and len(argv) == 2:
        return b":%d\r\n" % len(reg.patterns)
    return resp.error("ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.".format(
        argv[1].decode("utf-8", "replace")))
