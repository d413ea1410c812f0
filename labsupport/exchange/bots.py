"""A bot load generator: many FIX sessions sending a seeded order mix at an open-loop rate.

What it mirrors: the traffic of many participants at once, and the way latency should be
measured under load. Open loop: order ``i`` is *due* at ``t0 + i / rate`` whether or not the
venue has answered the previous ones, and its order-to-ack latency is counted from when it was
due, not from when it was finally sent, so a stalled venue shows its stall instead of hiding
it (the "coordinated omission" a closed-loop client makes).

Theory of operation. One thread, non-blocking sockets and a selector: log every session on,
then loop: send every order that is due (round-robin over the sessions), read whatever came
back, parse it with Lab 13's stream parser (the bots are the load, so they use the fast
codec; the simplefix client checks conformance), and note the time of each acknowledgement
(150=0 or 150=8) and of each fill. The mix (:class:`Mix`) draws side, price offset around a
mid, size, IOC share and cancel share from a seeded ``random.Random``. Session messages are
served as a real initiator would (a Heartbeat for a TestRequest, the kept messages again for
a ResendRequest), and a Reject or Logout is noted for the error that names what a run that
timed out was still waiting for.
"""

from __future__ import annotations

import random
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labsupport.protocols.fix import FixMessage, FixStream, encode

from .client import FixClient
from .session import EXCHANGE_COMP_ID, utc_timestamp

__all__ = ["LoadResult", "Mix", "PROGRESS_S", "run_load"]

PROGRESS_S = 5.0  # how often a long wait reports how it is going


@dataclass(frozen=True)
class Mix:
    """The order mix: ``mid`` in ticks, offsets up to ``spread`` ticks, sizes 1..``max_qty``."""

    symbols: tuple[str, ...] = ("AAPL",)
    mid: int = 10_000
    spread: int = 5
    max_qty: int = 100
    ioc: float = 0.1
    cancel: float = 0.2


@dataclass
class LoadResult:
    sessions: int
    offered_rate: float
    sent: int = 0
    acks: int = 0
    fills: int = 0
    reports: int = 0
    elapsed_s: float = 0.0
    ack_ns: list[int] = field(default_factory=list)  # order-to-ack, from the due time
    unacked: dict[str, int] = field(default_factory=dict)  # session -> orders still waiting
    notes: list[str] = field(default_factory=list)  # what the venue said besides reports

    def waiting(self) -> str:
        """Which sessions wait for how many acknowledgements, and the venue's last words."""
        who = ", ".join(f"{c}: {n}" for c, n in sorted(self.unacked.items()) if n) or "none"
        said = "; ".join(self.notes[-3:]) or "nothing but reports"
        return f"sessions waiting (orders): {who}; the venue said: {said}"

    @property
    def throughput(self) -> float:
        return self.acks / self.elapsed_s if self.elapsed_s else 0.0

    def summary(self) -> dict:
        lat = np.asarray(self.ack_ns, dtype=np.int64) / 1000.0
        pct = (lambda q: float(np.percentile(lat, q))) if lat.size else (lambda q: float("nan"))
        return {"sessions": self.sessions, "offered_per_s": self.offered_rate, "sent": self.sent,
                "acks": self.acks, "fills": self.fills, "acks_per_s": round(self.throughput),
                "ack_p50_us": round(pct(50), 1), "ack_p99_us": round(pct(99), 1),
                "ack_max_us": round(float(lat.max()), 1) if lat.size else float("nan")}


class _Bot:
    def __init__(self, sock: socket.socket, comp: str) -> None:
        self.sock, self.comp = sock, comp
        self.stream = FixStream()
        self.seq = 2  # the Logon was 1
        self.live: list[tuple[str, str, str]] = []  # resting orders: (clordid, symbol, side)
        self.out = bytearray()
        self.kept: dict[int, tuple[str, list, str]] = {}  # seq -> (type, fields, SendingTime)
        self.waiting = 0  # orders sent and not yet acknowledged

    def message(self, mtype: str, fields: list) -> None:
        sending = utc_timestamp(time.time())
        self.kept[self.seq] = (mtype, fields, sending)
        self.out += encode(mtype, [(49, self.comp), (56, EXCHANGE_COMP_ID), (34, self.seq),
                                   (52, sending), *fields])
        self.seq += 1

    def session(self, m: FixMessage, notes: list[str]) -> None:
        """A session message from the venue: answer a TestRequest, serve a ResendRequest (a
        bot that ignored one would see its session park every later order), note a Reject
        or a Logout."""
        mtype = m.get(35)
        if mtype == "1":
            self.message("0", [(112, m.get(112) or "")])
        elif mtype == "2":
            begin, end = int(m.get(7) or 1), int(m.get(16) or 0) or self.seq - 1
            notes.append(f"{self.comp}: ResendRequest {begin}..{end}")
            for seq in range(begin, end + 1):
                kept = self.kept.get(seq)
                if kept is None:  # the Logon: filled with a gap
                    self.out += encode("4", [(49, self.comp), (56, EXCHANGE_COMP_ID), (34, seq),
                                             (43, "Y"), (52, utc_timestamp(time.time())),
                                             (123, "Y"), (36, seq + 1)])
                    continue
                mt, fields, sending = kept
                self.out += encode(mt, [(49, self.comp), (56, EXCHANGE_COMP_ID), (34, seq),
                                        (43, "Y"), (52, utc_timestamp(time.time())),
                                        (122, sending), *fields])
        elif mtype in ("3", "5"):
            notes.append(f"{self.comp}: 35={mtype} {m.get(58) or ''}".rstrip())


def run_load(host: str, port: int, *, sessions: int = 4, rate: float = 1000.0,
             orders: int = 2000, mix: Mix = Mix(), seed: int = 0, timeout_s: float = 30.0,
             prefix: str = "BOT", progress: Callable[[str], None] | None = None) -> LoadResult:
    """Send ``orders`` orders at ``rate`` per second over ``sessions`` sessions; wait for
    every acknowledgement (or ``timeout_s``: then ``unacked`` and ``notes`` say what was still
    awaited); return counts and latencies. ``progress`` hears a line every few seconds."""
    rng = random.Random(seed)
    bots = []
    for i in range(sessions):
        c = FixClient(host, port, f"{prefix}{i}", heartbeat_s=30)
        c.logon()
        c.sock.setblocking(False)
        bots.append(_Bot(c.sock, c.sender))
    sel = selectors.DefaultSelector()
    for b in bots:
        sel.register(b.sock, selectors.EVENT_READ, b)
    res = LoadResult(sessions, rate)
    due: dict[str, int] = {}
    t0 = time.monotonic_ns()
    interval = 1e9 / rate
    i = 0
    deadline = t0 + int(timeout_s * 1e9)
    note = t0 + int(PROGRESS_S * 1e9)
    while True:
        now = time.monotonic_ns()
        while i < orders and t0 + i * interval <= now:
            b = bots[i % sessions]
            when = int(t0 + i * interval)
            if b.live and rng.random() < mix.cancel:
                clordid, sym, side = b.live.pop(rng.randrange(len(b.live)))
                b.message("F", [(41, clordid), (11, f"c{i}"), (55, sym), (54, side)])
            else:
                side = rng.choice("12")
                off = rng.randint(-mix.spread, mix.spread)
                px = mix.mid + (off if side == "1" else -off)
                tif = "3" if rng.random() < mix.ioc else "0"
                sym = mix.symbols[i % len(mix.symbols)]
                cl = f"n{i}"
                b.message("D", [(11, cl), (55, sym), (54, side), (38, rng.randint(1, mix.max_qty)),
                                (40, "2"), (44, f"{px // 100}.{px % 100:02d}"), (59, tif)])
                due[cl] = when
                b.waiting += 1
                if tif == "0":
                    b.live.append((cl, sym, side))
                res.sent += 1
            i += 1
        for b in bots:
            if b.out:
                try:
                    n = b.sock.send(b.out)
                    del b.out[:n]
                except BlockingIOError:
                    pass
        if i >= orders and res.acks >= res.sent and not any(b.out for b in bots):
            break
        if now > deadline:
            break
        if progress is not None and now >= note:
            note = now + int(PROGRESS_S * 1e9)
            progress(f"{prefix}: {i}/{orders} orders sent, {res.acks}/{res.sent} acknowledged, "
                     f"{(now - t0) / 1e9:.0f} s")
        wait = max(0.0, (t0 + i * interval - time.monotonic_ns()) / 1e9) if i < orders else 0.05
        for key, _ in sel.select(min(wait, 0.05)):
            b = key.data
            try:
                data = b.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            b.stream.feed(data)
            t = time.monotonic_ns()
            for m in b.stream:
                if not isinstance(m, FixMessage):
                    res.notes.append(f"{b.comp}: garbled message from the venue")
                elif m.get(35) == "8":
                    res.reports += 1
                    x = m.get(150)
                    if x in ("0", "8"):
                        sent_at = due.pop(m.get(11) or "", None)
                        if sent_at is not None:
                            res.acks += 1
                            b.waiting -= 1
                            res.ack_ns.append(t - sent_at)
                    elif x == "F":
                        res.fills += 1
                else:
                    b.session(m, res.notes)
    res.elapsed_s = (time.monotonic_ns() - t0) / 1e9
    res.unacked = {b.comp: b.waiting for b in bots}
    for b in bots:
        sel.unregister(b.sock)
        b.sock.close()
    return res
