"""Exercises of notebook 05: the API gateway. Each plugs the learner's code into the gateway.

- 05.1 a GCRA limiter (``allow(now_s) -> bool`` for one key, the state ``KeyedLimiter`` keeps
  per client), checked decision by decision against nginx's ``limit_req`` accounting on
  seeded bursty traces;
- 05.2 a consistent-hash ring (``owner(key, available) -> name``): spread, and minimal
  remapping when a server leaves (only its keys move; they come back when it returns);
- 05.3 the cache's TTL rule from ``Cache-Control`` (``ttl(route_ttl_s, field) -> seconds``, the
  rule ``cache.ttl_for`` applies to every upstream answer), checked on a table of directives
  against the gateway's own rule.
"""

from __future__ import annotations

import random
from collections import Counter

from ..gateway import ttl_for
from ..gateway.ratelimit import nginx_limit_req
from . import Case, Property, exercise


# -- 05.1 -----------------------------------------------------------------------------------------
def _trace(seed: int, n: int = 400) -> list[int]:
    rng = random.Random(seed)
    t, out = 0, []
    for _ in range(n):
        t += rng.choice([0, 0, 0, 1, 2, 5, 20, 50, 200, 700])
        out.append(t)
    return out


@exercise("05.1", "GCRA rate limiter", attr="Gcra")
def _gcra(Gcra):  # noqa: N803 (the learner's class)
    def decide(rate: int, burst: int, times_ms: list[int]) -> list[bool]:
        lim = Gcra(rate, burst)
        return [bool(lim.allow(ms / 1000)) for ms in times_ms]

    rows = [
        ("idle, burst 3: four pass at once, the fifth waits", (10, 3, [0, 0, 0, 0, 0]),
         [True, True, True, True, False]),
        ("burst 0: one per interval exactly", (4, 0, [0, 100, 249, 250, 499, 500]),
         [True, False, False, True, False, True]),
        ("a rejected request does not use up the allowance", (2, 0, [0, 100, 200, 300, 500]),
         [True, False, False, False, True]),
        ("after a long gap the burst is back, no more", (10, 1, [0, 0, 5000, 5000, 5000]),
         [True, True, True, True, False]),
    ]
    for name, (rate, burst, times), want in rows:
        yield Case(name, lambda r=rate, b=burst, t=times: decide(r, b, t), want,
                   input=f"rate={rate}/s burst={burst} at ms {times}")
    params = [(10, 5), (4, 0), (50, 1), (100, 2)]
    yield Property("same decisions as nginx limit_req on bursty traces",
                   lambda: [(s, *params[s % 4]) for s in range(12)],
                   lambda x: decide(x[1], x[2], _trace(x[0])),
                   lambda x: nginx_limit_req(_trace(x[0]), x[1], x[2]),
                   show=lambda x: f"seed {x[0]}, rate {x[1]}/s, burst {x[2]}")


# -- 05.2 -----------------------------------------------------------------------------------------
NAMES = [f"10.0.0.{i}:8080" for i in range(1, 6)]
KEYS = [f"client-{i}".encode() for i in range(5000)]


@exercise("05.2", "consistent-hash ring", attr="Ring")
def _ring(Ring):  # noqa: N803
    def owners(available: set[str] | None) -> dict[bytes, str]:
        ring = Ring(NAMES)
        return {k: ring.owner(k, available) for k in KEYS}

    def spread() -> bool:
        share = Counter(owners(None).values())
        return len(share) == 5 and max(share.values()) / min(share.values()) < 1.8

    def only_leaver_moves(leaver: str) -> bool:
        before, after = owners(None), owners(set(NAMES) - {leaver})
        moved = [k for k in KEYS if before[k] != after[k]]
        return bool(moved) and all(before[k] == leaver for k in moved) and \
            all(after[k] != leaver for k in KEYS)

    def deterministic() -> bool:
        return owners(None) == owners(None) == owners(set(NAMES))

    yield Case("every server gets a share (max/min < 1.8)", spread, True)
    yield Case("the same key always goes to the same server", deterministic, True)
    yield Case("owner among available servers only", lambda: Ring(NAMES).owner(b"k", {NAMES[3]}),
               NAMES[3])
    yield Property("a leaving server: only its keys move", lambda: NAMES, only_leaver_moves,
                   lambda x: True, show=lambda x: f"{x} leaves")


# -- 05.3 -----------------------------------------------------------------------------------------
TTL_ROWS = [
    ("no Cache-Control: the route's TTL", (5.0, None)),
    ("max-age wins over the route", (5.0, b"max-age=30")),
    ("s-maxage wins over max-age (a shared cache)", (0.0, b"public, s-maxage=7, max-age=30")),
    ("no-store: never", (5.0, b"no-store")),
    ("private: a shared cache must not store it", (5.0, b"private, max-age=60")),
    ("no-cache: this cache does not revalidate, so never", (5.0, b"No-Cache")),
    ("max-age with junk: do not store", (5.0, b"max-age=abc")),
    ("quoted value", (1.0, b'max-age="12"')),
    ("unrelated directives: the route's TTL", (2.0, b"public, must-revalidate")),
]


@exercise("05.3", "cache TTL from Cache-Control", attr="ttl")
def _ttl(ttl):
    for name, args in TTL_ROWS:
        yield Case(name, lambda a=args: float(ttl(*a)), ttl_for(*args), input=repr(args))
