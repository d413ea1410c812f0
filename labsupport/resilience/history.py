"""The recorded history of one run: what every component did, as the observer saw it.

Jepsen's model: the system under test is a black box; a history of operations is recorded from
outside and checked afterwards. Here each component appends ``(t_ns, component, kind, fields)``
to a :class:`History` that belongs to the harness, not to the component, so it survives the
component's crash (in live runs each process appends JSON lines to its own file and the harness
merges them by time). ``t_ns`` is the observer's clock (the simulator's, or ``time.time_ns``),
never the component's own, which a clock-skew fault may have moved.

At the end the harness adds each component's final state (:attr:`History.finals`), and the
checker (:mod:`.checker`) reads the two together. The digest covers both, so "the same seed
gives the same history" is one string comparison.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["Event", "History"]

_new_event = tuple.__new__  # Event(...) without the keyword-handling constructor


class Event(NamedTuple):
    """One thing a component did (a tuple: a run records hundreds, so each costs one
    allocation)."""

    t_ns: int
    component: str
    kind: str
    fields: tuple

    def show(self) -> str:
        return f"{self.t_ns / 1e6:10.3f} ms  {self.component:<9} {self.kind:<12} " + \
            " ".join(str(f) for f in self.fields)


@dataclass
class History:
    """Events in the order they happened, the fault schedule, and the final states."""

    events: list[Event] = field(default_factory=list)
    faults: list[tuple[int, str, str]] = field(default_factory=list)  # (t_ns, fault, detail)
    finals: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def record(self, t_ns: int, component: str, kind: str, *fields: Any) -> None:
        self.events.append(_new_event(Event, (t_ns, component, kind, fields)))

    def fault(self, t_ns: int, name: str, detail: str) -> None:
        self.faults.append((t_ns, name, detail))
        self.record(t_ns, "nemesis", name, detail)

    def of(self, component: str, kind: str | None = None) -> list[Event]:
        return [e for e in self.events
                if e.component == component and (kind is None or e.kind == kind)]

    def digest(self) -> str:
        h = hashlib.sha256()
        for e in self.events:
            h.update(f"{e.t_ns} {e.component} {e.kind} {e.fields!r}\n".encode())
        h.update(json.dumps(self.finals, sort_keys=True, default=repr).encode())
        return h.hexdigest()

    # -- live runs: one JSON-lines file per process ---------------------------------------------
    @classmethod
    def merge(cls, paths: list[Path]) -> History:
        """Read the processes' history files (``{"t": .., "c": .., "k": .., "f": [..]}`` lines,
        ``{"final": {..}}`` lines) into one history ordered by time."""
        hist = cls()
        for path in paths:
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by kill -9 mid-write: the observer lost it, not the system
                if "final" in row:
                    hist.finals[row["c"]] = row["final"]
                else:
                    hist.events.append(Event(row["t"], row["c"], row["k"], tuple(row["f"])))
        hist.events.sort(key=lambda e: e.t_ns)
        return hist
