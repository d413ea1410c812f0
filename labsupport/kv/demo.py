"""Small experiments the notebook plots: how active expiry reclaims memory over time.

:func:`expiry_reclaim` fills a keyspace driven by a fake clock with keys whose TTLs are spread
over a window, then advances time in steps of one cron period (100 ms at ``hz 10``), running
one active-expiry cycle per step, and records how many keys (and how many bytes, measured with
``tracemalloc``) are still held. With lazy expiry only, nothing would ever be reclaimed for keys
nobody reads again; the ``lazy_only`` column shows that baseline.
"""

from __future__ import annotations

import random
import time
import tracemalloc

import pandas as pd

from .engine import Engine


def expiry_reclaim(n_keys: int = 20_000, ttl_window_ms: int = 2_000, steps: int = 40,
                   step_ms: int = 100, persistent: int = 1_000, seed: int = 7,
                   sample: int = 20, stale_pct: int = 10) -> pd.DataFrame:
    """Keys and bytes held after each cron step; TTLs uniform in ``(0, ttl_window_ms]``.

    ``sample`` and ``stale_pct`` are the active-expiry cycle's effort knobs (Redis's
    ``ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`` and ``..._ACCEPTABLE_STALE``); ``cycle_ms`` is the
    CPU time of each step's cycle (measured: it varies from run to run).
    """
    rng = random.Random(seed)
    now = [1_700_000_000_000]
    tracemalloc.start()
    try:
        eng = Engine(clock_ms=lambda: now[0], rng=random.Random(seed))
        base = tracemalloc.get_traced_memory()[0]
        for i in range(n_keys):
            eng.apply([b"SET", b"session:%08d" % i, b"%064d" % i, b"PX",
                       b"%d" % rng.randint(1, ttl_window_ms)])
        for i in range(persistent):
            eng.apply([b"SET", b"instrument:%06d" % i, b"%064d" % i])
        eng.flush_expired()       # drop the propagation queue the SETs filled
        rows = []
        cycle_ms = 0.0
        for step in range(steps + 1):
            logically_alive = sum(1 for w in eng.ks.expires.values() if w > now[0])
            rows.append({"t_ms": step * step_ms, "keys_held": len(eng.ks),
                         "keys_alive": logically_alive + persistent,
                         "lazy_only": n_keys + persistent,
                         "mib_held": (tracemalloc.get_traced_memory()[0] - base) / 2**20,
                         "expired_total": eng.ks.expired_keys, "cycle_ms": cycle_ms})
            now[0] += step_ms
            t0 = time.perf_counter()
            eng.ks.active_expire_cycle(sample=sample, stale_pct=stale_pct,
                                       time_budget_ms=25.0)
            cycle_ms = (time.perf_counter() - t0) * 1000
            eng.flush_expired()   # hand the DELs to the (absent) AOF/replicas, as the cron does
        return pd.DataFrame(rows)
    finally:
        tracemalloc.stop()


def pipelined_reads(engine: Engine, client, read: bytes, n: int) -> int:
    """Feed the same pipelined read ``n`` times through the server's parser and
    ``Engine.run_batch`` (the whole command path of a mixed read, without sockets; what the
    notebook line-profiles)."""
    from .fastpath import FastCommandParser

    parser = FastCommandParser()
    total = 0
    for _ in range(n):
        cmds = parser.feed(read)
        engine.run_batch(client, cmds)
        total += len(cmds)
    return total
