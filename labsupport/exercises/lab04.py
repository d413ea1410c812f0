"""Exercises of notebook 04: pieces a learner writes that plug into the mini Redis.

- 04.1 a command handler, ``GETDEL key``, called with a client of a fresh :class:`Engine`
  exactly as the dispatcher calls ``cmd_get``: its reply, the keyspace after it, and what it
  propagates to the AOF and the replicas;
- 04.2 active expiry: one cycle of Redis's sampling algorithm over a :class:`Keyspace` (sample,
  delete the expired, repeat while more than ``stale_pct`` % of a sample was expired); the keys
  it leaves for two efforts are printed, never judged;
- 04.3 the replication backlog as a bounded buffer that answers "can a replica continue from
  offset ``o``?", compared with a model that keeps the whole stream and with the package's own
  :class:`~labsupport.kv.replication.MasterState`;
- 04.4 a pipelining client over a real server: ``depth`` commands per write, replies in order;
  requests per second by depth are printed, never judged.
"""

from __future__ import annotations

import random
import time

from ..kv import Config, Engine, ServerThread
from ..kv.aof import read_commands
from ..kv.launch import RawClient
from ..kv.replication import MasterState
from ..kv.resp import encode_command
from . import Case, Property, exercise

# ---------------------------------------------------------------- 04.1 GETDEL


def _stream(eng: Engine, cl) -> list[list[bytes]]:
    """The commands the handler sent to the replication stream (and so to the AOF), without
    the SELECTs that say which database they apply to."""
    eng.flush_propagation(cl)
    commands, _ = read_commands(bytes(eng.master.backlog), "the replication stream")
    return [c for c in commands if c[0].upper() != b"SELECT"]


def _getdel_run(handler, setup: list[list[bytes]], argv: list[bytes], later_ms: int = 0):
    now = [1_000_000]
    eng = Engine(clock_ms=lambda: now[0])
    for cmd in setup:
        eng.apply(cmd)
    eng.flush_expired()                       # (no AOF, no replicas yet: drops the setup)
    now[0] += later_ms
    eng.master.backlog = bytearray()          # record the stream from here on
    cl = eng.new_client(lambda data: None)
    reply = handler(cl, argv)
    return reply, sorted(eng.ks.data), _stream(eng, cl)


@exercise("04.1", "GETDEL: a command handler plugged into the engine", attr="getdel")
def check_getdel(getdel):
    wrongtype = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    dels = [[b"DEL", b"k"]]
    run = lambda setup, argv, later=0: lambda: _getdel_run(getdel, setup, argv, later)  # noqa: E731
    return [
        Case("a string is returned and deleted, DEL propagated",
             run([[b"SET", b"k", b"hello"], [b"SET", b"o", b"x"]], [b"GETDEL", b"k"]),
             (b"$5\r\nhello\r\n", [b"o"], dels), "SET k hello; GETDEL k"),
        Case("a missing key is a null bulk, nothing propagated",
             run([[b"SET", b"o", b"x"]], [b"GETDEL", b"k"]), (b"$-1\r\n", [b"o"], []),
             "GETDEL k (no such key)"),
        Case("a hash is WRONGTYPE and stays",
             run([[b"HSET", b"k", b"f", b"v"]], [b"GETDEL", b"k"]), (wrongtype, [b"k"], []),
             "HSET k f v; GETDEL k"),
        Case("an empty string is still a value",
             run([[b"SET", b"k", b""]], [b"GETDEL", b"k"]), (b"$0\r\n\r\n", [], dels),
             "SET k ''; GETDEL k"),
        Case("a key past its deadline is gone (null), only the expiry's DEL is sent",
             run([[b"SET", b"k", b"v", b"PX", b"100"]], [b"GETDEL", b"k"], 200),
             (b"$-1\r\n", [], dels), "SET k v PX 100; 200 ms later GETDEL k"),
        Case("binary-safe values",
             run([[b"SET", b"k", b"\r\n\x00$"]], [b"GETDEL", b"k"]),
             (b"$4\r\n\r\n\x00$\r\n", [], dels), "SET k '\\r\\n\\x00$'; GETDEL k"),
    ]


# ---------------------------------------------------------------- 04.2 active expiry

NOW_MS = 1_700_000_000_000


def _keyspace(n_volatile: int, expired_share: float, persistent: int, seed: int):
    """An engine whose keyspace has ``n_volatile`` keys with deadlines, a share of them past."""
    rng = random.Random(seed)
    now = [NOW_MS]
    eng = Engine(clock_ms=lambda: now[0])
    past, future = [], []
    for i in range(n_volatile):
        key = b"s:%d" % i
        gone = rng.random() < expired_share
        eng.apply([b"SET", key, b"v", b"PX", b"5" if gone else b"1000000"])
        (past if gone else future).append(key)
    for i in range(persistent):
        eng.apply([b"SET", b"p:%d" % i, b"v"])
    eng.flush_expired()                       # (no AOF, no replicas yet: drops the setup)
    now[0] += 10                              # the "past" keys' deadlines have passed
    return eng, set(past), set(future)


def _cycle(fn, eng, seed: int, sample: int = 20, stale_pct: int = 10):
    before = set(eng.ks.data)
    eng.master.backlog = bytearray()
    n = fn(eng.ks, random.Random(seed), sample=sample, stale_pct=stale_pct)
    eng.flush_expired()
    deleted = before - set(eng.ks.data)
    dels = bytes(eng.master.backlog).count(b"$3\r\nDEL\r\n")
    return n, deleted, dels


@exercise("04.2", "active expiry: sample, delete, repeat while stale", attr="active_expire")
def check_active_expire(active_expire):
    def only_expired(seed):
        eng, past, _future = _keyspace(300, random.Random(seed).random(), 50, seed)
        n, deleted, dels = _cycle(active_expire, eng, seed)
        return deleted <= past, n == len(deleted) == dels

    def all_stale():
        eng, past, _ = _keyspace(500, 1.0, 100, 1)
        n, deleted, _ = _cycle(active_expire, eng, 1)
        return n, deleted == past, len(eng.ks)

    def none_stale():
        eng, _, _ = _keyspace(500, 0.0, 100, 2)
        return _cycle(active_expire, eng, 2)[0], len(eng.ks)

    def effort():
        held = {}
        for pct in (25, 1):
            eng, _, _ = _keyspace(5000, 0.5, 0, 3)
            _cycle(active_expire, eng, 3, stale_pct=pct)
            held[pct] = len(eng.ks)
        print(f"    keys held after one cycle, 2500 of 5000 expired (printed, not judged): "
              f"stale_pct 25 -> {held[25]}, stale_pct 1 -> {held[1]}")
        return held[1] <= held[25]

    return [
        Property("deletes only expired keys; returns and propagates what it deleted",
                 lambda: range(30), only_expired, lambda _seed: (True, True),
                 show=lambda s: f"seed {s}: 300 keys with deadlines, a random share past"),
        Case("when every sample is all expired it goes on until none is left", all_stale,
             (500, True, 100), "500 expired keys with deadlines, 100 without"),
        Case("when nothing is expired it deletes nothing", none_stale, (0, 600),
             "500 live keys with deadlines, 100 without"),
        Case("a lower stale_pct works harder (leaves no more keys)", effort, True,
             "5000 keys with deadlines, half expired; stale_pct 25 then 1"),
    ]


# ---------------------------------------------------------------- 04.3 the backlog


def _model_since(stream: bytes, size: int, want: int) -> bytes | None:
    """Everything ever fed is kept; the last ``size`` bytes are "held"."""
    first = max(1, len(stream) - size + 1)
    if first <= want <= len(stream) + 1:
        return stream[want - 1:]
    return None


def _backlog_run(cls, size: int, feeds: list[bytes], queries: list[int]):
    b = cls(size)
    for data in feeds:
        b.feed(data)
    return b.offset, b.first_byte_offset, [b.since(q) for q in queries]


def _backlog_model(size: int, feeds: list[bytes], queries: list[int]):
    stream = b"".join(feeds)
    first = max(1, len(stream) - size + 1)
    return len(stream), first, [_model_since(stream, size, q) for q in queries]


def _master_state(size: int, feeds: list[bytes]):
    m = MasterState(size)
    m.backlog = bytearray()
    m.first_byte_offset = 1
    for data in feeds:
        m.feed(data)
    return m.offset, m.first_byte_offset, bytes(m.backlog)


@exercise("04.3", "the replication backlog: a bounded buffer of the stream", attr="Backlog")
def check_backlog(Backlog):
    def inputs():
        rng = random.Random(43)
        for _ in range(300):
            size = rng.randint(1, 24)
            feeds = [bytes(rng.choice(b"abcdefgh") for _ in range(rng.randint(0, 12)))
                     for _ in range(rng.randint(0, 6))]
            total = sum(map(len, feeds))
            queries = [rng.randint(0, total + 3) for _ in range(6)] + [1, total + 1]
            yield size, feeds, queries

    sets = [encode_command([b"SET", b"k%d" % i, b"v" * 20]) for i in range(200)]

    def scenario():
        b = Backlog(1024)
        b.feed(sets[0])
        replica_at = b.offset + 1                     # the replica then stops
        for cmd in sets[1:]:
            b.feed(cmd)
        recent = b.offset - len(sets[-1]) + 1
        return b.since(replica_at) is None, b.since(recent) == sets[-1]

    def like_master_state():
        feeds = sets[:60]
        b = Backlog(1024)
        for data in feeds:
            b.feed(data)
        return b.offset, b.first_byte_offset, b.since(b.first_byte_offset)

    return [
        Case("empty: offset 0, the replica may continue from byte 1", lambda: _backlog_run(
            Backlog, 16, [], [1, 2]), (0, 1, [b"", None]), "Backlog(16), nothing fed"),
        Property("holds the last size bytes, answers since(o) like the whole stream would",
                 inputs, lambda x: _backlog_run(Backlog, *x), lambda x: _backlog_model(*x),
                 show=lambda x: f"size={x[0]} feeds={x[1]!r} queries={x[2]}"),
        Case("1 KB backlog, 200 SETs missed: full resync; the last one: partial", scenario,
             (True, True), "Backlog(1024); a replica stops after the first of 200 SETs"),
        Case("the same offsets and bytes as the server's own backlog", like_master_state,
             _master_state(1024, sets[:60]), "60 SETs into Backlog(1024) and MasterState(1024)"),
    ]


# ---------------------------------------------------------------- 04.4 pipelining


class _CountingClient:
    """A :class:`RawClient` that counts the writes it is asked to make."""

    def __init__(self, client: RawClient) -> None:
        self._client = client
        self.writes = 0

    def send_raw(self, data: bytes) -> None:
        self.writes += 1
        self._client.send_raw(data)

    def read(self):
        return self._client.read()


def _workload(n: int) -> list[list[bytes]]:
    cmds = []
    for i in range(n):
        cmds.append([b"SET", b"k%d" % (i % 7), b"%d" % i] if i % 3 == 0 else
                    [b"INCR", b"n"] if i % 3 == 1 else [b"GET", b"k%d" % (i % 7)])
    return cmds


@exercise("04.4", "a pipelining client: depth commands per write", attr="pipelined")
def check_pipelined(pipelined):
    import tempfile

    tmp = tempfile.TemporaryDirectory(prefix="kv-ex044-")
    srv = ServerThread(Config(port=0, dir=tmp.name)).start()

    def sequential(cmds):
        with RawClient(srv.port) as c:
            c.call(b"FLUSHDB")
            return [c.call(*cmd) for cmd in cmds]

    def run(cmds, depth):
        with RawClient(srv.port) as raw:
            raw.call(b"FLUSHDB")
            c = _CountingClient(raw)
            replies = pipelined(c, cmds, depth)
            return replies, c.writes

    def rates():
        shown = []
        try:
            for depth in (1, 4, 16, 64):
                cmds = [[b"GET", b"k"]] * 2048
                with RawClient(srv.port) as raw:
                    t0 = time.perf_counter()
                    pipelined(_CountingClient(raw), cmds, depth)
                    rate = len(cmds) / (time.perf_counter() - t0)
                shown.append(f"depth {depth}: {rate:,.0f}/s")
        finally:                               # the last case: the server is not needed after
            srv.stop()
            tmp.cleanup()
        print("    requests/s over loopback (printed, not judged): " + ", ".join(shown))
        return True

    work = _workload(100)
    want = sequential(work)
    return [
        Case("depth 1: one write per command, replies in order", lambda: run(work, 1),
             (want, 100), "100 mixed SET/INCR/GET, depth 1"),
        Case("depth 16: ceil(100/16) = 7 writes, the same replies", lambda: run(work, 16),
             (want, 7), "100 mixed SET/INCR/GET, depth 16"),
        Case("depth above the count: one write", lambda: run(work[:10], 64),
             (want[:10], 1), "10 commands, depth 64"),
        Case("no commands: no write, no reply", lambda: run([], 8), ([], 0), "[] depth 8"),
        Case("requests per second by depth", rates, True, "2048 GETs at depths 1, 4, 16, 64"),
    ]
