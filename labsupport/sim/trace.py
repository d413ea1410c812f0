"""The record of a simulated run: one tuple per event, a digest, counts and frames to plot.

FoundationDB's simulator proves a run is reproducible by logging what happened and comparing;
this is that log. Every entry is a plain tuple (no object per event: the trace is written on the
simulator's hot path)::

    (t_ns, kind, node, peer, mid, detail)

=============  ==========  ==========  =====================  ==================================
kind           node        peer        mid                    detail
=============  ==========  ==========  =====================  ==================================
``send``       sender      receiver    message id             the message
``deliver``    receiver    sender      message id             ``None``
``drop``       sender      receiver    message id             loss, partition, down, sender down
``dup``        sender      receiver    message id (shared)    ``None`` (a second copy is on its way)
``reorder``    sender      receiver    message id             the extra hold-back delay in ns
``timer``      node        ``None``    timer token            the timer's name
``crash``      node        ``None``    ``None``               disk damage: (records lost, torn)
``restart``    node        ``None``    ``None``               the new incarnation number
``start``      node        ``None``    ``None``               ``None``
``partition``  ``"*"``     ``None``    ``None``               the blocked (src, dst) pairs, sorted
``heal``       ``"*"``     ``None``    ``None``               the unblocked pairs, sorted
``log``        node        ``None``    ``None``               text a node or scenario wrote
=============  ==========  ==========  =====================  ==================================

A message id (``mid``) is the sequence number of its first delivery event, so a ``send``, its
``deliver`` (or ``drop``) and any duplicate share it: that is how the timeline draws an arrow.

The digest is SHA-256 over one line per entry with the detail as its ``repr``. It is the same on
every machine and in every process as long as messages have a stable ``repr`` (ints, strings,
tuples, frozen dataclasses, dicts in insertion order: yes; a ``set`` of strings: no, its order
changes with ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import TraceDisabled

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Trace", "KINDS", "MESSAGE_KINDS"]

KINDS = ("send", "deliver", "drop", "dup", "reorder", "timer", "crash", "restart", "start",
         "partition", "heal", "log")
MESSAGE_KINDS = frozenset({"send", "deliver", "drop", "dup", "reorder"})

Entry = tuple[int, str, Any, Any, Any, Any]


class Trace:
    """An append-only list of trace entries with summaries. ``enabled=False`` records nothing."""

    __slots__ = ("entries", "enabled")

    def __init__(self, enabled: bool = True) -> None:
        self.entries: list[Entry] = []
        self.enabled = enabled

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def _require(self) -> None:
        if not self.enabled:
            raise TraceDisabled("this simulation was created with trace=False: there is no trace "
                                "to digest or show (create it with trace=True)")

    def lines(self) -> Iterator[str]:
        """One text line per entry, the form the digest is computed over."""
        self._require()
        for t, kind, node, peer, mid, detail in self.entries:
            yield f"{t} {kind} {node} {peer} {mid} {detail!r}"

    def digest(self) -> str:
        """SHA-256 hex digest of :meth:`lines`: equal digests mean identical runs."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        """How many entries of each kind, in the order of :data:`KINDS`."""
        self._require()
        c = Counter(e[1] for e in self.entries)
        return {k: c[k] for k in KINDS if c[k]}

    def of(self, kind: str) -> list[Entry]:
        """The entries of one kind, in order."""
        return [e for e in self.entries if e[1] == kind]

    def format(self, limit: int = 20) -> str:
        """The first ``limit`` entries as aligned text (times in microseconds)."""
        out = []
        for t, kind, node, peer, _mid, detail in self.entries[:limit]:
            arrow = "->" if kind in ("send", "drop", "dup", "reorder") else "<-"
            peer_s = "" if peer is None else f"{arrow} {peer}"
            out.append(f"{t / 1000:>12.1f} us  {kind:<9} {node!s:<6} {peer_s:<10} "
                       f"{'' if detail is None else repr(detail)}")
        if len(self.entries) > limit:
            out.append(f"... {len(self.entries) - limit} more")
        return "\n".join(out)

    def frame(self) -> pd.DataFrame:
        """All entries as a DataFrame (``detail`` as its repr)."""
        import pandas as pd

        self._require()
        return pd.DataFrame(
            [(t, k, n, p, m, None if d is None else repr(d)) for t, k, n, p, m, d in self.entries],
            columns=["t_ns", "kind", "node", "peer", "mid", "detail"])

    def messages(self) -> pd.DataFrame:
        """One row per delivery attempt: ``mid, src, dst, sent_ns, end_ns, outcome, latency_ns``.

        Rows are in the order the messages were sent. ``outcome`` is ``deliver`` or
        ``drop:<reason>``; a message dropped at its sender (loss, a
        partition at send time) has ``end_ns == sent_ns``. A duplicated message has two rows.
        """
        import pandas as pd

        self._require()
        sent: dict[int, tuple[int, Any, Any]] = {}
        rows = []
        for t, kind, node, peer, mid, detail in self.entries:
            if kind == "send":
                sent[mid] = (t, node, peer)
            elif kind in ("deliver", "drop") and mid in sent:
                t0, src, dst = sent[mid]
                outcome = "deliver" if kind == "deliver" else f"drop:{detail}"
                rows.append((mid, src, dst, t0, t, outcome, t - t0))
        rows.sort(key=lambda r: r[0])  # in the order sent (stable: a duplicate after its twin)
        return pd.DataFrame(rows, columns=["mid", "src", "dst", "sent_ns", "end_ns", "outcome",
                                           "latency_ns"])
