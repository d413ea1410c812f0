"""Notebook helpers: a sans-IO session walk-through, the order-mix explorer, plots.

:func:`session_walkthrough` feeds a :class:`~.session.FixSession` a logon, a lost message and
the resend, and lists every message in and out (deterministic: fixed clocks). :func:`mix_run`
pushes a seeded bot-like order mix through :class:`~.local.ExchangeCore` in this process (no
sockets: sub-second) and summarises what the venue did; :func:`explorer` puts sliders on it.
:func:`plot_hops` draws the per-hop breakdown of :func:`.latency.breakdown_table`.
"""

from __future__ import annotations

import random
from typing import Any

from labsupport.protocols.fix import FixStream, encode

from .local import ExchangeCore
from .session import FixSession, SessionStore

__all__ = ["explorer", "mix_run", "plot_hops", "session_walkthrough"]


def _client(mtype: str, seq: int, *fields: tuple[int, object]) -> bytes:
    return encode(mtype, [(49, "FIRM1"), (56, "LABX"), (34, seq), (52, "20260101-09:30:00.000"),
                          *fields])


def _show(raw: bytes) -> list[str]:
    st = FixStream()
    st.feed(raw)
    return ["|".join(f"{t}={v.decode()}" for t, v in m.fields if t not in (8, 9, 10, 52))
            for m in st]


def session_walkthrough() -> list[tuple[str, str]]:
    """(direction, message) rows of a session with a gap and its recovery."""
    store = SessionStore()
    s = FixSession(lambda comp: store, clock=lambda: 0, wall=lambda: 1_767_225_600.0)
    rows: list[tuple[str, str]] = []
    order = [(11, "o1"), (55, "AAPL"), (54, "1"), (38, 100), (40, "2"), (44, "187.25"), (59, "0")]
    for raw in (_client("A", 1, (98, 0), (108, 30), (141, "Y")),
                _client("D", 3, *order),  # number 2 was lost
                _client("D", 2, (43, "Y"), (11, "o0"), *order[1:])):
        rows += [("in", m) for m in _show(raw)]
        app = s.receive(raw)
        rows += [("out", m) for m in _show(s.take_output())]
        rows += [("to app", f"35=D ClOrdID {m.get(11)}") for m in app]
    return rows


def mix_run(orders: int = 2000, ioc: float = 0.1, cancel: float = 0.2, spread: int = 5,
            seed: int = 0) -> dict[str, Any]:
    """A seeded order mix through the in-process exchange; what happened to it."""
    rng = random.Random(seed)
    core = ExchangeCore(["AAPL"])
    s = core.gateway.connect()
    core.gateway.receive(s, _client("A", 1, (98, 0), (108, 30), (141, "Y")))
    live: list[str] = []
    seq = 2
    for i in range(orders):
        if live and rng.random() < cancel:
            orig = live.pop(rng.randrange(len(live)))
            raw = _client("F", seq, (41, orig), (11, f"c{i}"), (55, "AAPL"), (54, "1"))
        else:
            side = rng.choice("12")
            off = rng.randint(-spread, spread)
            px = 10_000 + (off if side == "1" else -off)
            tif = "3" if rng.random() < ioc else "0"
            raw = _client("D", seq, (11, f"n{i}"), (55, "AAPL"), (54, side),
                          (38, rng.randint(1, 100)), (40, "2"), (44, f"{px / 100:.2f}"), (59, tif))
            if tif == "0":
                live.append(f"n{i}")
        seq += 1
        core.gateway.receive(s, raw)
        core.pump()
        s.take_output()
    book = core.matchers[0].l2("AAPL")
    gw = core.gateway.counts
    return {"orders": gw["orders"], "cancels": gw["cancels"], "reports": gw["reports"],
            "trades": len(core.dropcopy.fills), "resting": core.matchers[0].engine.live_order_count,
            "bid levels": len(book["bids"]), "ask levels": len(book["asks"]),
            "best bid": book["bids"][0][0] / 100 if book["bids"] else None,
            "best ask": book["asks"][0][0] / 100 if book["asks"] else None}


def explorer() -> Any:
    """Sliders on the order mix; shows :func:`mix_run` for each setting."""
    import ipywidgets as widgets
    from IPython.display import display

    def show(ioc: float = 0.1, cancel: float = 0.2, spread: int = 5) -> None:
        display(mix_run(500, ioc, cancel, spread))

    ui = widgets.interactive(show, ioc=widgets.FloatSlider(0.1, min=0, max=1, step=0.05),
                             cancel=widgets.FloatSlider(0.2, min=0, max=0.9, step=0.05),
                             spread=widgets.IntSlider(5, 0, 50, 1))
    show()  # the default output, so the stored notebook shows a result
    return ui


def plot_hops(tables: dict[str, dict[str, dict[str, float]]], stat: str = "p50_us") -> Any:
    """Stacked bars: the per-hop time of each venue (``{"services": table, ...}``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for row, table in enumerate(tables.values()):
        left = 0.0
        for hop, v in table.items():
            if hop == "total":
                continue
            ax.barh(row, v[stat], left=left, label=hop if row == 0 else None)
            left += v[stat]
    ax.set_yticks(range(len(tables)), list(tables))
    ax.set_xlabel(f"{stat.split('_')[0]} per hop (us), order in to acknowledgement")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
