"""RabbitMQ as the transport (AMQP 0.9.1 with pika): durable queues, confirms, manual acks, prefetch.

One durable queue per partition (``ticks.7``), published to through the default exchange with
``delivery_mode=2`` (persistent) on a channel in *confirm* mode: ``basic_publish`` returns once
the broker has taken responsibility for the message, so a batch the coordinator counts as
published survives a broker restart. A worker consumes its partitions' queues with manual acks
and a prefetch (``basic_qos``) of ``spec.hwm`` messages: the broker never has more than that
many unacknowledged deliveries outstanding to a worker, which is the bounded queue on this side.

A worker acks a delivery only after the sink's commit covering it is durable. When a worker dies
its connection closes and RabbitMQ requeues every unacked delivery (``redelivered`` set) to the
next consumer of the queue, in their original order: at least once. pika is not thread safe and
its blocking adapter has no asyncio face, so a worker runs one thread that owns the connection
(consume, and acks handed over through a queue) and feeds the worker's asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

import pika
import pika.exceptions

from .clean import PARTITIONS
from .errors import TransportError
from .transport import TransportSpec

__all__ = ["RabbitProducer", "RabbitConsumer"]

_DOWN = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError,
         pika.exceptions.StreamLostError, ConnectionError, OSError)
_PERSISTENT = pika.BasicProperties(delivery_mode=2)


def _queue(spec: TransportSpec, p: int) -> str:
    return f"{spec.topic}.{p}"


def _connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    return pika.BlockingConnection(params)


class RabbitProducer:
    def __init__(self, spec: TransportSpec) -> None:
        self.spec = spec
        try:
            self._open()
        except _DOWN as exc:
            raise TransportError(f"rabbitmq at {spec.url}: {exc!r}") from None

    def _open(self) -> None:
        self.conn = _connect(self.spec.url)
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        for p in range(PARTITIONS):
            self.ch.queue_declare(_queue(self.spec, p), durable=True)

    def reset(self) -> None:
        for p in range(PARTITIONS):
            self.ch.queue_purge(_queue(self.spec, p))

    def publish(self, partition: int, payload: bytes) -> bool:
        try:
            if self.conn.is_closed:
                self._open()
            self.ch.basic_publish("", _queue(self.spec, partition), payload, _PERSISTENT,
                                  mandatory=True)  # returns once confirmed
        except _DOWN:
            time.sleep(0.2)
            return False  # the broker is restarting: try again
        return True

    def flush(self) -> None:
        if not self.conn.is_closed:
            with contextlib.suppress(_DOWN):
                self.conn.process_data_events(0)  # heartbeats

    def rebind(self, worker: int) -> None:
        pass  # the broker requeued the dead worker's unacked deliveries

    def close(self) -> None:
        if not self.conn.is_closed:
            with contextlib.suppress(_DOWN):
                self.conn.close()


class RabbitConsumer:
    """pika in a thread of its own; deliveries reach the asyncio loop through a queue."""

    def __init__(self, spec: TransportSpec, worker: int, partitions: list[int]) -> None:
        self.spec, self.partitions = spec, partitions
        self.loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.acks: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.generation = 0  # delivery tags are per channel: a reconnect invalidates them
        self.thread = threading.Thread(target=self._run, daemon=True, name="pika")
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._serve()
            except _DOWN:
                time.sleep(0.2)  # broker down or restarting: connect again

    def _serve(self) -> None:
        conn = _connect(self.spec.url)
        self.generation += 1
        gen = self.generation
        ch = conn.channel()
        ch.basic_qos(prefetch_count=self.spec.hwm)

        def deliver(_ch, method, _props, body) -> None:
            self.loop.call_soon_threadsafe(self.inbox.put_nowait, ((gen, method.delivery_tag), body))

        for p in self.partitions:
            q = _queue(self.spec, p)
            ch.queue_declare(q, durable=True)
            ch.basic_consume(q, deliver, auto_ack=False)
        try:
            while not self.stop.is_set():
                conn.process_data_events(time_limit=0.02)
                while True:
                    try:
                        g, tag = self.acks.get_nowait()
                    except queue.Empty:
                        break
                    if g == gen:  # a tag of an earlier channel: that delivery was requeued
                        ch.basic_ack(tag)
        finally:
            if conn.is_open:
                conn.close()

    async def get(self, timeout_ms: int = 100) -> list[tuple[Any, bytes]]:
        try:
            first = await asyncio.wait_for(self.inbox.get(), timeout_ms / 1000)
        except TimeoutError:
            return []
        out = [first]
        while not self.inbox.empty() and len(out) < 64:
            out.append(self.inbox.get_nowait())
        return out

    async def ack(self, tokens: Sequence[Any]) -> None:
        for t in tokens:
            self.acks.put(t)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
