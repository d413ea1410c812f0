"""Load-balancing policies: which server of a pool gets the next request.

The policies of nginx's ``upstream`` and Envoy's load balancers, as plain objects with no I/O:
each is given the servers that may take a request now (healthy, circuit closed) and returns
one. A server is anything with ``name`` (str) and ``inflight`` (requests in progress).

=============  ===========================================================================
round_robin    the next server in a fixed order: exactly even over any window of N picks
least_conn     the fewest in-flight requests (ties: round-robin order), nginx ``least_conn``
p2c            two servers drawn at random, the less loaded one wins (Mitzenmacher's power
               of two choices, Envoy's ``LEAST_REQUEST``): nearly least_conn's balance
               without its herd on the one server that just became the least loaded when
               several gateways share stale counts
hash           a consistent-hash ring (Karger et al.): each server owns ``vnodes`` points on
               a 64-bit ring, a key goes to the first point clockwise from its hash whose
               server may take requests. When a server leaves, only the keys it owned move
               (about 1/N of them); everyone else keeps their server (session affinity,
               cache locality)
=============  ===========================================================================

Randomness is injected (``random.Random(seed)``) so a test's distribution is reproducible.
Costs per pick: O(1) round robin, O(N) least_conn, O(1) p2c, O(log(N * vnodes)) hash.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Sequence
from typing import Protocol

__all__ = ["Balancer", "ConsistentHash", "LeastConn", "PowerOfTwo", "RoundRobin", "make_balancer"]


class Server(Protocol):
    name: str
    inflight: int


class Balancer(Protocol):
    def pick(self, servers: Sequence[Server], key: bytes | None = None) -> Server | None: ...


class RoundRobin:
    """Each pick takes the next server of the list, wrapping around."""

    def __init__(self) -> None:
        self._next = 0

    def pick(self, servers: Sequence[Server], key: bytes | None = None) -> Server | None:
        if not servers:
            return None
        server = servers[self._next % len(servers)]
        self._next += 1
        return server


class LeastConn:
    """The server with the fewest requests in flight; ties are broken round-robin."""

    def __init__(self) -> None:
        self._next = 0

    def pick(self, servers: Sequence[Server], key: bytes | None = None) -> Server | None:
        n = len(servers)
        if not n:
            return None
        start = self._next % n
        self._next += 1
        best = servers[start]
        for i in range(1, n):
            s = servers[(start + i) % n]
            if s.inflight < best.inflight:
                best = s
        return best


class PowerOfTwo:
    """Two distinct servers at random; the one with fewer requests in flight."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random(0)

    def pick(self, servers: Sequence[Server], key: bytes | None = None) -> Server | None:
        n = len(servers)
        if n <= 1:
            return servers[0] if n else None
        i = self.rng.randrange(n)
        j = self.rng.randrange(n - 1)
        if j >= i:
            j += 1  # two distinct indices, uniformly
        a, b = servers[i], servers[j]
        return b if b.inflight < a.inflight else a


def ring_hash(data: bytes) -> int:
    """64 bits of BLAKE2b: stable across runs and machines (Python's hash() is salted)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class ConsistentHash:
    """A ring of ``vnodes`` points per server name; see the module docstring.

    The ring is built over every server name the pool has ever been given (``servers`` passed
    to ``pick`` are those available now), so a server that is ejected keeps its points and
    gets its keys back when it returns.
    """

    def __init__(self, vnodes: int = 160) -> None:
        self.vnodes = vnodes
        self._points: list[int] = []
        self._owners: list[str] = []
        self._names: set[str] = set()

    def add(self, name: str) -> None:
        if name in self._names:
            return
        self._names.add(name)
        pairs = list(zip(self._points, self._owners, strict=True))
        pairs += [(ring_hash(f"{name}#{v}".encode()), name) for v in range(self.vnodes)]
        pairs.sort()
        self._points = [p for p, _ in pairs]
        self._owners = [o for _, o in pairs]

    def owner(self, key: bytes, available: set[str] | None = None) -> str | None:
        """The server name that owns ``key`` among ``available`` (all when None)."""
        if not self._points:
            return None
        n = len(self._points)
        i = bisect.bisect_left(self._points, ring_hash(key))
        for step in range(n):
            name = self._owners[(i + step) % n]
            if available is None or name in available:
                return name
        return None

    def pick(self, servers: Sequence[Server], key: bytes | None = None) -> Server | None:
        if not servers:
            return None
        for s in servers:
            if s.name not in self._names:
                self.add(s.name)
        by_name = {s.name: s for s in servers}
        name = self.owner(key or b"", set(by_name))
        return by_name.get(name) if name is not None else None


def make_balancer(policy: str, rng: random.Random | None = None) -> Balancer:
    """The balancer named in a config's ``balance`` key."""
    if policy == "round_robin":
        return RoundRobin()
    if policy == "least_conn":
        return LeastConn()
    if policy == "p2c":
        return PowerOfTwo(rng)
    if policy == "hash":
        return ConsistentHash()
    raise ValueError(f"unknown balance policy {policy!r}")
