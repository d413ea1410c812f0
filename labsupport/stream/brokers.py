"""The broker a run talks to: the one named by ``--broker``, or one the run starts and stops.

Without ``--broker`` a Redis or RabbitMQ run starts a private server through the service
frame's helpers (:mod:`labsupport.services.brokers`: a free loopback port, its own data
directory, stopped and removed at the end); ZeroMQ needs none; Kafka is never started here (it
needs ``--broker`` or ``KAFKA_BOOTSTRAP``). URLs: ``redis://127.0.0.1:PORT/0``,
``amqp://guest:guest@127.0.0.1:PORT/%2F``, ``HOST:PORT[,HOST:PORT]`` for Kafka.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ..services import brokers as frame
from .errors import TransportError

__all__ = ["url_of", "start", "running_broker"]


def url_of(kind: str, broker: frame.Broker) -> str:
    if kind == "redis":
        return f"redis://{broker.host}:{broker.port}/0"
    return f"amqp://guest:guest@{broker.host}:{broker.port}/%2F"


def start(kind: str) -> frame.Broker:
    """A private server for ``kind`` ("redis" or "rabbitmq"), started."""
    try:
        return frame.redis() if kind == "redis" else frame.rabbitmq()
    except frame.BrokerUnavailable as exc:
        raise TransportError(str(exc)) from None


@contextlib.contextmanager
def running_broker(kind: str, url: str | None) -> Iterator[str]:
    """The URL to use for the whole run (a started broker is stopped when the block ends)."""
    if kind == "zmq":
        yield ""
    elif kind == "kafka":
        url = url or os.environ.get("KAFKA_BOOTSTRAP")
        if not url:
            raise TransportError("the kafka transport needs --broker HOST:PORT (or "
                                 "KAFKA_BOOTSTRAP); the lab starts no Kafka broker")
        yield url
    elif url:
        yield url
    else:
        b = start(kind)
        try:
            yield url_of(kind, b)
        finally:
            b.stop()


