"""The three engines behind one small interface, and their outputs side by side.

``make_engine("python" | "numba" | "cython")`` returns an engine with Lab 02's entry points
(``add``, ``cancel``, ``modify``, ``process``, ``process_rows``, ``process_array``, the views)
plus ``trades()`` and ``rejects()``: for ``"python"`` that is Lab 02's
:class:`~labsupport.orderbook.engine.MatchingEngine` with a :class:`Recorder` listening, for
the others a :class:`~.engine.FastEngine`. :func:`outcome` reduces any of them (or the naive
:class:`~labsupport.orderbook.reference.ReferenceEngine`) to what must be identical: trades,
rejects, the depth of every book and the PnL; :func:`reports` runs a stream with a
:class:`Recorder` attached and returns what it heard (trades, execution reports, rejects), the
listener side of the same promise. The tests, the CLI and the notebook use these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..orderbook.engine import MatchingEngine
from ..orderbook.listener import Recorder
from ..orderbook.reference import ReferenceEngine
from ..orderbook.types import BUY, SELL, L2Level, OrderEvent, PositionView, Reject, Symbol, Trade
from .backends import FastBookError
from .engine import FastEngine

ENGINES = ("python", "numba", "cython")


class RecordingEngine(MatchingEngine):
    """Lab 02's engine with a :class:`Recorder` attached, answering ``trades()``/``rejects()``
    like :class:`FastEngine` does."""

    backend_name = "python"

    def __init__(self, symbols: Iterable[Symbol] | None = None, *, pnl: bool = True,
                 fee_per_share_ticks: int = 0) -> None:
        self.recorder = Recorder()
        super().__init__(symbols, pnl=pnl, listener=self.recorder,
                         fee_per_share_ticks=fee_per_share_ticks)

    def trades(self) -> list[Trade]:
        return list(self.recorder.trades)

    def rejects(self) -> list[Reject]:
        return list(self.recorder.rejects)


def make_engine(kind: str, symbols: Iterable[Symbol] | None = None, *, pnl: bool = True,
                fee_per_share_ticks: int = 0, **fast_options) -> RecordingEngine | FastEngine:
    """An engine of ``kind`` (one of :data:`ENGINES`)."""
    if kind == "python":
        return RecordingEngine(symbols, pnl=pnl, fee_per_share_ticks=fee_per_share_ticks)
    if kind in ("numba", "cython"):
        return FastEngine(kind, symbols, pnl=pnl, fee_per_share_ticks=fee_per_share_ticks,
                          **fast_options)
    raise FastBookError(f"unknown engine {kind!r}: choose one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class Outcome:
    """Everything the engines must agree on after a stream."""

    trades: tuple[Trade, ...]
    rejects: tuple[Reject, ...]
    depth: tuple[tuple[Symbol, int, tuple[L2Level, ...]], ...]
    pnl: tuple[PositionView, ...]

    def summary(self) -> dict[str, int]:
        return {"trades": len(self.trades), "rejects": len(self.rejects),
                "levels": sum(len(d) for _, _, d in self.depth),
                "resting_qty": sum(lv.qty for _, _, d in self.depth for lv in d),
                "accounts": len(self.pnl)}


def outcome(engine) -> Outcome:
    """The :class:`Outcome` of any engine (the three, or the reference)."""
    if isinstance(engine, ReferenceEngine):
        symbols = list(engine.books)
        depth = tuple((s, side, tuple(engine.depth(s, side)))
                      for s in symbols for side in (BUY, SELL))
        return Outcome(tuple(engine.trades), tuple(engine.rejects), depth, tuple(engine.pnl()))
    depth = tuple((s, side, tuple(engine.book(s).depth(side)))
                  for s in engine.symbols for side in (BUY, SELL))
    return Outcome(tuple(engine.trades()), tuple(engine.rejects()), depth,
                   tuple(engine.pnl()))


def run_all(events, kinds: Iterable[str] = ENGINES, **options) -> dict[str, Outcome]:
    """Feed the same :class:`OrderEvent` stream to each engine; their outcomes by kind."""
    out = {}
    for kind in kinds:
        eng = make_engine(kind, **options)
        for e in events:
            eng.process(e)
        out[kind] = outcome(eng)
    return out


def reports(kind: str, events: Iterable[OrderEvent], *, batch: bool = False,
            **options) -> Recorder:
    """What a :class:`Recorder` attached to an engine of ``kind`` hears over ``events``
    (one event at a time, or as one batch of rows with ``batch=True``)."""
    rec = Recorder()
    eng = MatchingEngine(listener=rec, **options) if kind == "python" else \
        FastEngine(kind, listener=rec, **options)
    if batch:
        eng.process_rows([(e.seq, e.symbol, e.action, e.order_id, e.side, e.type,
                           e.price_ticks, e.qty, e.account) for e in events])
    else:
        for e in events:
            eng.process(e)
    return rec
