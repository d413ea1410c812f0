"""Exact rate limiting: GCRA with nginx ``limit_req`` semantics, and a token bucket beside it.

GCRA (the generic cell rate algorithm of ATM traffic policing, ITU-T I.371) keeps ONE number per
key, the theoretical arrival time ``tat``: when the next request would be due if requests came
exactly at the rate. With emission interval ``T = 1/rate`` and tolerance ``tau = burst * T``::

    tat = max(tat, now)
    allowed  iff  tat - now <= tau          then  tat += T
    rejected otherwise, retry after          (tat - tau) - now

That is nginx's ``limit_req zone=... rate=R burst=B nodelay``: from idle, B + 1 requests pass
at once, then one per T. Arithmetic is in integer nanoseconds, so decisions on a recorded trace
are exact and reproducible (floats would drift on long traces and flip decisions at the edge).

``TokenBucket`` is the formulation most people meet first: ``capacity`` tokens, refilled at
``rate`` per second, each request takes one. With ``capacity = burst + 1`` and continuous refill
it makes the same decisions as GCRA (both are the leaky bucket as a meter), but it keeps two
numbers per key and updates both on every request, and in floating point its edge decisions
depend on rounding: the notebook plots both on a bursty trace.

``KeyedLimiter`` keeps one limiter state per client key (an IP or a header value) in an LRU of
at most ``max_keys``: the least recently seen key is forgotten first. Forgetting a key can only
make the limiter more lenient for it, never reject a request GCRA would allow.

The clock is injected (seconds, ``time.monotonic`` by default); tests drive it by hand.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Decision", "Gcra", "KeyedLimiter", "TokenBucket", "nginx_limit_req"]

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0  # when rejected: how long until a request would pass


class Gcra:
    """The arithmetic of GCRA for one rate and burst; state (``tat_ns``) is kept by the caller."""

    __slots__ = ("rate_per_s", "burst", "interval_ns", "tolerance_ns")

    def __init__(self, rate_per_s: float, burst: int = 0) -> None:
        if rate_per_s <= 0 or burst < 0:
            raise ValueError("rate_per_s must be > 0 and burst >= 0")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.interval_ns = round(NS / rate_per_s)
        self.tolerance_ns = burst * self.interval_ns

    def decide(self, tat_ns: int, now_ns: int) -> tuple[bool, int, int]:
        """(allowed, new tat, ns until a request would pass) for a request at ``now_ns``."""
        tat = tat_ns if tat_ns > now_ns else now_ns
        if tat - now_ns <= self.tolerance_ns:
            return True, tat + self.interval_ns, 0
        return False, tat_ns, tat - self.tolerance_ns - now_ns


class TokenBucket:
    """``capacity`` tokens refilled at ``rate_per_s`` continuously; one per request."""

    __slots__ = ("rate_per_s", "capacity", "tokens", "last_s")

    def __init__(self, rate_per_s: float, capacity: float, now_s: float = 0.0) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self.tokens = capacity
        self.last_s = now_s

    def allow(self, now_s: float) -> Decision:
        elapsed = now_s - self.last_s
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate_per_s)
            self.last_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return Decision(True)
        return Decision(False, (1.0 - self.tokens) / self.rate_per_s)


class KeyedLimiter:
    """GCRA per key, in an LRU bounded to ``max_keys`` keys (see the module docstring)."""

    def __init__(self, rate_per_s: float, burst: int = 0, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.gcra = Gcra(rate_per_s, burst)
        self.max_keys = max_keys
        self.clock = clock
        self._tat: OrderedDict[bytes, int] = OrderedDict()
        self.allowed = 0
        self.rejected = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._tat)

    def allow(self, key: bytes, now_s: float | None = None) -> Decision:
        now_ns = int(round((self.clock() if now_s is None else now_s) * NS))
        tats = self._tat
        tat = tats.get(key)
        if tat is None:
            tat = now_ns
            if len(tats) >= self.max_keys:
                tats.popitem(last=False)  # the least recently seen key
                self.evicted += 1
        else:
            tats.move_to_end(key)
        ok, new_tat, wait_ns = self.gcra.decide(tat, now_ns)
        tats[key] = new_tat
        if ok:
            self.allowed += 1
            return Decision(True)
        self.rejected += 1
        return Decision(False, wait_ns / NS)


def retry_after_header(decision: Decision) -> str:
    """``Retry-After`` is whole seconds (RFC 9110 section 10.2.3): round up, at least 1."""
    return str(max(1, math.ceil(decision.retry_after_s)))


def nginx_limit_req(times_ms: list[int], rate_per_s: int, burst: int) -> list[bool]:
    """The reference the GCRA limiter is checked against: nginx's ``ngx_http_limit_req_module``
    accounting with ``nodelay``, excess kept in milli-requests at millisecond resolution.

    Request ``i`` at ``times_ms[i]`` is allowed when the excess it would leave,
    ``max(excess - rate * elapsed_ms + 1000, 0)``, is at most ``burst * 1000``; a refused request
    leaves the state as it was. Deliberately written as the module's loop, not optimised.
    """
    out, excess, last = [], 0, None
    for now in times_ms:
        if last is None:
            out.append(True)
            excess, last = 0, now
            continue
        e = max(excess - rate_per_s * (now - last) + 1000, 0)
        if e > burst * 1000:
            out.append(False)
        else:
            out.append(True)
            excess, last = e, now
    return out
