"""Your solutions to notebook 04's exercises. Check them with `python -m labsupport check 04`
(or `check("04.1", getdel)` in the notebook)."""

from labsupport.kv import resp  # noqa: F401 (for your code: resp.bulk, resp.NULL, ...)
from labsupport.kv.commands import WRONGTYPE  # noqa: F401
from labsupport.kv.resp import encode_command


def getdel(cl, argv):
    """04.1: ``GETDEL key``: the value of a string key (a bulk reply), which is then deleted;
    a null bulk if the key does not exist; WRONGTYPE (and nothing deleted) for a hash or a list.
    A deletion must reach the AOF and the replicas as ``DEL key``.
    Called as the dispatcher calls every handler: ``cl.ks`` is the keyspace (``lookup`` expires
    a key past its deadline and returns None, ``delete``), ``cl.engine.propagate(argv)`` records
    a write. Return the reply as RESP bytes."""
    raise NotImplementedError("04.1: look the key up, delete it, propagate DEL, reply")


def active_expire(ks, rng, sample=20, stale_pct=10):
    """04.2: one active-expiry cycle. Pick ``sample`` random keys among those with a deadline
    (``ks.expires``: key -> deadline in ms; ``ks.clock_ms()`` is now), delete those past their
    deadline with ``ks.lookup(key)`` (which expires them and tells the AOF and the replicas), and
    repeat while more than ``stale_pct`` % of the last sample was expired. Return how many keys
    were deleted. Use ``rng`` (a random.Random) for every random choice."""
    return 0   # lazy expiry only: nothing is reclaimed until someone reads the key


class Backlog:
    """04.3: the last ``size`` bytes of the replication stream. ``offset`` is the number of bytes
    ever fed; ``first_byte_offset`` the 1-based offset of the first byte held (``offset + 1`` while
    nothing is held); ``since(o)`` the bytes from offset ``o`` (the next byte a replica needs) to
    the end, or None when ``o`` is no longer (or not yet) covered: that replica needs a full
    resync."""

    def __init__(self, size):
        self.size = size
        self.data = bytearray()    # as it is, nothing is ever dropped: memory grows forever

    @property
    def offset(self):
        return len(self.data)

    @property
    def first_byte_offset(self):
        return 1

    def feed(self, data):
        self.data += data

    def since(self, o):
        return bytes(self.data[o - 1:]) if 1 <= o <= self.offset + 1 else None


def pipelined(client, commands, depth):
    """04.4: send ``commands`` (lists of bytes) ``depth`` at a time, each group in ONE
    ``client.send_raw(bytes)``, then read that group's replies with ``client.read()``; return
    every reply in order. ``encode_command(cmd)`` is one command's RESP bytes."""
    replies = []
    for cmd in commands:             # as it is: one write and one round trip per command
        client.send_raw(encode_command(cmd))
        replies.append(client.read())
    return replies
