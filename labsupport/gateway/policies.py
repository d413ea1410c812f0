"""The gateway's rate limit and cache against the peers', on the same settings and the same trace.

The Compare section's like-for-like half: nginx, HAProxy and Envoy get the route's settings
through ``labsupport.services.httpproxies`` (nginx ``limit_req burst=B nodelay`` and
``proxy_cache``, HAProxy a stick-table rate counter and its ``cache``, Envoy ``local_ratelimit``
and its cache filter), the gateway the same numbers in its TOML, all in front of the same
backends.

* ``bursty_times``: a seeded arrival trace (Poisson at ``load`` times the limit, with bursts of
  back-to-back requests), the "recorded trace" both limiters are replayed.
* ``replay``: sends the trace over ``connections`` keep-alive connections to one port, each
  request at its intended time (open loop) with the one client key; returns the statuses and the
  times the requests really went out.
* ``reference_rejections``: what the exact GCRA (``ratelimit.nginx_limit_req``, nginx's own
  accounting) rejects on a list of arrival times, the yardstick of both servers.

On a busy machine the sender falls behind and bunches requests, so the arrivals a server sees are
not the trace's: each server's 429 count is compared with the reference on the times its own
replay actually sent (a server sees them within its read latency), and the two servers with
each other. The exact agreement is the unit tests' (injected clock).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import NamedTuple

from labsupport.services.httpproxies import RateLimit

from .client import AsyncClient
from .ratelimit import nginx_limit_req

__all__ = ["LIMIT", "Replay", "bursty_times", "reference_rejections", "replay"]

#: The rate limit both sides run in the comparison (one client key, by header).
LIMIT = RateLimit(rate_per_s=200, burst=20, key="header:x-client")


def bursty_times(n: int, rate_per_s: float, *, load: float = 1.5, seed: int = 5) -> list[float]:
    """``n`` arrival times (seconds from 0): Poisson at ``load * rate_per_s`` plus bursts."""
    rng = random.Random(seed)
    t, times = 0.0, []
    while len(times) < n:
        if rng.random() < 0.05:
            times += [t] * rng.randint(5, 30)  # a burst arrives at once
        t += rng.expovariate(load * rate_per_s)
        times.append(t)
    return times[:n]


class Replay(NamedTuple):
    statuses: Counter[int]
    sent_s: list[float]  # when each request really went out, in order, from the first

    @property
    def reference(self) -> int:
        """429s the exact reference gives on the times this replay really sent."""
        return reference_rejections(self.sent_s)


def reference_rejections(times: list[float], limit: RateLimit = LIMIT) -> int:
    """Requests of the trace that nginx's ``limit_req`` accounting rejects (exact)."""
    decisions = nginx_limit_req([int(x * 1000) for x in sorted(times)], limit.rate_per_s,
                                limit.burst)
    return sum(not ok for ok in decisions)


async def replay(port: int, times: list[float], *, connections: int = 8,
                 client: str = "trace", path: str = "/hello") -> Replay:
    """Send GET ``path`` at each time of ``times`` (open loop); the statuses and send times."""
    clients = [await AsyncClient.connect(port) for _ in range(connections)]
    free: asyncio.Queue[AsyncClient] = asyncio.Queue()
    for c in clients:
        free.put_nowait(c)
    statuses: Counter[int] = Counter()
    sent: list[float] = []
    t0 = time.monotonic() + 0.05

    async def one(at: float) -> None:
        delay = t0 + at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        c = await free.get()
        try:
            sent.append(time.monotonic() - t0)  # request() writes before its first await
            r = await c.request("GET", path, [("x-client", client)])
            statuses[r.status] += 1
        finally:
            free.put_nowait(c)

    try:
        await asyncio.gather(*(one(at) for at in times))
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    return Replay(statuses, sorted(sent))
