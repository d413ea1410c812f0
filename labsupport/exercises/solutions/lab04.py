"""Reference solutions of notebook 04's exercises (CI checks that each passes its check)."""

from labsupport.kv import resp
from labsupport.kv.commands import WRONGTYPE
from labsupport.kv.resp import encode_command


def getdel(cl, argv):
    ks = cl.ks
    key = argv[1]
    value = ks.lookup(key)
    if value is None:
        return resp.NULL
    if type(value) is not bytes:
        return WRONGTYPE
    ks.delete(key)
    cl.engine.propagate([b"DEL", key])
    return resp.bulk(value)


def active_expire(ks, rng, sample=20, stale_pct=10):
    now = ks.clock_ms()
    total = 0
    while ks.expires:
        volatile = list(ks.expires)
        n = min(sample, len(volatile))
        expired = 0
        for key in rng.sample(volatile, n):
            if ks.expires[key] <= now:
                ks.lookup(key)             # expires it: the DEL goes to the AOF and replicas
                expired += 1
        total += expired
        if expired * 100 <= n * stale_pct:
            break
    return total


class Backlog:
    def __init__(self, size):
        self.size = size
        self.buf = bytearray()
        self.offset = 0

    @property
    def first_byte_offset(self):
        return self.offset - len(self.buf) + 1

    def feed(self, data):
        self.buf += data
        self.offset += len(data)
        extra = len(self.buf) - self.size
        if extra > 0:
            del self.buf[:extra]

    def since(self, o):
        first = self.first_byte_offset
        if first <= o <= self.offset + 1:
            return bytes(self.buf[o - first:])
        return None


def pipelined(client, commands, depth):
    replies = []
    for i in range(0, len(commands), depth):
        group = commands[i:i + depth]
        client.send_raw(b"".join(map(encode_command, group)))
        replies += [client.read() for _ in group]
    return replies
