"""Kafka as the transport (confluent-kafka): partitions keyed by symbol, committed offsets.

One topic of :data:`~.clean.PARTITIONS` partitions; the coordinator produces each batch to
partition ``p`` (the same keyed partitioning as every transport) with an idempotent producer
(``enable.idempotence``, ``acks=all``). Worker ``w`` is assigned partitions ``p % workers == w``
(a static assignment in consumer group ``ticks-workers``, the way Kafka Streams pins tasks) and
commits, synchronously, the offset after the last message that the sink's commit covers: after
a crash the group resumes from the committed offsets, so delivery is at least once and the
sink's marks make it exactly once. The same code runs against a real cluster unchanged
(``--broker host1:9092,host2:9092``). Needs a broker: none is started by the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from .clean import PARTITIONS
from .errors import TransportError
from .transport import TransportSpec

__all__ = ["KafkaProducer", "KafkaConsumer"]


def _kafka():
    try:
        import confluent_kafka
    except ImportError:
        raise TransportError("the kafka transport needs confluent-kafka "
                             "(pip install confluent-kafka)") from None
    return confluent_kafka


class KafkaProducer:
    def __init__(self, spec: TransportSpec) -> None:
        ck = _kafka()
        self.spec = spec
        self.p = ck.Producer({"bootstrap.servers": spec.url, "enable.idempotence": True,
                              "acks": "all", "linger.ms": 2})

    def reset(self) -> None:
        import confluent_kafka
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.spec.url})
        for f in admin.delete_topics([self.spec.topic], operation_timeout=10).values():
            with contextlib.suppress(confluent_kafka.KafkaException):  # it did not exist
                f.result()
        for f in admin.create_topics([NewTopic(self.spec.topic, PARTITIONS, 1)]).values():
            f.result()

    def publish(self, partition: int, payload: bytes) -> bool:
        try:
            self.p.produce(self.spec.topic, payload, partition=partition)
        except BufferError:
            self.p.poll(0.01)
            return False
        return True

    def flush(self) -> None:
        self.p.poll(0)

    def rebind(self, worker: int) -> None:
        pass

    def close(self) -> None:
        self.p.flush(10)


class KafkaConsumer:
    def __init__(self, spec: TransportSpec, worker: int, partitions: list[int]) -> None:
        ck = _kafka()
        self.ck, self.spec = ck, spec
        self.c = ck.Consumer({"bootstrap.servers": spec.url, "group.id": f"{spec.topic}-workers",
                              "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        self.c.assign([ck.TopicPartition(spec.topic, p) for p in partitions])

    async def get(self, timeout_ms: int = 100) -> list[tuple[Any, bytes]]:
        msgs = await asyncio.to_thread(self.c.consume, 64, timeout_ms / 1000)
        out = []
        for m in msgs:
            if m.error() is None:
                out.append(((m.partition(), m.offset()), m.value()))
        return out

    async def ack(self, tokens: Sequence[Any]) -> None:
        last: dict[int, int] = {}
        for p, off in tokens:
            last[p] = max(off, last.get(p, -1))
        offsets = [self.ck.TopicPartition(self.spec.topic, p, off + 1) for p, off in last.items()]
        if offsets:
            await asyncio.to_thread(self.c.commit, offsets=offsets, asynchronous=False)

    def close(self) -> None:
        self.c.close()
