"""The timeline of a simulated run: nodes on the y axis, messages as arrows, faults marked.

The picture of a message-sequence chart (the space-time diagrams of Lamport's 1978 paper, or
what ShiViz draws from a distributed system's logs), drawn with matplotlib from a
:class:`~labsupport.sim.trace.Trace`:

- each node is a horizontal life line, solid while it is up, dotted while it is down;
- a delivered message is an arrow from (send time, sender) to (arrival time, receiver);
- a dropped message is a dashed red line ending in a red ``x``: at the receiver's line for a
  drop at arrival (a partition that cut it in flight, a crashed receiver), a short stub at the
  sender for a drop at send time (loss, a partition already in place);
- a crash is a black ``X``, a restart a green triangle, a timer a small grey dot;
- a partition is a shaded band from the moment it is made to the next heal.

At most ``max_messages`` messages are drawn (the first ones in the window), so a long run stays
readable; narrow the window with ``start_ns``/``end_ns`` to see later parts. All arrows are one
``quiver`` and all dropped paths one ``LineCollection``: an artist per message (``annotate``)
made a 300-message plot take seconds to render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .trace import Trace

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_timeline"]

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_UP = dict(color="0.3", lw=1.2)  # a node's life line while it runs
_DOWN = dict(color="0.5", lw=1, ls=":")  # and while it is crashed


def _node_order(trace: Trace) -> list:
    """Nodes in the order they started, then any other name that appears in a message."""
    seen: dict = {}
    for _, kind, node, _, _, _ in trace:
        if kind == "start":
            seen.setdefault(node, None)
    for _, kind, node, peer, _, _ in trace:
        if kind in ("send", "deliver", "drop"):
            seen.setdefault(node, None)
            seen.setdefault(peer, None)
    return list(seen)


def plot_timeline(trace: Trace, *, ax: Axes | None = None, nodes: list | None = None,
                  start_ns: int = 0, end_ns: int | None = None, unit: str = "ms",
                  max_messages: int = 300,
                  title: str = "Simulated run: messages and faults") -> Axes:
    """Draw ``trace`` as a timeline on ``ax`` (a new figure if None) and return the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if unit not in _UNITS:
        raise ValueError(f"unit={unit!r}: expected one of {', '.join(_UNITS)}")
    div = _UNITS[unit]
    entries = [e for e in trace if e[0] >= start_ns and (end_ns is None or e[0] <= end_ns)]
    last = end_ns if end_ns is not None else (entries[-1][0] if entries else start_ns + 1)
    order = nodes if nodes is not None else _node_order(trace)
    y = {n: i for i, n in enumerate(order)}
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.0 + 0.6 * max(len(order), 2)), layout="constrained")

    # life lines: solid from a start or restart to the next crash, dotted while down
    changes: dict = {n: [] for n in order}
    for t, kind, node, *_ in trace:
        if node in changes and kind in ("start", "restart", "crash"):
            changes[node].append((t, kind))
    for n, marks in changes.items():
        for i, (t, kind) in enumerate(marks):
            t_next = marks[i + 1][0] if i + 1 < len(marks) else max(t, last)
            style = _DOWN if kind == "crash" else _UP
            ax.plot([t / div, t_next / div], [y[n], y[n]], zorder=1, **style)
            if kind == "crash":
                ax.plot([t / div], [y[n]], marker="X", color="black", ms=9, zorder=4)
            elif kind == "restart":
                ax.plot([t / div], [y[n]], marker="^", color="tab:green", ms=8, zorder=4)

    # partitions: shaded from a partition to the next heal
    cut_at = None
    for t, kind, *_ in trace:
        if kind == "partition" and cut_at is None:
            cut_at = t
        elif kind == "heal" and cut_at is not None:
            ax.axvspan(cut_at / div, t / div, color="tab:red", alpha=0.08, zorder=0)
            cut_at = None
    if cut_at is not None:
        ax.axvspan(cut_at / div, max(cut_at, last) / div, color="tab:red", alpha=0.08, zorder=0)

    # messages: collected first, then drawn as a few artists (one quiver for every arrow, one
    # line collection for every dropped path): per-message artists take seconds to render
    sent: dict = {}
    drawn = 0
    arrows: list[tuple[float, float, float, float]] = []
    dropped: list[list[tuple[float, float]]] = []
    timers = []
    for t, kind, node, peer, mid, detail in entries:
        if kind == "send":
            sent[mid] = (t, node, peer)
        elif kind == "timer" and node in y:
            timers.append((t / div, y[node]))
        elif kind in ("deliver", "drop") and mid in sent and drawn < max_messages:
            t0, src, dst = sent[mid]
            if src not in y or dst not in y:
                continue
            drawn += 1
            if kind == "deliver":
                arrows.append((t0 / div, y[src], (t - t0) / div, y[dst] - y[src]))
            elif t > t0 or detail == "down":  # cut on the way, or nobody home: ends at dst
                dropped.append([(t0 / div, y[src]), (t / div, y[dst])])
            else:  # dropped as it left: a short stub towards dst
                stub = (last - start_ns) * 0.004 / div
                dropped.append([(t0 / div, y[src]),
                                (t0 / div + stub, y[src] + (0.25 if y[dst] > y[src] else -0.25))])
    if arrows:
        x0, y0, dx, dy = zip(*arrows)
        ax.quiver(x0, y0, dx, dy, angles="xy", scale_units="xy", scale=1, color="tab:blue",
                  alpha=0.7, width=0.0015, headwidth=5, headlength=6, zorder=2)
    if dropped:
        ax.add_collection(LineCollection(dropped, colors="tab:red", linewidths=0.8,
                                         linestyles="--", zorder=2))
        ax.scatter([seg[1][0] for seg in dropped], [seg[1][1] for seg in dropped], marker="x",
                   color="tab:red", s=30, zorder=4)
    if timers:
        ax.scatter([t for t, _ in timers], [v for _, v in timers], s=6, color="0.55", zorder=3)

    ax.set_yticks(range(len(order)), [str(n) for n in order])
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlim(start_ns / div, max(last, start_ns + 1) / div)
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel("node")
    ax.set_title(title)
    ax.legend(handles=[
        Line2D([], [], color="tab:blue", marker=">", lw=0.8, label="delivered"),
        Line2D([], [], color="tab:red", marker="x", lw=0.8, ls="--", label="dropped"),
        Line2D([], [], color="black", marker="X", lw=0, label="crash"),
        Line2D([], [], color="tab:green", marker="^", lw=0, label="restart"),
        Line2D([], [], color="0.55", marker=".", lw=0, label="timer"),
        plt.Rectangle((0, 0), 1, 1, color="tab:red", alpha=0.15, label="partition"),
    ], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    return ax
