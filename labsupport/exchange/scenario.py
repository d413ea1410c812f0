"""A scripted multi-session order flow, run through FIX and straight into Lab 02's engines.

What it is for: the exchange's main differential check. :func:`script` draws a seeded flow
(several sessions, limit/IOC/FOK orders around one mid, cancels and replaces of earlier
orders); :func:`run_fix` sends it to a running venue through :class:`~.client.FixClient`
(simplefix), one message at a time, each sent once the previous one is acknowledged, and
rebuilds the trades from the ExecutionReports; :func:`run_engine` feeds the same flow to
:class:`~labsupport.orderbook.MatchingEngine` or the naive
:class:`~labsupport.orderbook.ReferenceEngine` directly. Both give trades as
``(symbol, price_ticks, qty, aggressor_side, aggressor_key, resting_key)`` where a key is
``"SESSION:first ClOrdID"``, and books as the L2 levels per symbol.

Pairing reports into trades: the gateway numbers ExecIDs in the order it writes reports, and
the matcher reports each trade as the resting order's fill, then the aggressor's; so sorted
by ExecID, fills come in (resting, aggressor) pairs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from labsupport.orderbook import BUY, FOK, IOC, LIMIT, SELL, MatchingEngine, Recorder

from .client import FixClient, FixClientError

__all__ = ["FlowResult", "Step", "check_reports", "run_engine", "run_fix", "script"]

_TIF_TYPE = {"0": LIMIT, "3": IOC, "4": FOK}


@dataclass(frozen=True)
class Step:
    """One message: ``kind`` D, F or G; ``orig`` the order's first ClOrdID (F, G)."""

    kind: str
    session: str
    clordid: str
    symbol: str
    side: str
    qty: int = 0
    price: str = ""
    tif: str = "0"
    orig: str = ""


@dataclass
class FlowResult:
    trades: list[tuple] = field(default_factory=list)
    reports: dict[str, list[dict[int, str]]] = field(default_factory=dict)


def script(seed: int = 1, n: int = 120, sessions: int = 3, symbols: tuple[str, ...] = ("AAA", "BBB")
           ) -> list[Step]:
    """A seeded flow of ``n`` messages over ``sessions`` sessions."""
    rng = random.Random(seed)
    names = [f"S{i + 1}" for i in range(sessions)]
    placed: list[Step] = []
    steps: list[Step] = []
    for i in range(n):
        sess = rng.choice(names)
        r = rng.random()
        mine = [s for s in placed if s.session == sess and s.tif == "0"]
        if mine and r < 0.12:
            o = rng.choice(mine)
            steps.append(Step("F", sess, f"c{i}", o.symbol, o.side, orig=o.clordid))
        elif mine and r < 0.22:
            o = rng.choice(mine)
            price = f"{Decimal(100) + Decimal(rng.randint(-4, 4)) / 100:.2f}"
            steps.append(Step("G", sess, f"r{i}", o.symbol, o.side, rng.randint(1, 60), price,
                              orig=o.clordid))
        else:
            side = rng.choice("12")
            price = f"{Decimal(100) + Decimal(rng.randint(-4, 4)) / 100:.2f}"
            tif = rng.choices("034", weights=(8, 1, 1))[0]
            step = Step("D", sess, f"o{i}", rng.choice(symbols), side, rng.randint(1, 50), price, tif)
            placed.append(step)
            steps.append(step)
    return steps


def run_fix(host: str, port: int, steps: list[Step], *, settle_s: float = 0.5,
            after: Callable[[int], None] | None = None) -> FlowResult:
    """Send ``steps`` through one FIX session per name; collect every report. ``after(i)``
    runs once step ``i`` is acknowledged (the tests check the feeds there)."""
    clients: dict[str, FixClient] = {}
    out = FlowResult()
    first: dict[tuple[str, str], str] = {}  # (session, clordid) -> first ClOrdID
    try:
        for i, st in enumerate(steps):
            c = clients.get(st.session)
            if c is None:
                c = clients[st.session] = FixClient(host, port, st.session)
                c.logon()
                out.reports[st.session] = []
            if st.kind == "D":
                first[(st.session, st.clordid)] = st.clordid
                c.new_order(st.clordid, st.symbol, st.side, st.qty, st.price, tif=st.tif)
            elif st.kind == "F":
                first[(st.session, st.clordid)] = st.orig
                c.cancel(st.clordid, _current(out.reports[st.session], st.orig, first, st.session),
                         st.symbol, st.side)
            else:
                first[(st.session, st.clordid)] = st.orig
                c.replace(st.clordid, _current(out.reports[st.session], st.orig, first, st.session),
                          st.symbol, st.side, st.qty, st.price)
            while True:  # this message's answer: for D the ack, for F/G its 8 or 9
                m = c.recv(until=lambda m: m.get(35) in ("8", "9"))
                out.reports[st.session].append(m)
                if m.get(11) == st.clordid and m.get(150) != "F":
                    break
            if after is not None:
                after(i)
        for name, c in clients.items():  # reports to other sessions still on the wire
            while True:
                try:
                    out.reports[name].append(c.recv(until=lambda m: m.get(35) in ("8", "9"),
                                                    timeout_s=settle_s))
                except FixClientError:
                    break
    finally:
        for c in clients.values():
            c.logout()
    fills = sorted(((int(m[17][1:]), name, m) for name, ms in out.reports.items() for m in ms
                    if m.get(35) == "8" and m.get(150) == "F"), key=lambda t: t[0])
    for (_, rname, rest), (_, aname, aggr) in zip(fills[::2], fills[1::2], strict=True):
        out.trades.append((aggr[55], int(Decimal(aggr[31]) * 100), int(aggr[32]),
                           BUY if aggr[54] == "1" else SELL,
                           f"{aname}:{first[(aname, aggr[11])]}",
                           f"{rname}:{first[(rname, rest[11])]}"))
    return out


def _current(reports: list[dict[int, str]], orig: str, first: dict, session: str) -> str:
    """The order's latest ClOrdID (after replaces), as the client must name it."""
    current = orig
    for m in reports:
        if m.get(150) == "5" and first.get((session, m.get(11))) == orig:
            current = m[11]
    return current


def run_engine(steps: list[Step], engine: type = MatchingEngine,
               symbols: tuple[str, ...] = ("AAA", "BBB")) -> tuple[list[tuple], dict[str, dict]]:
    """The same flow straight into a Lab 02 engine: (trades, books)."""
    rec = Recorder()
    eng = engine(symbols, listener=rec) if engine is MatchingEngine else engine(symbols)
    cum: dict[str, int] = {}
    for st in steps:
        key = f"{st.session}:{st.orig or st.clordid}"
        if st.kind == "D":
            otype = _TIF_TYPE[st.tif]
            eng.add(st.symbol, key, BUY if st.side == "1" else SELL, otype,
                    int(Decimal(st.price) * 100), st.qty, st.session)
        elif st.kind == "F":
            eng.cancel(key, st.symbol)
        else:
            trades = rec.trades if engine is MatchingEngine else eng.trades
            done = sum(t.qty for t in trades if key in (t.aggressor_id, t.resting_id))
            cum[key] = done
            if st.qty - done > 0:
                eng.modify(key, int(Decimal(st.price) * 100), st.qty - done, st.symbol)
    trades = rec.trades if engine is MatchingEngine else eng.trades
    books = {}
    for s in symbols:
        if engine is MatchingEngine:
            snap = eng.l2_snapshot(s, None)
            bids, asks = snap.bids, snap.asks
        else:
            bids, asks = eng.depth(s, BUY), eng.depth(s, SELL)
        books[s] = {"bids": [[lv.price_ticks, lv.qty, lv.orders] for lv in bids],
                    "asks": [[lv.price_ticks, lv.qty, lv.orders] for lv in asks]}
    return ([(t.symbol, t.price_ticks, t.qty, t.aggressor_side, t.aggressor_id, t.resting_id)
             for t in trades], books)


def check_reports(reports: list[dict[int, str]]) -> list[str]:
    """Every ExecutionReport's arithmetic, per OrderID: CumQty is the sum of LastQty,
    LeavesQty is OrderQty - CumQty while live and 0 when done, AvgPx is the fills' average,
    OrdStatus agrees with ExecType. Returns the problems found (empty: all consistent)."""
    problems = []
    state: dict[str, list] = {}
    for m in reports:
        if m.get(35) != "8":
            continue
        oid, x, st = m[37], m[150], m[39]
        cum, notional = state.setdefault(oid, [0, Decimal(0)])
        if x == "F":
            cum += int(m[32])
            notional += int(m[32]) * Decimal(m[31])
        state[oid] = [cum, notional]
        qty, leaves = int(m[38]), int(m[151])
        if int(m[14]) != cum:
            problems.append(f"{oid} {m[17]}: CumQty {m[14]} != sum of LastQty {cum}")
        live = st in ("0", "1")
        if (live and leaves != qty - cum) or (not live and leaves != 0):
            problems.append(f"{oid} {m[17]}: LeavesQty {leaves} with OrdStatus {st}, qty {qty}, cum {cum}")
        if cum and abs(Decimal(m[6]) - notional / cum) > Decimal("0.000001"):
            problems.append(f"{oid} {m[17]}: AvgPx {m[6]} != {notional / cum}")
        want = {"0": ("0",), "F": ("1", "2"), "4": ("4",), "8": ("8",), "5": ("0", "1", "2")}[x]
        if st not in want or (x == "F" and st != ("2" if leaves == 0 else "1")):
            problems.append(f"{oid} {m[17]}: ExecType {x} with OrdStatus {st}")
    return problems
