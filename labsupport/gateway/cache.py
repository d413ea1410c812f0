"""A response cache: LRU with a byte budget, TTLs from the route or ``Cache-Control``, and
request coalescing so that N concurrent misses for one key cost one upstream request.

Mirrors nginx's ``proxy_cache`` (with ``proxy_cache_lock on``) and Varnish's request
coalescing, in memory.

Theory of operation
-------------------
* What is stored: answers to GET with status 200 and a body of at most ``max_entry_bytes``.
  The key is method, path, query and the values of the route's ``cache_headers``.
* For how long (``ttl_for``): ``Cache-Control: no-store`` or ``private`` from the upstream
  means never; ``s-maxage`` then ``max-age`` win over the route's ``cache_ttl_s``; ``no-cache``
  means store nothing (this cache does not revalidate). A TTL of 0 means do not store.
* Where: an ``OrderedDict`` in recency order; a hit moves the entry to the end, a store
  evicts from the front until the total of body + header bytes fits ``max_bytes``. An
  expired entry is dropped when it is next looked up (lazy expiry: no timer per entry).
* Coalescing (``Coalescer``): the first miss for a key becomes the *leader* and fetches; every
  later miss for the same key while the fetch runs awaits the leader's future instead of
  going upstream (the thundering herd of a popular key expiring at once becomes one request).
The clock is injected (seconds).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CachedResponse", "Coalescer", "ResponseCache", "cache_key", "ttl_for"]


@dataclass(frozen=True, slots=True)
class CachedResponse:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # end-to-end fields, as the client will get them
    body: bytes
    expires_s: float
    response: Any = None  # what a hit answers, built once when stored (the gateway's Response)

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) + 4 for k, v in self.headers)


def cache_key(method: str, path: str, query: bytes, values: tuple[bytes, ...] = ()) -> tuple:
    return (method, path, query, values)


def ttl_for(route_ttl_s: float, cache_control: bytes | None) -> float:
    """Seconds to keep a response (0: do not store), from the route and the upstream's field."""
    if cache_control:
        directives: dict[str, str] = {}
        for part in cache_control.decode("latin-1").lower().split(","):
            name, _, value = part.strip().partition("=")
            directives[name] = value.strip('"')
        if "no-store" in directives or "private" in directives or "no-cache" in directives:
            return 0.0
        for name in ("s-maxage", "max-age"):
            if name in directives:
                value = directives[name]
                return float(value) if value.isdigit() else 0.0
    return route_ttl_s


class ResponseCache:
    """LRU of ``CachedResponse`` within ``max_bytes`` (see the module docstring)."""

    def __init__(self, max_bytes: int = 64 << 20, *, max_entry_bytes: int = 1 << 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock
        self._entries: OrderedDict[Any, CachedResponse] = OrderedDict()
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry.expires_s <= self.clock():
            self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: Any, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes,
            ttl_s: float, response: Any = None) -> bool:
        """Store a response for ``ttl_s``; False when it is not storable (see the docstring).
        ``response`` is what a hit answers, prepared once by the caller."""
        if ttl_s <= 0 or status != 200 or len(body) > self.max_entry_bytes:
            return False
        entry = CachedResponse(status, headers, body, self.clock() + ttl_s, response)
        if entry.size > self.max_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        while self.bytes + entry.size > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
        self._entries[key] = entry
        self.bytes += entry.size
        return True

    def _drop(self, key: Any) -> None:
        self.bytes -= self._entries.pop(key).size


class Coalescer:
    """One fetch per key at a time; concurrent callers share its result (or its exception)."""

    def __init__(self) -> None:
        self._running: dict[Any, asyncio.Future[Any]] = {}
        self.coalesced = 0  # callers that waited on another's fetch

    async def run(self, key: Any, fetch: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
        """(result, led): ``led`` is True for the one caller whose ``fetch`` ran."""
        fut = self._running.get(key)
        if fut is not None:
            self.coalesced += 1
            return await asyncio.shield(fut), False
        fut = asyncio.get_running_loop().create_future()
        self._running[key] = fut
        try:
            result = await fetch()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters may be none
            raise
        else:
            fut.set_result(result)
            return result, True
        finally:
            del self._running[key]
