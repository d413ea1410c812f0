"""The keyspace: one Redis database (db 0) with millisecond expiry.

Mirrors Redis's ``db.c`` (lookup with lazy expiry) and ``expire.c`` (the active expiry cycle).

Theory of operation
-------------------
* ``data`` maps a key (``bytes``) to its value: ``bytes`` for a string, ``dict`` for a hash,
  ``collections.deque`` for a list, ``set`` for a set, :class:`.skiplist.ZSet` for a sorted
  set. The Python type *is* the Redis type, so a type check is one ``type(v) is bytes`` on the
  hot path.
* ``expires`` maps the keys that have a TTL to their absolute deadline in Unix milliseconds.
  Keys without a TTL cost nothing here. Invariant: every key of ``expires`` is in ``data``.
* Lazy expiry: every read goes through :meth:`lookup`, which deletes a key whose deadline has
  passed before anyone sees it. A master reports the deletion through ``on_expire`` so it is
  written to the AOF and sent to replicas as a ``DEL``; a replica never deletes on its own (it
  hides the key and waits for its master's ``DEL``), so master and replica stay identical.
* Active expiry (:meth:`active_expire_cycle`): keys that are never read again would stay in
  memory forever with lazy expiry alone, so, like Redis, a periodic cycle samples
  ``sample`` keys at random among those with a TTL, deletes the expired ones and repeats while
  more than ``stale_pct`` percent of a sample was expired, within a time budget. Random sampling
  needs O(1) access by index, so the keys with a TTL are also kept in a list ``_vol`` with their
  positions in ``_vol_pos`` (swap-with-last removal keeps both O(1)).
* Time is injected: ``clock_ms`` is any callable returning Unix milliseconds (tests and the
  notebook pass a fake clock); randomness too (``rng``), so a cycle is reproducible.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

from .skiplist import ZSet


def wall_clock_ms() -> int:
    """Unix time in milliseconds (the default clock)."""
    return time.time_ns() // 1_000_000


class Keyspace:
    """A dict of keys to values plus their deadlines (see the module docstring)."""

    __slots__ = ("data", "expires", "clock_ms", "on_expire", "is_replica", "_vol",
                 "_vol_pos", "_rng", "expired_keys", "dirty")

    def __init__(self, clock_ms: Callable[[], int] = wall_clock_ms,
                 rng: random.Random | None = None) -> None:
        self.data: dict[bytes, object] = {}
        self.expires: dict[bytes, int] = {}
        self.clock_ms = clock_ms
        self.on_expire: Callable[[bytes], None] | None = None
        self.is_replica = False
        self._vol: list[bytes] = []
        self._vol_pos: dict[bytes, int] = {}
        self._rng = rng or random.Random(0)
        self.expired_keys = 0     # INFO stats: expired_keys
        self.dirty = 0            # changes since the last snapshot (INFO rdb_changes_since_last_save)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def rng(self) -> random.Random:
        """The injected random source (active expiry, SPOP, RANDOMKEY, ZRANDMEMBER...)."""
        return self._rng

    # ------------------------------------------------------------ reads

    def lookup(self, key: bytes):
        """The value of ``key`` or None, expiring it first if its deadline has passed."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self.clock_ms():
                if self.is_replica:
                    return None
                self._expire(key)
                return None
        return v

    def exists(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def ttl_ms(self, key: bytes) -> int:
        """Remaining time to live: -2 if the key is missing, -1 if it has no deadline."""
        if self.lookup(key) is None:
            return -2
        when = self.expires.get(key)
        if when is None:
            return -1
        return max(when - self.clock_ms(), 0)

    # ------------------------------------------------------------ writes

    def set(self, key: bytes, value, keep_ttl: bool = False) -> None:
        """Store ``value``; a plain SET discards any deadline the key had."""
        self.data[key] = value
        if not keep_ttl and key in self.expires:
            self._drop_deadline(key)

    def delete(self, key: bytes) -> bool:
        if self.lookup(key) is None and not (self.is_replica and key in self.data):
            return False
            # a replica hides a key past its deadline but deletes it only on its master's DEL
        del self.data[key]
        if key in self.expires:
            self._drop_deadline(key)
        return True

    def set_deadline(self, key: bytes, when_ms: int) -> None:
        """Give an existing key an absolute deadline (Unix ms)."""
        if key not in self.expires:
            self._vol_pos[key] = len(self._vol)
            self._vol.append(key)
        self.expires[key] = when_ms

    def persist(self, key: bytes) -> bool:
        if key in self.expires and self.lookup(key) is not None:
            self._drop_deadline(key)
            return True
        return False

    def clear(self) -> None:
        self.data.clear()
        self.expires.clear()
        self._vol.clear()
        self._vol_pos.clear()

    def _drop_deadline(self, key: bytes) -> None:
        del self.expires[key]
        i = self._vol_pos.pop(key)
        last = self._vol.pop()
        if i < len(self._vol):   # the removed key was not the last one: move the last into its slot
            self._vol[i] = last
            self._vol_pos[last] = i

    def _expire(self, key: bytes) -> None:
        del self.data[key]
        self._drop_deadline(key)
        self.expired_keys += 1
        if self.on_expire is not None:
            self.on_expire(key)

    # ------------------------------------------------------------ active expiry

    def active_expire_cycle(self, sample: int = 20, stale_pct: int = 10,
                            time_budget_ms: float = 25.0) -> int:
        """One run of Redis's active expiry; returns how many keys it deleted.

        Samples ``sample`` random keys that have a deadline, deletes the expired ones and repeats
        while more than ``stale_pct`` % of a sample was expired, stopping after
        ``time_budget_ms`` of CPU so a mass expiry never stalls clients for long.
        """
        if self.is_replica or not self._vol:
            return 0
        now = self.clock_ms()
        deadline = time.perf_counter() + time_budget_ms / 1000.0
        rnd = self._rng.random
        expires = self.expires
        total = 0
        while self._vol:
            n = min(sample, len(self._vol))
            expired = 0
            for _ in range(n):
                vol = self._vol
                if not vol:
                    break
                key = vol[int(rnd() * len(vol))]
                if expires[key] <= now:
                    self._expire(key)
                    expired += 1
            total += expired
            if expired * 100 <= n * stale_pct or time.perf_counter() > deadline:
                break
        return total

    # ------------------------------------------------------------ helpers for snapshots

    def items_with_deadlines(self):
        """(key, value, deadline_ms or -1) for every key, expired ones skipped."""
        now = self.clock_ms()
        expires = self.expires
        for k, v in self.data.items():
            when = expires.get(k, -1)
            if when != -1 and when <= now:
                continue
            yield k, v, when


def type_name(value) -> bytes:
    """Redis's TYPE word for a stored value."""
    t = type(value)
    if t is bytes:
        return b"string"
    if t is dict:
        return b"hash"
    if t is deque:
        return b"list"
    if t is set:
        return b"set"
    if t is ZSet:
        return b"zset"
    return b"none"
