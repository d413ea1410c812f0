"""Redis Streams as the transport: XADD, consumer groups, XACK, XAUTOCLAIM, on a real server.

One stream per partition (``ticks:7``), one consumer group (``workers``) created at offset 0.
The coordinator XADDs each batch as one entry (field ``d``), pipelined, so a round trip carries
many batches. A worker reads its partitions' streams with XREADGROUP ``>`` (block 100 ms) and
XACKs an entry once the sink's commit covering it is durable; until then it stays in the
group's pending entries list (PEL), owned by that consumer.

Each worker incarnation is a new consumer (``w1.4242``). When a worker is killed, its entries
stay pending under the dead name; the new incarnation first takes them over with XAUTOCLAIM
(min idle 0: a partition has one live worker, so whatever is pending in it belongs to a dead
one), then reads new entries. That is Redis's at-least-once: delivered, perhaps twice, never
lost while the server keeps its data. A server restarted without its data (no AOF) loses the
streams; the coordinator's resend covers that, and both sides recreate the group (NOGROUP).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio as aredis

from .clean import PARTITIONS
from .errors import TransportError
from .transport import TransportSpec

__all__ = ["RedisProducer", "RedisConsumer", "GROUP"]

GROUP = "workers"
_DOWN = (redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError)


def _key(spec: TransportSpec, p: int) -> str:
    return f"{spec.topic}:{p}"


class RedisProducer:
    def __init__(self, spec: TransportSpec) -> None:
        self.spec = spec
        self.r = redis.Redis.from_url(spec.url, socket_timeout=5)
        try:
            self.r.ping()
        except _DOWN as exc:
            raise TransportError(f"redis at {spec.url}: {exc}") from None
        self.pipe = self.r.pipeline(transaction=False)
        self.queued = 0

    def _groups(self) -> None:
        for p in range(PARTITIONS):
            try:
                self.r.xgroup_create(_key(self.spec, p), GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def reset(self) -> None:
        """A fresh run: the streams of an earlier one are dropped (the source is the log)."""
        self.r.delete(*[_key(self.spec, p) for p in range(PARTITIONS)])
        self._groups()

    def publish(self, partition: int, payload: bytes) -> bool:
        if self.queued >= 64:
            self.flush()
            if self.queued:
                return False  # the server is down: try later
        self.pipe.xadd(_key(self.spec, partition), {"d": payload})
        self.queued += 1
        return True

    def flush(self) -> None:
        if not self.queued:
            return
        try:
            self.pipe.execute()
        except _DOWN:
            self.pipe.reset()  # lost: the coordinator resends from the committed marks
            with contextlib.suppress(_DOWN):
                self._groups()  # back up, maybe empty: streams and group again
        self.queued = 0

    def rebind(self, worker: int) -> None:
        pass  # the new consumer claims the dead one's pending entries

    def close(self) -> None:
        self.pipe.reset()
        self.r.close()


class RedisConsumer:
    def __init__(self, spec: TransportSpec, worker: int, partitions: list[int]) -> None:
        self.spec, self.count = spec, spec.hwm
        self.r = aredis.Redis.from_url(spec.url, socket_timeout=5)
        self.name = f"w{worker}.{os.getpid()}"
        self.keys = [_key(spec, p) for p in partitions]
        self.claimed = False

    async def _claim(self) -> list[tuple[Any, bytes]]:
        out = []
        for key in self.keys:
            start = "0-0"
            while True:
                reply = await self.r.xautoclaim(key, GROUP, self.name, min_idle_time=0,
                                                start_id=start, count=100)
                nxt, entries = reply[0], reply[1]
                out.extend(((key, eid), f[b"d"]) for eid, f in entries if f)
                if nxt in (b"0-0", "0-0"):
                    break
                start = nxt
        return out

    async def get(self, timeout_ms: int = 100) -> list[tuple[Any, bytes]]:
        try:
            if not self.claimed:
                self.claimed = True
                got = await self._claim()
                if got:
                    return got
            reply = await self.r.xreadgroup(GROUP, self.name, dict.fromkeys(self.keys, ">"),
                                            count=self.count, block=timeout_ms)
        except _DOWN:
            await asyncio.sleep(0.2)
            self.claimed = False
            return []
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await asyncio.sleep(0.1)  # the server restarted empty; the producer recreates it
            return []
        return [((k.decode(), eid), f[b"d"]) for k, entries in reply for eid, f in entries]

    async def ack(self, tokens: Sequence[Any]) -> None:
        by_key: dict[str, list] = {}
        for key, eid in tokens:
            by_key.setdefault(key, []).append(eid)
        try:
            for key, ids in by_key.items():
                await self.r.xack(key, GROUP, *ids)
        except _DOWN:
            pass  # left pending: claimed again or resent; the sink's marks skip it

    def close(self) -> None:
        pass  # the connection pool closes with the loop
