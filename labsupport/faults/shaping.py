"""The faults a proxied connection suffers, as data, and the sans-IO shaper that applies them.

What it mirrors: toxiproxy's toxics (latency with jitter, bandwidth, slicer/limit_data, timeout)
and Linux netem, cut down to what a TCP byte stream can show: TCP never reorders or duplicates
bytes, so the faults are delay, rate, a cut after a byte count or at random, and silence.

A :class:`Direction` holds the faults of one direction of a connection: ``upstream`` is client
to server (requests), ``downstream`` server to client (responses), as in toxiproxy. A
:class:`Faults` holds both directions plus ``refuse`` (new connections are refused).

Theory of operation. The proxy reads a chunk, asks a :class:`Shaper` for a :class:`Plan`, and
writes the planned bytes at the planned time. The shaper models a link that first serialises
the bytes at the bandwidth and then propagates them with the latency::

    tx_start  = max(arrival, link_free)          # a chunk waits for the previous to leave
    link_free = tx_start + nbytes / bandwidth    # serialisation (0 when unlimited)
    deliver   = max(link_free + latency + jitter_draw, previous deliver)   # FIFO: no reorder

``jitter_draw`` is uniform in ``[-jitter, +jitter]`` (clamped so the delay stays >= 0), from a
``random.Random`` seeded per connection and direction, so a seeded proxy shapes the n-th
connection the same way on every run. ``drop_after_bytes`` forwards exactly that many bytes in
the direction, then cuts the connection; ``drop_probability`` cuts it before a chunk with that
probability; ``blackhole`` swallows the bytes (the peer waits until its own timeout). The
shaper reads the current :class:`Direction` on every chunk, so changing the faults at run time
takes effect on live connections at their next chunk. Times are seconds of the caller's clock.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any


class FaultError(Exception):
    """Base class of every error raised by :mod:`labsupport.faults`."""


class FaultConfigError(FaultError):
    """A fault setting is unknown or out of range; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Direction:
    """The faults of one direction of every proxied connection (all off by default)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    bandwidth_bps: float | None = None  # bytes per second; None: unlimited
    drop_after_bytes: int | None = None
    drop_probability: float = 0.0  # per chunk read
    blackhole: bool = False

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise FaultConfigError("latency_ms and jitter_ms must be >= 0")
        if self.bandwidth_bps is not None and self.bandwidth_bps <= 0:
            raise FaultConfigError("bandwidth_bps must be > 0 (or None: unlimited)")
        if self.drop_after_bytes is not None and self.drop_after_bytes < 0:
            raise FaultConfigError("drop_after_bytes must be >= 0")
        if not 0.0 <= self.drop_probability <= 1.0:
            raise FaultConfigError("drop_probability must be in [0, 1]")

    def replace(self, **changes: Any) -> Direction:
        """A copy with ``changes``; an unknown name is a :class:`FaultConfigError`."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise FaultConfigError(f"unknown fault setting(s) {', '.join(sorted(unknown))} "
                                   f"(known: {', '.join(sorted(names))})")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Faults:
    """Everything the proxy does to connections: per direction, and refusal of new ones."""

    upstream: Direction = field(default_factory=Direction)
    downstream: Direction = field(default_factory=Direction)
    refuse: bool = False

    def with_changes(self, direction: str = "both", refuse: bool | None = None,
                     **changes: Any) -> Faults:
        """A copy with ``changes`` applied to ``direction`` (upstream | downstream | both)."""
        if direction not in ("both", "upstream", "downstream"):
            raise FaultConfigError(f"direction {direction!r} is not upstream, downstream or both")
        up, down = self.upstream, self.downstream
        if changes:
            if direction in ("both", "upstream"):
                up = up.replace(**changes)
            if direction in ("both", "downstream"):
                down = down.replace(**changes)
        return Faults(up, down, self.refuse if refuse is None else refuse)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Faults:
        try:
            return cls(Direction(**doc.get("upstream", {})),
                       Direction(**doc.get("downstream", {})), bool(doc.get("refuse", False)))
        except TypeError as exc:
            raise FaultConfigError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with a chunk: write ``forward`` bytes of it at ``deliver_at``, then cut?"""

    deliver_at: float
    forward: int
    cut: bool = False


class Shaper:
    """One direction of one connection: turns (chunk size, arrival time) into a :class:`Plan`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bytes_in = 0  # bytes offered in this direction so far
        self._link_free = 0.0
        self._last_deliver = 0.0

    def plan(self, faults: Direction, nbytes: int, now: float) -> Plan:
        if faults.blackhole:
            self.bytes_in += nbytes
            return Plan(now, 0)
        if faults.drop_probability and self.rng.random() < faults.drop_probability:
            return Plan(now, 0, cut=True)
        forward, cut = nbytes, False
        if faults.drop_after_bytes is not None:
            left = faults.drop_after_bytes - self.bytes_in
            if nbytes >= left:
                forward, cut = max(left, 0), True
        self.bytes_in += nbytes
        tx_start = max(now, self._link_free)
        self._link_free = tx_start + (forward / faults.bandwidth_bps
                                      if faults.bandwidth_bps else 0.0)
        delay_s = faults.latency_ms / 1e3
        if faults.jitter_ms:
            delay_s = max(0.0, delay_s + self.rng.uniform(-1, 1) * faults.jitter_ms / 1e3)
        deliver = max(self._link_free + delay_s, self._last_deliver)
        self._last_deliver = deliver
        return Plan(deliver, forward, cut)

    def read_size(self, faults: Direction, default: int = 65536) -> int:
        """How much to read at once: small under a bandwidth limit, so the rate is smooth."""
        if faults.bandwidth_bps:
            return max(1, min(default, int(faults.bandwidth_bps / 50)))  # ~20 ms of bytes
        return default
