"""Lab 03: a tick stream processor, exactly once into the tick store, over four transports.

    from labsupport.stream import run_pipeline
    run_pipeline("ticks.csv", "store/", transport="zmq", workers=2)

Modules, in the order a tick flows: ``source`` (the file as the stream's log, chunks, paced
replay through Lab 09), ``wire`` (the message), ``transport`` (the interface and ZeroMQ),
``redis_transport``, ``rabbit_transport``, ``kafka_transport``, ``worker`` (a process with an
asyncio loop), ``clean`` (the rules, per tick: the reference), ``vector`` (the same rules a batch
at a time), ``fastparse`` (a batch parsed in one compiled pass), ``kernel`` (the stateful rules
compiled), ``sink`` (the tick store with high-water marks: exactly once), ``groupcommit`` (the
sink's two syncs on two threads, a group at a time), ``pipeline`` (the coordinator), ``brokers`` (starting a broker for a run), ``gen`` (seeded dirty tick files),
``duck`` (DuckDB as an alternative sink), ``__main__``, ``bench``, ``explore``.
"""

from .clean import (
    DEFAULT_LATE_NS,
    DEFAULT_MAX_DEV_PCT,
    HEADER,
    PARTITIONS,
    REASONS,
    Cleaner,
    DeadLetter,
    Rules,
    SymbolState,
    Tick,
    clean_reference,
    parse,
    partition_of,
)
from .errors import SinkError, SourceFormatError, StreamError, TransportError
from .pipeline import Pipeline, RunResult, run_pipeline
from .sink import DEAD_LETTERS, META, StreamSink
from .source import TickSource
from .transport import TRANSPORTS, TransportSpec
from .vector import CleanBatch, clean_batch

__all__ = [
    "DEFAULT_LATE_NS", "DEFAULT_MAX_DEV_PCT", "HEADER", "PARTITIONS", "REASONS",
    "Cleaner", "DeadLetter", "Rules", "SymbolState", "Tick", "clean_reference", "parse",
    "partition_of",
    "SinkError", "SourceFormatError", "StreamError", "TransportError",
    "Pipeline", "RunResult", "run_pipeline",
    "DEAD_LETTERS", "META", "StreamSink", "TickSource", "TRANSPORTS", "TransportSpec",
    "CleanBatch", "clean_batch",
]  # fmt: skip
