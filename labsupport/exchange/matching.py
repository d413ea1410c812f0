"""The matching service: Lab 02's engine (or Lab 11's compiled one) for one partition of the
symbols, with a journal.

What it mirrors: a venue's matching engine process. Symbols are partitioned across matchers
(``partition_of``: the symbol's index in the venue's list, modulo the number of matchers), and
each matcher writes every input it accepts to a journal before applying it, the way
exchange engines log their sequenced input stream: a matcher killed with ``kill -9`` and
started again replays the journal into a fresh engine and has the same books.

Theory of operation. :meth:`Matcher.handle` takes one internal order message (``new``,
``cxl``, ``rpl``), journals it with the next journal sequence number (``jseq``), applies it to
the engine (``engine="lab02"``: :class:`labsupport.orderbook.MatchingEngine`, the reference
and the default; ``"lab11"``: :class:`labsupport.fastbook.FastEngine`, Cython or Numba) and turns what the
engine reported (through a :class:`~labsupport.orderbook.Listener`) into outgoing messages:

- to the gateway, per order: ``new`` (an acknowledgement, first), ``fill`` per execution,
  ``exp`` for an IOC/FOK/market remainder, ``cxl``, ``rpl``, ``rej`` with Lab 02's reason;
- to market data, per input: the L2 levels it changed, its trades, and the order-level changes
  of the visible book in ITCH terms (A add, E executed, D delete, U replace);
- to drop copy and risk: each trade with both accounts and both order ids.

Lab 02 publishes the new state of every L2 level an event touched; Lab 11's compiled engine
publishes trades, reports and rejects but no L2 updates, so with it the matcher keeps the
levels itself (:class:`.levels.LevelBook`): the levels an event can change are known from its
reports (the order's own price and side, the resting orders its fills hit, the order a cancel
or replace removed), and one update goes out per level whose quantity or order count changed.
The tests check that the feed rebuilt from either engine equals the engine's own book.

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

from .levels import LevelBook
from .session import ExchangeError

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Journal", "Matcher", "make_engine", "partition_of"]

ENGINES = ("lab02", "lab11")
"""Matching engines a matcher can run: Lab 02's (the reference) or Lab 11's compiled one."""
DEFAULT_ENGINE = "lab02"
"""Lab 02's: a matcher's time goes to the reports and messages around the match, which cost the
same with either engine; Lab 11's saves on the match only when a bus batch is large (see
:meth:`Matcher.handle_many`), and costs more than Lab 02's on the small batches of a normal load."""

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
    def __init__(self, wants_l2: bool) -> None:
        self.wants_l2 = wants_l2
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


def make_engine(name: str, symbols: tuple[str, ...], listener: Listener):
    """The engine ``name`` (one of :data:`ENGINES`) over ``symbols``, reporting to ``listener``."""
    if name == "lab02":
        return MatchingEngine(symbols, listener=listener)
    if name == "lab11":
        from labsupport.fastbook import FastEngine, cython_available

        return FastEngine("cython" if cython_available() else "numba", symbols, pnl=False,
                          listener=listener)
    raise ExchangeError(f"--engine {name}: not one of {', '.join(ENGINES)}")


_ACTIONS = {"new": 0, "cxl": 1, "rpl": 2}  # Lab 02's ADD, CANCEL, MODIFY


def _row(jseq: int, msg: dict) -> tuple:
    """One input as an engine row ``(seq, symbol, action, id, side, type, price, qty, account)``."""
    kind = msg["k"]
    if kind == "new":
        return (jseq, msg["sym"], 0, msg["oid"], msg["side"], msg["ot"], msg["px"], msg["qty"],
                msg["acct"])
    if kind == "rpl":
        return (jseq, msg["sym"], 2, msg["oid"], 0, 0, msg["px"], msg["qty"], 0)
    return (jseq, msg["sym"], _ACTIONS.get(kind, 9), msg["oid"], 0, 0, 0, 0, 0)


def _left(msg: dict, reports: list, rejects: list) -> int:
    """What ``add``/``modify`` would have returned for ``msg`` (0 or -1 for a cancel), from
    the reports and rejects of its event in a batch."""
    oid = msg["oid"]
    if msg["k"] == "cxl":
        return 0 if any(r.order_id == oid and r.status == Status.CANCELED for r in reports) else -1
    if any(j.order_id == oid for j in rejects):
        return -1
    mine = [r.leaves_qty for r in reports if r.order_id == oid]
    return mine[-1] if mine else -1


class Matcher:
    """One matching partition. ``send(dest, msg)``: dest is ``gateway``, ``md``, ``fills``."""

    def __init__(self, symbols: list[str] | tuple[str, ...], partition: int = 0, *,
                 journal: Journal | None = None, send: Callable[[str, dict], None] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns, engine: str = DEFAULT_ENGINE) -> None:
        self.symbols = tuple(symbols)
        self.partition = partition
        self.engine_name = engine
        self.levels = LevelBook(self.symbols) if engine != "lab02" else None
        self.engine = make_engine(engine, self.symbols, _Collector(self.levels is None))
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

    def handle_many(self, msgs: list[dict]) -> None:
        """:meth:`handle` for a whole bus batch. Lab 11's engine takes the batch in one call
        (``process_rows``: one crossing into the kernel, its reports drained once); what it
        reported is then split by journal number and each input's outputs are made as
        :meth:`handle` makes them. Lab 02's engine takes the inputs one by one."""
        if self.levels is None or len(msgs) == 1:
            for msg in msgs:
                self.handle(msg)
            return
        now, first, rows = self.clock(), self.jseq + 1, []
        for jseq, msg in enumerate(msgs, first):
            msg.setdefault("ts", []).append(["match_in", now])
            if self.journal is not None:
                self.journal.append({k: v for k, v in msg.items() if k != "ts"})
            rows.append(_row(jseq, msg))
        eng = self.engine
        eng.process_rows(rows)
        col = eng.listener
        per: dict[int, tuple[list, list, list]] = {}
        for i, got in enumerate((col.reports, col.trades, col.rejects)):
            for x in got:
                bucket = per.get(x.seq)
                if bucket is None:
                    bucket = per[x.seq] = ([], [], [])
                bucket[i].append(x)
        col.clear()
        none: tuple[list, list, list] = ([], [], [])
        for jseq, msg in enumerate(msgs, first):
            self.jseq = jseq
            reports, trades, rejects = per.get(jseq, none)
            self._outputs(msg, _left(msg, reports, rejects), reports, trades, rejects, ())

    def _apply(self, msg: dict) -> None:
        self.jseq += 1
        jseq = self.jseq
        eng, col = self.engine, self.engine.listener
        assert isinstance(col, _Collector)
        kind, oid, sym = msg["k"], msg["oid"], msg["sym"]
        if kind == "new":
            left = eng.add(sym, oid, msg["side"], msg["ot"], msg["px"], msg["qty"], msg["acct"], jseq)
        elif kind == "cxl":
            left = 0 if eng.cancel(oid, sym, jseq) else -1
        elif kind == "rpl":
            left = eng.modify(oid, msg["px"], msg["qty"], sym, jseq)
        else:
            left = -1
        self._outputs(msg, left, col.reports, col.trades, col.rejects, col.l2)
        col.clear()

    def _outputs(self, msg: dict, left: int, reports: list, trades_in: list, rejects: list,
                 l2_in) -> None:
        """The messages one input produced, from what the engine reported for it: ``left`` is
        what ``add``/``modify`` returned (0 or -1 for a cancel, done or not)."""
        jseq = self.jseq
        kind, oid, sym = msg["k"], msg["oid"], msg["sym"]
        itch: list[list] = []
        rests = 0  # what the order itself leaves resting at its price (a new order or a replace)
        replaced = kind == "rpl" and any(r.status == Status.REPLACED for r in reports)
        if kind == "new":
            rejected = rejects and rejects[0].order_id == oid
            if rejected and rejects[0].reason != "fok not fillable":
                self._order(oid, "rej", msg, why=rejects[0].reason)
            else:
                self._order(oid, "new", msg)
                if rejected:
                    self._order(oid, "exp", msg)
                elif left > 0 and msg["ot"] == LIMIT:
                    itch.append(["A", self._ref(oid), msg["side"], msg["px"], left])
                    rests = left
        elif kind == "cxl":
            if left == 0:
                itch.append(["D", self.refs.pop(oid, oid << 8)])
            else:
                self._order(oid, "rej", msg, why=rejects[0].reason if rejects else "")
        elif kind == "rpl":
            if replaced:
                rests = max(left, 0)
            elif left < 0:
                self._order(oid, "rej", msg, why=rejects[0].reason if rejects else "")
        levels = self.levels
        if levels is None:
            l2 = [[u.side, u.price_ticks, u.qty, u.orders] for u in l2_in]
        else:
            l2 = levels.apply(sym, reports, oid, msg.get("side"), msg.get("px"), rests)
        stamps = msg.get("ts")
        for r in reports:
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
        for t in trades_in:
            self.matches += 1
            itch.append(["E", self._ref(t.resting_id), t.qty, self.matches])
            trades.append([t.price_ticks, t.qty, t.aggressor_side, t.aggressor_account,
                           t.resting_account, self.matches, t.aggressor_id, t.resting_id])
            if (t.resting_id not in levels.live) if levels is not None \
                    else not self.engine.is_live(t.resting_id):
                self.refs.pop(t.resting_id, None)
        if replaced:
            old = self.refs.pop(oid, oid << 8)
            if left > 0:
                new = self.refs[oid] = old + 1
                itch.append(["U", old, new, left, msg["px"]])
            else:
                itch.append(["D", old])
        if l2 or trades:
            self.send("md", {"jseq": jseq, "part": self.partition, "sym": sym, "l2": l2,
                             "trades": trades, "itch": itch, "ts": stamps})
        if trades:
            self.send("fills", {"sym": sym, "trades": trades, "jseq": jseq,
                                "part": self.partition})

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
        return {"partition": self.partition, "engine": self.engine_name,
                "symbols": list(self.symbols), "jseq": self.jseq,
                "replayed": self.replayed, "resent": self.resent, "live_orders": self.engine.live_order_count,
                "trades": self.engine.trade_count}
