"""The transport interface (publish a batch, consume batches, acknowledge) and ZeroMQ's.

Every transport moves :mod:`.wire` messages keyed by partition; partition ``p`` is consumed by
worker ``p % workers``, so each symbol's ticks reach one worker in source order.

- A :class:`Producer` lives in the coordinator: ``publish(p, payload)`` returns False when the
  transport cannot take more now (backpressure: try again later), ``reset()`` empties the run's
  queues before a fresh run, ``rebind(w)`` is called when worker ``w`` is restarted.
- A :class:`Consumer` lives in a worker's asyncio loop: ``await get()`` returns a list of
  ``(token, payload)``, ``await ack(tokens)`` tells the broker those are done. A worker acks only
  after the sink's commit covering them is durable, so delivery is at least once; the sink's
  high-water marks make the write idempotent (exactly once).

ZeroMQ is brokerless: PUSH sockets bound by the coordinator (one per worker, OS-assigned port),
PULL in the worker, the send high-water mark (``SNDHWM``) as the bounded queue. It promises
ordering per connection and nothing when a peer dies: whatever was queued for a dead worker is
gone. There is nothing to acknowledge; recovery is the coordinator sending the partition again
from the committed high-water mark (the source file is the log), and the worker refusing a
message that would skip a gap (``prev_line``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import zmq
import zmq.asyncio

__all__ = ["TRANSPORTS", "TransportSpec", "Producer", "Consumer", "ZmqProducer", "ZmqConsumer",
           "open_producer", "open_consumer"]

TRANSPORTS = ("zmq", "redis", "rabbitmq", "kafka")


@dataclass
class TransportSpec:
    """What a worker process needs to connect (picklable): kind, broker URL, names, endpoints."""

    kind: str
    url: str = ""
    topic: str = "ticks"  # stream key / queue / topic prefix
    workers: int = 1
    endpoints: dict[int, str] = field(default_factory=dict)  # zmq: worker -> PUSH address
    hwm: int = 64  # messages queued per worker (ZeroMQ) or unacked per consumer (prefetch)


class Producer(Protocol):
    def publish(self, partition: int, payload: bytes) -> bool: ...
    def flush(self) -> None: ...
    def reset(self) -> None: ...
    def rebind(self, worker: int) -> None: ...
    def close(self) -> None: ...


class Consumer(Protocol):
    async def get(self, timeout_ms: int = 100) -> list[tuple[Any, bytes]]: ...
    async def ack(self, tokens: Sequence[Any]) -> None: ...
    def close(self) -> None: ...


class ZmqProducer:
    def __init__(self, spec: TransportSpec, ctx: zmq.Context | None = None) -> None:
        self.spec, self.ctx = spec, ctx or zmq.Context.instance()
        self.socks: dict[int, zmq.Socket] = {}
        for w in range(spec.workers):
            self.rebind(w)

    def rebind(self, worker: int) -> None:
        """A fresh socket for a restarted worker: what was queued for the dead one is dropped."""
        old = self.socks.pop(worker, None)
        if old is not None:
            old.close(linger=0)
        s = self.ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.SNDHWM, self.spec.hwm)
        s.setsockopt(zmq.LINGER, 0)
        s.bind("tcp://127.0.0.1:*")
        self.socks[worker] = s
        self.spec.endpoints[worker] = s.getsockopt_string(zmq.LAST_ENDPOINT)

    def publish(self, partition: int, payload: bytes) -> bool:
        try:
            self.socks[partition % self.spec.workers].send(payload, zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        return True

    def flush(self) -> None:
        pass

    def reset(self) -> None:
        pass  # nothing outlives a run

    def close(self) -> None:
        for s in self.socks.values():
            s.close(linger=0)
        self.socks.clear()


class ZmqConsumer:
    def __init__(self, spec: TransportSpec, worker: int, ctx: zmq.asyncio.Context) -> None:
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.RCVHWM, spec.hwm)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(spec.endpoints[worker])

    async def get(self, timeout_ms: int = 100) -> list[tuple[Any, bytes]]:
        if not await self.sock.poll(timeout_ms):
            return []
        out = []
        while len(out) < 64 and self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            out.append((None, await self.sock.recv()))
        return out

    async def ack(self, tokens: Sequence[Any]) -> None:
        pass  # ZeroMQ has no acknowledgements

    def close(self) -> None:
        self.sock.close(linger=0)


def open_producer(spec: TransportSpec) -> Producer:
    if spec.kind == "zmq":
        return ZmqProducer(spec)
    if spec.kind == "redis":
        from .redis_transport import RedisProducer
        return RedisProducer(spec)
    if spec.kind == "rabbitmq":
        from .rabbit_transport import RabbitProducer
        return RabbitProducer(spec)
    if spec.kind == "kafka":
        from .kafka_transport import KafkaProducer
        return KafkaProducer(spec)
    raise ValueError(f"unknown transport {spec.kind!r}")


def open_consumer(spec: TransportSpec, worker: int, partitions: list[int],
                  ctx: zmq.asyncio.Context) -> Consumer:
    if spec.kind == "zmq":
        return ZmqConsumer(spec, worker, ctx)
    if spec.kind == "redis":
        from .redis_transport import RedisConsumer
        return RedisConsumer(spec, worker, partitions)
    if spec.kind == "rabbitmq":
        from .rabbit_transport import RabbitConsumer
        return RabbitConsumer(spec, worker, partitions)
    if spec.kind == "kafka":
        from .kafka_transport import KafkaConsumer
        return KafkaConsumer(spec, worker, partitions)
    raise ValueError(f"unknown transport {spec.kind!r}")
