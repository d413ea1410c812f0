"""Notebook helpers for Lab 13: hex dumps, field-by-field views, message mix, rates, book views.

Glue only: everything here calls the parsers and the book; nothing here parses on its own.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from .fix.message import FixMessage, parse
from .itch.book import ItchBook
from .itch.layout import LAYOUTS
from .itch.parser import iter_tuples
from .itch.vector import Decoded

__all__ = [
    "hexdump",
    "itch_fields",
    "message_mix",
    "plot_message_mix",
    "plot_message_rate",
    "book_at_times",
    "fix_bar",
    "execution_reports",
]


def hexdump(data: bytes, width: int = 16) -> str:
    """Classic offset / hex / ASCII dump."""
    lines = []
    for i in range(0, len(data), width):
        chunk = data[i : i + width]
        hx = " ".join(f"{b:02x}" for b in chunk)
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{i:04x}  {hx:<{width * 3}} {asc}")
    return "\n".join(lines)


def itch_fields(msg: bytes) -> pd.DataFrame:
    """One row per field of one ITCH message (without length prefix): offset, bytes, value."""
    lay = LAYOUTS[chr(msg[0])]
    (t,) = list(iter_tuples(len(msg).to_bytes(2, "big") + msg))
    rows = []
    for f, v in zip(lay.fields, t):
        if f.kind == "p4":
            v = format(Decimal(v).scaleb(-4), "f")
        elif f.kind == "p8":
            v = format(Decimal(v).scaleb(-8), "f")
        elif isinstance(v, bytes):
            v = v.decode("latin-1")
        rows.append({"field": f.name, "offset": f.offset, "length": f.length, "kind": f.kind,
                     "bytes": msg[f.offset : f.offset + f.length].hex(" "), "value": v})
    return pd.DataFrame(rows)


def message_mix(dec: Decoded) -> pd.DataFrame:
    """Counts and share of each message type, spec order."""
    counts = dec.counts()
    total = sum(counts.values())
    return pd.DataFrame(
        [{"type": t, "name": LAYOUTS[t].title, "messages": n, "share %": round(100 * n / total, 2)}
         for t, n in counts.items()]
    ).set_index("type")


def plot_message_mix(dec: Decoded, ax=None):
    import matplotlib.pyplot as plt

    mix = message_mix(dec)
    ax = ax or plt.subplots(figsize=(9, 3.2))[1]
    ax.bar(mix.index, mix["messages"], color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlabel("ITCH message type")
    ax.set_ylabel("messages (log)")
    ax.set_title("Message mix of the generated day")
    return ax


def plot_message_rate(dec: Decoded, bin_s: float = 1.0, ax=None):
    """Messages per second over the session (all types), from the decoded timestamps."""
    import matplotlib.pyplot as plt

    ts = np.concatenate([a["timestamp"] for a in dec.arrays.values()]).astype(np.float64) / 1e9
    ax = ax or plt.subplots(figsize=(9, 3.2))[1]
    busy = ts[ts >= 9.5 * 3600]
    edges = np.arange(busy.min(), busy.max() + bin_s, bin_s)
    counts, _ = np.histogram(busy, edges)
    ax.step((edges[:-1] - 9.5 * 3600), counts / bin_s, where="post")
    ax.set_xlabel("seconds after 09:30:00")
    ax.set_ylabel("messages / s")
    ax.set_title(f"Message rate over the session ({bin_s:g} s bins)")
    return ax


def book_at_times(data: bytes, stock: str, times_ns: list[int], depth: int = 5) -> dict[int, pd.DataFrame]:
    """L2 of ``stock`` as it stood at each timestamp (ns since midnight), replaying the feed once."""
    book = ItchBook()
    out: dict[int, pd.DataFrame] = {}
    pending = sorted(times_ns)
    loc = None

    def snap(ts):
        s = book.l2(loc, depth)
        rows = [{"side": "bid", "price": p.price_ticks / 1e4, "shares": p.qty, "orders": p.orders} for p in s.bids]
        rows += [{"side": "ask", "price": p.price_ticks / 1e4, "shares": p.qty, "orders": p.orders} for p in s.asks]
        out[ts] = pd.DataFrame(rows)

    for t in iter_tuples(data):
        while pending and t[3] > pending[0]:
            snap(pending.pop(0))
        book.apply(t)
        if loc is None and t[0] == "R" and t[4].rstrip(b" ").decode() == stock:
            loc = t[1]
    for ts in pending:
        snap(ts)
    return out


def fix_bar(raw: bytes) -> str:
    """A FIX message with SOH shown as ``|`` (how FIX logs are usually printed)."""
    return raw.replace(b"\x01", b"|").decode("latin-1")


def execution_reports(answers: list[bytes | FixMessage]) -> pd.DataFrame:
    """The key fields of 8 and 9 answers as a table."""
    names = {35: "MsgType", 11: "ClOrdID", 41: "OrigClOrdID", 150: "ExecType", 39: "OrdStatus",
             54: "Side", 32: "LastQty", 31: "LastPx", 151: "LeavesQty", 14: "CumQty", 58: "Text"}  # fmt: skip
    rows = []
    for a in answers:
        m = a if isinstance(a, FixMessage) else parse(a)
        rows.append({n: m.get(t, "") for t, n in names.items()})
    return pd.DataFrame(rows)
