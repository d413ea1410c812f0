"""The one message format every transport carries: a batch of source lines of one partition.

Layout (little endian)::

    partition u16 | count u32 | prev_line i64 | sent_ns i64 | pub_ns i64 | line i64 * count
    | raw lines, b"\\n"-joined

``prev_line`` is the source line of the partition's previous tick (0 for its first): a worker
that has processed up to line L takes a message only if ``prev_line <= L``, so a lost message
(ZeroMQ drops what was queued for a dead peer; a broker without persistence forgets its queue on
a restart) is never skipped over: the worker waits for the coordinator to send the partition
again from its committed high-water mark. ``sent_ns`` is the source's time of the message's
first tick, from which the sink measures end-to-end latency; ``pub_ns`` is when the coordinator
published it (the two differ for a paced source: the batch's wait, and any publishing delay). Source lines never contain a newline.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["Message", "encode", "decode", "admit"]

_HEAD = struct.Struct("<HIqqq")


@dataclass(frozen=True, slots=True)
class Message:
    partition: int
    prev_line: int
    sent_ns: int
    pub_ns: int
    lines: np.ndarray  # int64 source line numbers, increasing
    raws: list[bytes]

    @property
    def last_line(self) -> int:
        return int(self.lines[-1])


def encode(partition: int, prev_line: int, sent_ns: int, lines: np.ndarray | list[int],
           raws: list[bytes] | bytes, pub_ns: int = 0) -> bytes:
    """The message; ``raws`` as the lines or already ``b"\\n"``-joined (a cached body)."""
    arr = np.asarray(lines, dtype="<i8")
    body = raws if isinstance(raws, bytes) else b"\n".join(raws)
    return b"".join((_HEAD.pack(partition, arr.size, prev_line, sent_ns, pub_ns or sent_ns), arr.tobytes(), body))


def decode(data: bytes) -> Message:
    partition, count, prev, sent, pub = _HEAD.unpack_from(data)
    off = _HEAD.size + 8 * count
    lines = np.frombuffer(data, dtype="<i8", count=count, offset=_HEAD.size).astype(np.int64)
    raws = bytes(data[off:]).split(b"\n")
    return Message(partition, prev, sent, pub, lines, raws)


def admit(mark: int, prev_line: int, lines: np.ndarray) -> np.ndarray | None:
    """The worker's rule for a message of a partition it has handled up to line ``mark``:
    None if taking it would skip lines (``prev_line > mark``: a gap), else the mask of its
    lines not yet handled (all False for a redelivery)."""
    if prev_line > mark:
        return None
    return lines > mark
