"""The simulated network: per-link latency, jitter, loss, duplication, reordering, partitions.

Modelled on MIT 6.5840's ``labrpc`` (a network object that can disconnect servers and make
messages unreliable or long-delayed) and on FoundationDB's ``sim2`` (per-machine clogging,
random latencies drawn from the seeded generator). Every directed pair of nodes is a
:class:`_Link` with its own :class:`LinkConfig` and its own random stream, derived from the
simulation's seed and the pair's names: adding a node or a fault on one link does not change the
delays another link draws.

Theory of operation
-------------------
``send`` decides a message's fate at send time, in this order: partition (``drop:partition``),
loss (``drop:loss``), duplication (a second, independently delayed copy), then the delay
``latency.sample() + uniform(0, jitter_ns)``. A link is FIFO unless told otherwise: a copy never
arrives before one sent earlier on the same link (its time is raised to the last arrival time,
and the event sequence number breaks the tie), which is how TCP behaves and why reordering
"happens only when enabled". With ``reorder=p``, a copy is held back with probability ``p`` by an
extra ``reorder_delay`` and is exempt from the FIFO rule, so later messages overtake it (what
UDP over several paths does). At delivery time the destination must be up and the pair still
connected, or the copy is dropped (``drop:down``, ``drop:partition``): a partition cuts messages
already in flight, as a cut cable would.

A link whose config is a ``Fixed`` latency and no fault is *plain*: ``send`` pushes one tuple on
the heap and returns. That is the path the benchmark measures; faults cost a few random draws.

Partitions are a set of blocked directed pairs. ``partition(groups...)`` blocks both directions
between every pair of nodes in different groups, ``block(a, b)`` one direction, ``isolate(a)``
every pair that involves ``a``; ``heal()`` unblocks everything (or ``heal(a, b)`` one pair).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from heapq import heappush
from typing import TYPE_CHECKING, Any

from .errors import SimConfigError, UnknownNode
from .latency import MS, Fixed, Latency, Uniform, as_latency

if TYPE_CHECKING:
    from .loop import Simulation

__all__ = ["LinkConfig", "Network"]


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """How one direction of a link behaves; probabilities are per message copy."""

    latency: Any = Fixed(1 * MS)  # a Latency, an int in ns, or a callable rng -> ns
    jitter_ns: int = 0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: Any = None  # extra hold-back of a reordered copy; default uniform(0, 4 x mean)

    def __post_init__(self) -> None:
        object.__setattr__(self, "latency", as_latency(self.latency))
        if self.reorder_delay is not None:
            object.__setattr__(self, "reorder_delay", as_latency(self.reorder_delay))
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise SimConfigError(f"link {name}={p}: a probability is between 0 and 1")
        if self.jitter_ns < 0:
            raise SimConfigError(f"link jitter_ns={self.jitter_ns} must not be negative")

    @property
    def plain(self) -> bool:
        return (type(self.latency) is Fixed and not self.jitter_ns and not self.loss
                and not self.duplicate and not self.reorder)

    def hold_back(self) -> Latency:
        if self.reorder_delay is not None:
            return self.reorder_delay
        mean = self.latency.mean_ns
        mean = mean if mean == mean else 1 * MS  # a Custom latency of unknown mean: NaN != NaN
        return Uniform(0, int(4 * mean + self.jitter_ns))


class _Link:
    """One direction between two nodes: its config, random stream and FIFO horizon."""

    __slots__ = ("sim", "src", "dst", "key", "deliver", "rng", "cfg", "plain", "fixed_ns",
                 "last_ns", "hold_back")

    def __init__(self, sim: Simulation, src: str, dst: str, cfg: LinkConfig) -> None:
        self.sim = sim
        self.src, self.dst, self.key = src, dst, (src, dst)
        self.deliver = sim.hosts[dst].deliver
        self.rng = sim.stream(f"link/{src}->{dst}")
        self.last_ns = 0  # latest arrival time scheduled on this link (the FIFO horizon)
        self.configure(cfg)

    def configure(self, cfg: LinkConfig) -> None:
        self.cfg = cfg
        self.plain = cfg.plain
        self.fixed_ns = cfg.latency.ns if self.plain else 0
        self.hold_back = cfg.hold_back() if cfg.reorder else None

    def send(self, msg: Any) -> None:
        sim = self.sim
        now = sim.now_ns
        mid = next(sim._count)
        trace = sim._trace
        if trace is not None:
            trace((now, "send", self.src, self.dst, mid, msg))
        if sim.net.blocked and self.key in sim.net.blocked:
            if trace is not None:
                trace((now, "drop", self.src, self.dst, mid, "partition"))
            sim.net.dropped += 1
            return
        if self.plain:  # the hot path: one heap push, no random draw
            t = now + self.fixed_ns
            if t < self.last_ns:
                t = self.last_ns
            self.last_ns = t
            heappush(sim._heap, (t, mid, self.deliver, self.src, msg, mid))
            return
        self._send_faulty(msg, now, mid)

    def _send_faulty(self, msg: Any, now: int, mid: int) -> None:
        sim, cfg, rng = self.sim, self.cfg, self.rng
        trace = sim._trace
        if cfg.loss and rng.random() < cfg.loss:
            if trace is not None:
                trace((now, "drop", self.src, self.dst, mid, "loss"))
            sim.net.dropped += 1
            return
        copies = 2 if cfg.duplicate and rng.random() < cfg.duplicate else 1
        for copy in range(copies):
            t = now + cfg.latency.sample(rng)
            if cfg.jitter_ns:  # uniform on 0..jitter_ns; random() is 3x cheaper than randint()
                t += int(rng.random() * (cfg.jitter_ns + 1))
            if cfg.reorder and rng.random() < cfg.reorder:
                extra = self.hold_back.sample(rng)
                t += extra
                if trace is not None:
                    trace((now, "reorder", self.src, self.dst, mid, extra))
            else:
                if t < self.last_ns:
                    t = self.last_ns
                self.last_ns = t
            seq = mid if copy == 0 else next(sim._count)
            if copy:
                sim.net.duplicated += 1
                if trace is not None:
                    trace((now, "dup", self.src, self.dst, mid, None))
            heappush(sim._heap, (t, seq, self.deliver, self.src, msg, mid))


class Network:
    """All links of one simulation, their faults, and the partition state."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.default = LinkConfig()
        self._overrides: dict[tuple[str, str], LinkConfig] = {}
        self._links: dict[tuple[str, str], _Link] = {}
        self.blocked: set[tuple[str, str]] = set()
        self.dropped = 0  # drops at send time and at delivery time
        self.duplicated = 0

    # -- link configuration -------------------------------------------------------------------
    def config(self, src: str, dst: str) -> LinkConfig:
        """The config ``src -> dst`` uses now."""
        return self._overrides.get((src, dst), self.default)

    def set_default(self, **params: Any) -> LinkConfig:
        """Change the config of every link without its own (``latency=``, ``loss=``, ...)."""
        self.default = dataclasses.replace(self.default, **params)
        self._refresh()
        return self.default

    def set_link(self, a: str, b: str, *, both_ways: bool = True, **params: Any) -> LinkConfig:
        """Override ``a -> b`` (and ``b -> a`` unless ``both_ways=False``), starting from its
        current config: ``set_link("a", "b", loss=0.1)`` keeps the latency it had."""
        self._known(a, b)
        cfg = dataclasses.replace(self.config(a, b), **params)
        for pair in ((a, b), (b, a)) if both_ways else ((a, b),):
            self._overrides[pair] = cfg
        self._refresh()
        return cfg

    def reset_link(self, a: str, b: str, *, both_ways: bool = True) -> None:
        """Drop the override of ``a -> b`` (and back): the link follows the default again."""
        for pair in ((a, b), (b, a)) if both_ways else ((a, b),):
            self._overrides.pop(pair, None)
        self._refresh()

    def link(self, src: str, dst: str) -> _Link:
        """The link object for ``src -> dst``, created on first use."""
        link = self._links.get((src, dst))
        if link is None:
            self._known(src, dst)
            link = self._links[(src, dst)] = _Link(self.sim, src, dst, self.config(src, dst))
        return link

    def _refresh(self) -> None:
        for key, link in self._links.items():
            link.configure(self._overrides.get(key, self.default))

    def _known(self, *names: str) -> None:
        for name in names:
            if name not in self.sim.hosts:
                raise UnknownNode(f"no node named {name!r} (nodes: {', '.join(self.sim.hosts)})")

    # -- partitions ---------------------------------------------------------------------------
    def partition(self, *groups: Iterable[str]) -> None:
        """Cut every pair of nodes in different groups, both ways:
        ``partition(["a"], ["b", "c"])``."""
        sets = [list(g) for g in groups]
        if len(sets) < 2:
            raise SimConfigError("partition needs at least two groups")
        pairs = []
        for i, g in enumerate(sets):
            self._known(*g)
            for h in sets[i + 1:]:
                for a in g:
                    for b in h:
                        pairs += [(a, b), (b, a)]
        self._block(pairs)

    def block(self, src: str, dst: str, *, both_ways: bool = False) -> None:
        """Cut ``src -> dst`` only (a one-way partition), or both directions."""
        self._known(src, dst)
        self._block([(src, dst), (dst, src)] if both_ways else [(src, dst)])

    def isolate(self, name: str) -> None:
        """Cut every link to and from ``name``."""
        self._known(name)
        others = [n for n in self.sim.hosts if n != name]
        self._block([p for o in others for p in ((name, o), (o, name))])

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Unblock every pair, or only ``a <-> b``."""
        if a is None:
            pairs = set(self.blocked)
        else:
            self._known(a, *(() if b is None else (b,)))
            pairs = {p for p in self.blocked if (b is None and a in p) or p in ((a, b), (b, a))}
        self.blocked -= pairs
        self.sim._record("heal", "*", tuple(sorted(pairs)))

    def connected(self, src: str, dst: str) -> bool:
        return (src, dst) not in self.blocked

    def _block(self, pairs: list[tuple[str, str]]) -> None:
        self.blocked.update(pairs)
        self.sim._record("partition", "*", tuple(sorted(set(pairs))))
