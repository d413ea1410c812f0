"""Turn ``labsupport.marketdata`` order flow into a plausible TotalView-ITCH 5.0 day.

The order flow says what participants *sent* (adds, cancels, modifies of market, IOC, FOK and
limit orders). ITCH publishes what the exchange *did*. To get from one to the other the flow
is replayed through Lab 02's matching engine (:class:`labsupport.orderbook.MatchingEngine`),
and each outcome is written the way NASDAQ writes it:

==============================  ===================================================
engine outcome                  ITCH message
==============================  ===================================================
limit order (remainder) rests   A, or F with an MPID attribution (``attribution_frac``)
resting order trades            E against the resting order's reference, or C (with
                                price, printable) for ``exec_with_price_frac`` of them
modify: same price, fewer       X (partial cancel, the order keeps its place)
modify: anything else           U (new reference number), or D + executions + A when
                                the new price crosses and trades first
cancel of a live order          D
marketable order                additionally a P (non-displayed liquidity) now and then
rejected / expired orders       nothing: ITCH only shows displayed book changes
==============================  ===================================================

Around the flow the generator writes the day's frame: system events (start of messages,
system hours, market hours, ends), a stock directory per symbol, trading actions, Reg SHO
flags, market-maker positions, MWCB levels and status, an IPO quoting update, an LULD collar,
an operational halt notice, RPII interest, a DLCR price-discovery message, NOII imbalances
and opening/closing crosses, and one broken trade: every one of the 23 types appears.

Timestamps are ns since midnight: the flow starts at 09:30:00 and keeps its own spacing; the
closing messages follow one second after the last flow event (the generated session is short,
not 6.5 hours). Prices: the flow's cents become Price(4) (x 100). Deterministic for a given
flow and seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...marketdata import SESSION_OPEN_NS, OrderFlow
from ...orderbook import LIMIT, MatchingEngine, Recorder
from .layout import LAYOUTS
from .parser import STRUCTS

__all__ = ["ItchDay", "generate_itch_day", "OPEN_NS", "NS_PER_S"]

NS_PER_S = 1_000_000_000
OPEN_NS = (9 * 3600 + 30 * 60) * NS_PER_S  # 09:30:00 in ns since midnight
_ALPHA = {t: {f.name: f.length for f in lay.fields if f.kind == "alpha"} for t, lay in LAYOUTS.items()}


@dataclass
class ItchDay:
    """A generated feed: the framed bytes (file format), the symbols (locate = index + 1)."""

    data: bytes
    symbols: tuple[str, ...]
    n_messages: int

    def write(self, path) -> None:
        with open(path, "wb") as fh:
            fh.write(self.data)


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()
        self.n = 0
        self.tracking = 0

    def emit(self, letter: str, locate: int, ts: int, *body) -> None:
        self.tracking = (self.tracking + 1) & 0xFFFF
        vals = [v.encode() if isinstance(v, str) else v for v in body]
        for i, (f, v) in enumerate(zip(LAYOUTS[letter].fields[4:], vals)):
            if f.kind == "alpha":
                vals[i] = v.ljust(f.length, b" ")
        msg = STRUCTS[letter].pack(letter.encode(), locate, self.tracking, ts >> 32, ts & 0xFFFF_FFFF, *vals)
        self.out += len(msg).to_bytes(2, "big")
        self.out += msg
        self.n += 1


def generate_itch_day(
    flow: OrderFlow,
    *,
    seed: int = 0,
    attribution_frac: float = 0.2,
    exec_with_price_frac: float = 0.05,
    hidden_trade_frac: float = 0.05,
) -> ItchDay:
    """Replay ``flow`` through Lab 02's engine and write the outcome as an ITCH 5.0 day."""
    rng = np.random.default_rng(seed)
    w = _Writer()
    syms = tuple(flow.symbols)
    ev = flow.events
    first_ts = OPEN_NS + (int(ev["ts_ns"][0]) - SESSION_OPEN_NS if len(ev) else 0)
    pre = min(OPEN_NS, first_ts) - 6 * 3600 * NS_PER_S  # 03:30 when the flow starts at 09:30
    mpids = ("NSDQ", "GSCO", "MSCO", "UBSS")

    # --- before the open ------------------------------------------------------------------
    w.emit("S", 0, pre, "O")
    w.emit("V", 0, pre + 1000, 5_100_00000000, 4_700_00000000, 4_300_00000000)
    for loc, sym in enumerate(syms, 1):
        w.emit("R", loc, pre + 2000 + loc, sym, "Q", "N", 100, "N", "C", "Z", "P", "N", " ", "2", "N", 0, "N")
        w.emit("H", loc, pre + 3000 + loc, sym, "T", " ", "")
        w.emit("Y", loc, pre + 4000 + loc, sym, "0")
        w.emit("L", loc, pre + 5000 + loc, mpids[loc % 4], sym, "Y", "N", "A")
    w.emit("S", 0, pre + 2 * 3600 * NS_PER_S, "S")  # start of system hours (05:30 here)
    w.emit("K", len(syms), pre + 3 * 3600 * NS_PER_S, syms[-1], 34_200, "A", 0)
    w.emit("O", len(syms), pre + 4 * 3600 * NS_PER_S, syms[-1], "Y", 0, 0, 0, 0, 0, 0)
    w.emit("N", 1, pre + 5 * 3600 * NS_PER_S, syms[0], "B")
    ref_px = {}
    for loc, sym in enumerate(syms, 1):
        first = ev["price_ticks"][(ev["symbol"] == loc - 1) & (ev["price_ticks"] > 0)]
        ref_px[loc] = int(first[0]) * 100 if len(first) else 10_0000
        px = ref_px[loc]
        w.emit("I", loc, OPEN_NS - 10 * NS_PER_S, 0, 0, "O", sym, 0, 0, px, "O", " ")
        w.emit("I", loc, OPEN_NS - 5 * NS_PER_S, 1000, 200, "B", sym, 0, px, px, "O", "1")
    w.emit("S", 0, OPEN_NS, "Q")  # start of market hours

    match = 0
    for loc, sym in enumerate(syms, 1):
        match += 1
        w.emit("Q", loc, OPEN_NS + loc, 1000, sym, ref_px[loc], match, "O")
    w.emit("J", 1, OPEN_NS + 100, syms[0], ref_px[1], ref_px[1] * 11 // 10, ref_px[1] * 9 // 10, 0)
    w.emit("h", 1, OPEN_NS + 200, syms[0], "Q", "R")

    # --- the flow through Lab 02's engine --------------------------------------------------
    rec = Recorder()
    eng = MatchingEngine(range(len(syms)), pnl=False, listener=rec)
    live: dict[int, list[int]] = {}  # flow order id -> [itch ref, price4, shares, locate, side]
    next_ref = int(ev["order_id"].max()) + 1 if len(ev) else 1
    draws = rng.random((len(ev), 3))
    rows = ev[["ts_ns", "symbol", "action", "order_id", "side", "type", "price_ticks", "qty", "account"]].tolist()
    last_ts = OPEN_NS
    for i, (ts_ns, s, action, oid, side, otype, price, qty, acct) in enumerate(rows):
        ts = OPEN_NS + ts_ns - SESSION_OPEN_NS
        last_ts = ts
        loc = s + 1
        u = draws[i]
        n_trades = len(rec.trades)
        if action == 0:
            left = eng.add(s, oid, side, otype, price, qty, acct, i)
        elif action == 1:
            o = live.get(oid)
            if eng.cancel(oid, s, i) and o is not None:
                w.emit("D", loc, ts, o[0])
                del live[oid]
            continue
        else:
            o = live.get(oid)
            if o is None:
                eng.modify(oid, price, qty, s, i)
                continue
            if price * 100 == o[1] and qty <= o[2]:
                if eng.modify(oid, price, qty, s, i) >= 0 and qty < o[2]:
                    w.emit("X", loc, ts, o[0], o[2] - qty)
                    o[2] = qty
                continue
            left = eng.modify(oid, price, qty, s, i)
            if left < 0:
                continue
            if len(rec.trades) == n_trades:  # no trade: a plain replace
                w.emit("U", loc, ts, o[0], next_ref, qty, price * 100)
                o[0], o[1], o[2] = next_ref, price * 100, qty
                next_ref += 1
                continue
            w.emit("D", loc, ts, o[0])  # crossed: pull it, trade, re-add the rest
            del live[oid]
            oid_ref = next_ref
            next_ref += 1
            otype = LIMIT
        # executions against resting orders, in the engine's fill order
        for tr in rec.trades[n_trades:]:
            r = live.get(tr.resting_id)
            if r is None:
                continue
            match += 1
            if u[1] < exec_with_price_frac:
                w.emit("C", loc, ts, r[0], tr.qty, match, "Y", tr.price_ticks * 100)
            else:
                w.emit("E", loc, ts, r[0], tr.qty, match)
            r[2] -= tr.qty
            if r[2] <= 0:
                del live[tr.resting_id]
        if len(rec.trades) > n_trades and u[2] < hidden_trade_frac:
            tr = rec.trades[-1]
            match += 1
            w.emit("P", loc, ts, 0, "B" if tr.aggressor_side > 0 else "S", 100, syms[s], tr.price_ticks * 100, match)
        if otype == LIMIT and left > 0:
            ref = oid if action == 0 else oid_ref
            bs = "B" if side > 0 else "S"
            if u[0] < attribution_frac:
                w.emit("F", loc, ts, ref, bs, left, syms[s], price * 100, mpids[acct % 4])
            else:
                w.emit("A", loc, ts, ref, bs, left, syms[s], price * 100)
            live[oid] = [ref, price * 100, left, loc, side]
        del rec.trades[: len(rec.trades) - 1]  # keep memory flat (the last one feeds P)
        rec.executions.clear()
        rec.rejects.clear()

    # --- the close -------------------------------------------------------------------------
    close = last_ts + NS_PER_S
    w.emit("B", 1, close - NS_PER_S // 2, 1)  # break the first opening cross print
    w.emit("W", 0, close - NS_PER_S // 4, "1")
    w.emit("S", 0, close, "M")  # end of market hours
    for loc, sym in enumerate(syms, 1):
        match += 1
        w.emit("Q", loc, close + loc, 500, sym, ref_px[loc], match, "C")
        w.emit("H", loc, close + 1000 + loc, sym, "H", " ", "MCB3")
    w.emit("S", 0, close + NS_PER_S, "E")
    w.emit("S", 0, close + 2 * NS_PER_S, "C")
    return ItchDay(bytes(w.out), syms, w.n)
