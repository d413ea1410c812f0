"""The matching service: Lab 02's engine for one partition of the symbols, with a journal.

What it mirrors: a venue's matching engine process. Symbols are partitioned across matchers
(``partition_of``: the symbol's index in the venue's list, modulo the number of matchers), and
each matcher writes every input it accepts to a journal before applying it, the way
exchange engines log their sequenced input stream: a matcher killed with ``kill -9`` and
started again replays the journal into a fresh engine and has the same books.

Theory of operation. :meth:`Matcher.handle` takes one internal order message (``new``,
``cxl``, ``rpl``), journals it with the next journal sequence number (``jseq``), applies it to
a :class:`labsupport.orderbook.MatchingEngine` and turns what the engine reported (through a
:class:`~labsupport.orderbook.Listener`) into outgoing messages:

- to the gateway, per order: ``new`` (an acknowledgement, first), ``fill`` per execution,
  ``exp`` for an IOC/FOK/market remainder, ``cxl``, ``rpl``, ``rej`` with Lab 02's reason;
- to market data, per input: the L2 levels it changed, its trades, and the order-level changes
  of the visible book in ITCH terms (A add, E executed, D delete, U replace);
- to drop copy and risk: each trade with both accounts and both order ids.

Every output carries the journal number of the input that produced it (``jseq``, with
``part``), so a receiver can tell a new output from one it already has. Replay runs the same
path with the outputs thrown away, except the outputs a receiver has not seen: a matcher
killed after journaling an input and before publishing its outputs publishes them on restart
(exactly once at the receiver, which drops duplicates by journal number). Journal records are msgpack maps with
a 4-byte length prefix; a torn last record (a kill in mid-write) is ignored.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack

from labsupport.orderbook import LIMIT, Listener, MatchingEngine, Status

__all__ = ["Journal", "Matcher", "partition_of"]

_LEN = struct.Struct(">I")
_FILL = (Status.PARTIALLY_FILLED, Status.FILLED)


def partition_of(symbol: str, symbols: list[str] | tuple[str, ...], partitions: int) -> int:
    """Which matcher owns ``symbol``."""
    return list(symbols).index(symbol) % partitions


class Journal:
    """Append-only file of accepted inputs (survives ``kill -9``: every record is written to
    the OS at once, or with ``buffered=True`` every batch at :meth:`flush`, before anything
    derived from it is published; ``fsync`` too with ``durable=True``)."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False,
                 buffered: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self.buffered = buffered  # records wait in memory for :meth:`flush` (one write a batch)
        self._pending = bytearray()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, record: dict) -> None:
        data = msgpack.packb(record)
        self._pending += _LEN.pack(len(data))
        self._pending += data
        if not self.buffered:
            self.flush()

    def flush(self) -> None:
        """Write the records appended since the last flush (and fsync them if durable)."""
        if not self._pending:
            return
        view = memoryview(self._pending)
        while view:
            view = view[os.write(self._fd, view):]
        view.release()
        self._pending.clear()
        if self.durable:
            os.fsync(self._fd)

    def records(self) -> Iterator[dict]:
        data = self.path.read_bytes()
        pos = 0
        while pos + 4 <= len(data):
            (n,) = _LEN.unpack_from(data, pos)
            if pos + 4 + n > len(data):
                break  # torn write at the end
            yield msgpack.unpackb(data[pos + 4: pos + 4 + n])
            pos += 4 + n

    def close(self) -> None:
        self.flush()
        os.close(self._fd)


class _Collector(Listener):
    wants_l2 = True

    def __init__(self) -> None:
        self.trades: list = []
        self.reports: list = []
        self.rejects: list = []
        self.l2: list = []

    def on_trade(self, trade) -> None:
        self.trades.append(trade)

    def on_execution(self, report) -> None:
        self.reports.append(report)

    def on_reject(self, reject) -> None:
        self.rejects.append(reject)

    def on_l2_update(self, update) -> None:
        self.l2.append(update)

    def clear(self) -> None:
        self.trades.clear()
        self.reports.clear()
        self.rejects.clear()
        self.l2.clear()


class Matcher:
    """One matching partition. ``send(dest, msg)``: dest is ``gateway``, ``md``, ``fills``."""

    def __init__(self, symbols: list[str] | tuple[str, ...], partition: int = 0, *,
                 journal: Journal | None = None, send: Callable[[str, dict], None] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.symbols = tuple(symbols)
        self.partition = partition
        self.engine = MatchingEngine(self.symbols, listener=_Collector())
        self.journal = journal
        self.send = send or (lambda dest, msg: None)
        self.clock = clock
        self.jseq = 0
        self.refs: dict[int, int] = {}  # order id -> its current ITCH reference number
        self.matches = 0
        self.replayed = 0
        self.resent = 0  # outputs published again by :meth:`recover`

    def recover(self, seen: dict[str, int] | None = None) -> int:
        """Rebuild the books from the journal; returns records replayed. Outputs are thrown
        away, except those of records after ``seen[dest]`` (the last journal number ``dest``
        has received from this partition): those are published again, because the process
        may have died after journaling them and before publishing what they produced.
        Receivers drop what they already have by journal number (see :class:`.bus.Dedup`)."""
        if self.journal is None:
            return 0
        send = self.send
        after = seen or {}
        if seen is None:
            self.send = lambda dest, msg: None
        else:
            def resend(dest: str, msg: dict) -> None:
                if self.jseq > after.get(dest, 0):
                    self.resent += 1
                    send(dest, msg)
            self.send = resend
        try:
            for rec in self.journal.records():
                self._apply(rec)
                self.replayed += 1
        finally:
            self.send = send
        return self.replayed

    def handle(self, msg: dict) -> None:
        msg.setdefault("ts", []).append(["match_in", self.clock()])
        if self.journal is not None:
            self.journal.append({k: v for k, v in msg.items() if k != "ts"})
        self._apply(msg)

    def _ref(self, oid: int) -> int:
        return self.refs.setdefault(oid, oid << 8)

    def _apply(self, msg: dict) -> None:
        self.jseq += 1
        jseq = self.jseq
        eng, col = self.engine, self.engine.listener
        assert isinstance(col, _Collector)
        kind, oid, sym = msg["k"], msg["oid"], msg["sym"]
        itch: list[list] = []
        if kind == "new":
            left = eng.add(sym, oid, msg["side"], msg["ot"], msg["px"], msg["qty"], msg["acct"], jseq)
            rejected = col.rejects and col.rejects[0].order_id == oid
            if rejected and col.rejects[0].reason != "fok not fillable":
                self._order(oid, "rej", msg, why=col.rejects[0].reason)
            else:
                self._order(oid, "new", msg)
                if rejected:
                    self._order(oid, "exp", msg)
                elif left > 0 and msg["ot"] == LIMIT:
                    itch.append(["A", self._ref(oid), msg["side"], msg["px"], left])
        elif kind == "cxl":
            if eng.cancel(oid, sym, jseq):
                itch.append(["D", self.refs.pop(oid, oid << 8)])
            else:
                self._order(oid, "rej", msg, why=col.rejects[0].reason if col.rejects else "")
        elif kind == "rpl":
            left = eng.modify(oid, msg["px"], msg["qty"], sym, jseq)
            if left < 0 and not any(r.status == Status.REPLACED for r in col.reports):
                self._order(oid, "rej", msg, why=col.rejects[0].reason if col.rejects else "")
        stamps = msg.get("ts")
        for r in col.reports:
            st = r.status
            if st in _FILL:
                self._order(r.order_id, "fill", None, lq=r.last_qty, lp=r.last_price_ticks,
                            lv=r.leaves_qty)
            elif st == Status.EXPIRED:
                self._order(r.order_id, "exp", None)
            elif st == Status.CANCELED:
                self._order(r.order_id, "cxl", msg)
            elif st == Status.REPLACED:
                self._order(r.order_id, "rpl", msg, lv=r.leaves_qty)
        trades = []
        for t in col.trades:
            self.matches += 1
            itch.append(["E", self._ref(t.resting_id), t.qty, self.matches])
            trades.append([t.price_ticks, t.qty, t.aggressor_side, t.aggressor_account,
                           t.resting_account, self.matches, t.aggressor_id, t.resting_id])
            if not eng.is_live(t.resting_id):
                self.refs.pop(t.resting_id, None)
        if kind == "rpl" and any(r.status == Status.REPLACED for r in col.reports):
            old = self.refs.pop(oid, oid << 8)
            if eng.is_live(oid):
                new = self.refs[oid] = old + 1
                itch.append(["U", old, new, left, msg["px"]])
            else:
                itch.append(["D", old])
        if col.l2 or trades:
            self.send("md", {"jseq": jseq, "part": self.partition, "sym": sym,
                             "l2": [[u.side, u.price_ticks, u.qty, u.orders] for u in col.l2],
                             "trades": trades, "itch": itch, "ts": stamps})
        if trades:
            self.send("fills", {"sym": sym, "trades": trades, "jseq": jseq,
                                "part": self.partition})
        col.clear()

    def _order(self, oid: int, x: str, msg: dict | None, **fields) -> None:
        ev = {"k": "er", "oid": oid, "x": x, "jseq": self.jseq, "part": self.partition, **fields}
        if msg is not None and msg.get("oid") == oid and x in ("new", "rej") and "ts" in msg:
            ev["ts"] = msg["ts"] + [["match_out", self.clock()]]
        self.send("gateway", ev)

    def l2(self, symbol: str, depth: int | None = None) -> dict:
        """The matcher's own book of ``symbol`` as ``{"bids": [[px, qty, n]...], "asks": ...}``."""
        snap = self.engine.l2_snapshot(symbol, depth)
        return {"bids": [[lv.price_ticks, lv.qty, lv.orders] for lv in snap.bids],
                "asks": [[lv.price_ticks, lv.qty, lv.orders] for lv in snap.asks]}

    def status(self) -> dict:
        return {"partition": self.partition, "symbols": list(self.symbols), "jseq": self.jseq,
                "replayed": self.replayed, "resent": self.resent, "live_orders": self.engine.live_order_count,
                "trades": self.engine.trade_count}
