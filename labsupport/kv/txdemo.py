"""Two small, deterministic experiments on the engine (no sockets): who a blocking pop serves,
and what WATCH buys a read-modify-write under contention.

Used by the notebook's Build section. Both drive :class:`~.engine.Engine` clients directly,
with a fake monotonic clock for timeouts and a seeded RNG for the interleaving, so every run
prints the same table.

* :func:`fairness` blocks several clients on one list in a known order, pushes fewer items
  than there are waiters, lets a deadline pass, and records who was served what and when:
  first blocked, first served (Redis's FIFO per key); the rest keep waiting or time out.
* :func:`lost_updates` lets clients increment one counter by read-modify-write (``GET``, then
  ``SET value+1``), their commands interleaved at random, once naively and once with
  ``WATCH``/``MULTI``/``EXEC`` and a retry on a null EXEC (optimistic concurrency): the naive
  counter loses updates, the watched one never does and pays in retries instead.
"""

from __future__ import annotations

import random

import pandas as pd

from .engine import Engine
from .resp import NEED_DATA, ReplyParser


class _Conn:
    """An engine client that decodes what it is sent."""

    def __init__(self, eng: Engine, name: str) -> None:
        self.name = name
        self.eng = eng
        self._parser = ReplyParser()
        self.cl = eng.new_client(self._parser.feed)
        self.retries = 0

    def send(self, *args) -> None:
        self.eng.run_batch(self.cl, [[str(a).encode() for a in args]])

    def replies(self) -> list:
        out = []
        while True:
            r = self._parser.next_reply()
            if r is NEED_DATA:
                return out
            out.append(r)


def fairness(waiters: int = 4, pushes: tuple[int, ...] = (2, 1), timeout_s: float = 5.0) -> pd.DataFrame:
    """Block ``waiters`` clients on one list (in order), push ``pushes`` items in rounds one
    second apart, then let the timeout pass; one row per client: what it got, and when."""
    now = [0.0]
    eng = Engine(monotonic=lambda: now[0])
    clients = [_Conn(eng, f"client-{i + 1}") for i in range(waiters)]
    for i, c in enumerate(clients):
        now[0] = i * 0.01                 # blocked in this order
        c.send("BLPOP", "orders", timeout_s)
    pusher = _Conn(eng, "pusher")
    got: dict[str, tuple] = {}
    item = 0
    for rnd, n in enumerate(pushes, start=1):
        now[0] = float(rnd)
        pusher.send("RPUSH", "orders", *[f"order-{item + k + 1}" for k in range(n)])
        item += n
        for c in clients:
            for r in c.replies():
                got[c.name] = (r[1].decode(), now[0])
    now[0] = timeout_s + 0.5
    eng.cron()
    for c in clients:
        for r in c.replies():
            got[c.name] = ("timed out (nil)" if r is None else r[1].decode(), now[0])
    return pd.DataFrame([{"client": c.name, "blocked at s": i * 0.01,
                          "served": got.get(c.name, ("still waiting", None))[0],
                          "at s": got.get(c.name, (None, None))[1]}
                         for i, c in enumerate(clients)])


def _incrementer(conn: _Conn, times: int, watch: bool):
    """A generator: one command per step, a read-modify-write loop ``times`` times."""
    done = retries = 0
    while done < times:
        if watch:
            conn.send("WATCH", "counter")
            yield
        conn.send("GET", "counter")
        yield
        value = int(conn.replies()[-1] or 0)
        if watch:
            conn.send("MULTI")
            conn.send("SET", "counter", value + 1)
            conn.send("EXEC")
            result = conn.replies()[-1]
            if result is None:            # a watched key changed: nothing ran, try again
                retries += 1
                yield
                continue
        else:
            conn.send("SET", "counter", value + 1)
        done += 1
        yield
    conn.retries = retries


def lost_updates(clients: int = 3, increments: int = 50, seed: int = 7) -> pd.DataFrame:
    """The counter after ``clients`` x ``increments`` interleaved increments, naive vs WATCH."""
    rows = []
    for watch in (False, True):
        eng = Engine()
        rng = random.Random(seed)
        conns = [_Conn(eng, f"c{i}") for i in range(clients)]
        steps = {c.name: _incrementer(c, increments, watch) for c in conns}
        while steps:
            name = rng.choice(sorted(steps))
            try:
                next(steps[name])
            except StopIteration:
                del steps[name]
        final = int(eng.ks.data.get(b"counter", b"0"))
        rows.append({"method": "WATCH/MULTI/EXEC + retry" if watch else "GET then SET",
                     "expected": clients * increments, "counter": final,
                     "lost updates": clients * increments - final,
                     "retries": sum(c.retries for c in conns)})
    return pd.DataFrame(rows)
