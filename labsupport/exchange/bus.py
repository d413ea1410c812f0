"""Messaging between the services: ZeroMQ PUSH/PULL streams with sequence numbers, and the
in-memory queue the monolith uses instead.

What it mirrors: the internal bus of a venue, where every stream between two components is
sequenced so a receiver can tell a lost message from a quiet one (as in the sequenced
"session" streams of exchange architectures such as LMAX's or the NASDAQ INET bus).

Theory of operation. Services name their destinations, not addresses: ``gateway``, ``risk``,
``match.<k>``, ``md`` and ``fills`` (which fans out to ``risk`` and ``dropcopy``).
:class:`ZmqBus` has one PULL socket it binds (its own input) and one PUSH socket per
destination it connects to, lazily. Messages are batched: :meth:`ZmqBus.send` only queues,
and :meth:`ZmqBus.flush` (once per turn of the service's loop) sends each destination one
ZeroMQ message ``[sender, stream seq, msgpack array of every message queued for it]``, so the
per-message costs of a hop (a system call, a ZeroMQ message, a msgpack call) are paid once per
batch: under load a turn carries hundreds of orders. The receiving side (:meth:`ZmqBus.recv`)
checks the stream number per sender and counts gaps (a peer that restarted begins again at 1,
which is counted as a restart, not a gap), and drops the matcher outputs it already has
(:class:`Dedup`, by journal number: a restarted matcher publishes again what it may not have
published before it died).
:class:`LocalBus` is a deque: ``send`` appends, ``pump`` delivers until it is empty, so one
call to the gateway runs the whole chain synchronously.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from .matching import partition_of

__all__ = ["FANOUT", "Dedup", "LocalBus", "ZmqBus", "dispatcher", "endpoint", "partition_symbols"]

FANOUT = {"fills": ("risk", "dropcopy")}


def endpoint(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


def partition_symbols(symbols: list[str] | tuple[str, ...], matchers: int) -> list[list[str]]:
    """The symbols of each matcher."""
    parts: list[list[str]] = [[] for _ in range(matchers)]
    for s in symbols:
        parts[partition_of(s, symbols, matchers)].append(s)
    return parts


def dispatcher(role: str, part: Any) -> Any:
    """The function that delivers one bus message to the service ``part`` playing ``role``."""
    if role == "risk":
        return lambda msg: part.on_fills(msg) if "trades" in msg else part.handle(msg)
    if role == "dropcopy":
        return part.on_fills
    if role == "gateway":
        return part.on_event
    return part.handle  # match.<k>, md


class LocalBus:
    """In-memory delivery for the monolith: ``handlers[dest](msg)``."""

    def __init__(self) -> None:
        self.queue: deque[tuple[str, dict]] = deque()
        self.handlers: dict[str, Callable[[dict], None]] = {}
        self.delivered = 0

    def send(self, dest: str, msg: dict) -> None:
        for d in FANOUT.get(dest, (dest,)):
            self.queue.append((d, msg))

    def pump(self) -> int:
        n = 0
        q, handlers = self.queue, self.handlers
        while q:
            dest, msg = q.popleft()
            handlers[dest](msg)
            n += 1
        self.delivered += n
        return n


class Dedup:
    """Drops matcher outputs a receiver already has, by journal number per partition.

    Every output of one matcher input carries that input's ``jseq`` and ``part``, and all the
    outputs of one input travel in one bus batch (a batch is flushed after whole inputs), so
    within a batch everything above the last number seen *before* it is new, and a batch that
    a restarted matcher publishes again is dropped for what it repeats."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}  # partition -> last journal number received
        self.dropped = 0

    def fresh(self, msgs: list[dict]) -> list[dict]:
        last = self.last
        out: list[dict] = []
        top: dict[int, int] = {}
        for m in msgs:
            j = m.get("jseq")
            if j is None:
                out.append(m)
                continue
            p = m["part"]
            if j > last.get(p, 0):
                out.append(m)
                if j > top.get(p, 0):
                    top[p] = j
            else:
                self.dropped += 1
        last.update(top)
        return out


class ZmqBus:
    """One service's end of the bus. ``ports`` maps every service name to its input port."""

    def __init__(self, name: str, ports: dict[str, int], ctx: zmq.Context | None = None, *,
                 pull: zmq.Socket | None = None) -> None:
        self.name = name
        self.ports = ports
        self.ctx = ctx or zmq.Context.instance()
        if pull is None:  # an asyncio service passes a zmq.asyncio socket it bound itself
            pull = self.ctx.socket(zmq.PULL)
            pull.setsockopt(zmq.LINGER, 0)
            pull.setsockopt(zmq.RCVHWM, 0)
            pull.bind(endpoint(ports[name]))
        self.pull = pull
        self._push: dict[str, zmq.Socket] = {}
        self._out_seq: dict[str, int] = {}
        self._in_seq: dict[str, int] = {}
        self.gaps = 0
        self.restarts = 0
        self.received = 0
        self.batches = 0
        self.sent = 0
        self._queued: dict[str, list[dict]] = {}
        self.dedup = Dedup()
        self._me = name.encode()

    def _socket(self, dest: str) -> zmq.Socket:
        sock = self._push.get(dest)
        if sock is None:
            sock = self.ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 1000)
            sock.setsockopt(zmq.SNDHWM, 0)
            sock.connect(endpoint(self.ports[dest]))
            self._push[dest] = sock
        return sock

    def connect(self, *dests: str) -> None:
        """Connect to ``dests`` now rather than at the first message, so the connections are
        up before traffic flows (a message queued on a connection still being set up is lost
        if this process dies before it is)."""
        for dest in dests:
            for d in FANOUT.get(dest, (dest,)):
                self._socket(d)
                self._queued.setdefault(d, [])

    def send(self, dest: str, msg: dict) -> None:
        """Queue ``msg`` for ``dest`` (every member of a fan-out); :meth:`flush` sends."""
        for d in FANOUT.get(dest, (dest,)):
            q = self._queued.get(d)
            if q is None:
                q = self._queued[d] = []
            q.append(msg)

    def flush(self) -> int:
        """Send what was queued: one ZeroMQ message per destination; returns messages sent."""
        n = 0
        for d, q in self._queued.items():
            if not q:
                continue
            seq = self._out_seq.get(d, 0) + 1
            self._out_seq[d] = seq
            self._socket(d).send_multipart([self._me, b"%d" % seq, msgpack.packb(q)])
            n += len(q)
            q.clear()
        self.sent += n
        return n

    def recv(self, flags: int = 0) -> tuple[str, list[dict]]:
        """One batch: (sender, its messages); raises ``zmq.Again`` with ``flags=zmq.NOBLOCK``."""
        return self.accept(self.pull.recv_multipart(flags))

    def accept(self, frames: list[bytes]) -> tuple[str, list[dict]]:
        """Check and decode the frames of one received batch."""
        sender_b, seq_b, body = frames
        sender, seq = sender_b.decode(), int(seq_b)
        last = self._in_seq.get(sender, 0)
        if seq == 1 and last:
            self.restarts += 1
        elif seq != last + 1:
            self.gaps += 1
        self._in_seq[sender] = seq
        msgs = self.dedup.fresh(msgpack.unpackb(body))
        self.received += len(msgs)
        self.batches += 1
        return sender, msgs

    def status(self) -> dict:
        return {"received": self.received, "batches": self.batches, "sent": self.sent,
                "stream_gaps": self.gaps, "peer_restarts": self.restarts,
                "duplicates": self.dedup.dropped,
                "last_jseq": {str(p): j for p, j in self.dedup.last.items()}}

    def close(self) -> None:
        for sock in self._push.values():
            sock.close()
        self.pull.close()
