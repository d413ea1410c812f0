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
PULL in the worker, the send high-water mark (``SNDHWM``) as the bounded queue; the batches a
coordinator's turn has for one worker travel as the frames of one multipart message. It promises
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
MAX_FRAMES = 64  # batches per ZeroMQ message (and taken per get)


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
    """One PUSH socket per worker; what a turn publishes to a worker goes out at ``flush()`` as
    *one* multipart message (a frame per batch): one wake-up of ZeroMQ's I/O thread and of the
    worker per turn, not one per batch."""

    def __init__(self, spec: TransportSpec, ctx: zmq.Context | None = None) -> None:
        self.spec, self.ctx = spec, ctx or zmq.Context.instance()
        self.socks: dict[int, zmq.Socket] = {}
        self.pending: dict[int, list[bytes]] = {}
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
        self.pending[worker] = []
        self.spec.endpoints[worker] = s.getsockopt_string(zmq.LAST_ENDPOINT)

    def publish(self, partition: int, payload: bytes) -> bool:
        w = partition % self.spec.workers
        if len(self.pending[w]) >= MAX_FRAMES and not self._send(w):
            return False  # the worker's queue is full: try again later
        self.pending[w].append(payload)
        return True

    def _send(self, w: int) -> bool:
        frames = self.pending[w]
        if not frames:
            return True
        try:  # zero copy only pays for large frames (pyzmq's advice: ~64 kB and up)
            self.socks[w].send_multipart(frames, zmq.NOBLOCK,
                                         copy=max(map(len, frames)) < 1 << 16)
        except zmq.Again:
            return False  # at the high-water mark: kept for the next flush
        self.pending[w] = []
        return True

    def flush(self) -> None:
        for w in self.socks:
            self._send(w)

    def reset(self) -> None:
        pass  # nothing outlives a run

    def close(self) -> None:
        for s in self.socks.values():
            s.close(linger=0)
        self.socks.clear()


class ZmqConsumer:
    """PULL in the worker's loop: ``await poll`` to wait, then the queued messages taken with
    plain non-blocking receives on a synchronous shadow of the same socket (an ``await recv``
    per message costs a future and a loop turn each: ~100 us, more than cleaning a tick)."""

    def __init__(self, spec: TransportSpec, worker: int, ctx: zmq.asyncio.Context) -> None:
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.RCVHWM, spec.hwm)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(spec.endpoints[worker])
        self.sync = zmq.Socket.shadow(self.sock.underlying)

    async def get(self, timeout_ms: int = 100) -> list[tuple[Any, bytes]]:
        out: list[tuple[Any, bytes]] = []
        while len(out) < MAX_FRAMES:
            try:
                out.extend((None, f) for f in self.sync.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                if out or not await self.sock.poll(timeout_ms):
                    break
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
