"""The boundary between Python values and the kernels' int64: ids, accounts, symbols, events.

The kernels see int64 only. Here, once per event that crosses (or once per batch, vectorised):

- an order id or account becomes a *key*: an int in ``[0, 2**62)`` is its own key (generated
  flow passes through with no per-event work), anything else (a text ClOrdID ``"o1"``, an
  account code, an int outside that range) gets ``-1, -2, ...`` from an :class:`Interner`, in
  order of first sight, and is mapped back when trades, rejects and reports go out. So ``7``
  and ``"7"`` stay two orders, as in Lab 02;
- a symbol becomes a dense book index (:meth:`~.arrays.KernelArrays._book`);
- rows of Python values (:func:`encode_rows`) or a :mod:`labsupport.marketdata` structured
  array (:func:`encode_array`, numpy column copies, no Python loop) become the kernel's
  ``(n, EVENT_FIELDS)`` int64 event array.

A field beyond int64 (Python ints have no bound) is clamped to the int64 range: no valid order
has such a price or quantity, so it is rejected exactly as Lab 02 rejects it, or, for a price,
refused by the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from ..orderbook.types import ADD, OrderId
from .layout import EVENT_FIELDS, NO_BOOK

if TYPE_CHECKING:
    from .engine import FastEngine

KEY_LIMIT = 1 << 62
_I64 = (-(1 << 63), (1 << 63) - 1)


class Interner:
    """Ids or accounts <-> int64 keys: ints in ``[0, 2**62)`` are their own key, anything
    else gets ``-1, -2, ...`` in order of first sight."""

    __slots__ = ("keys", "names")

    def __init__(self) -> None:
        self.keys: dict[object, int] = {}
        self.names: list[object] = []

    def key(self, value: OrderId) -> int:
        """The key of ``value``, interning it on first sight."""
        if type(value) is int and 0 <= value < KEY_LIMIT:
            return value
        k = self.keys.get(value)
        if k is None:
            self.names.append(value)
            k = self.keys[value] = -len(self.names)
        return k

    def find(self, value: OrderId) -> int | None:
        """The key of ``value`` if it was ever seen (never interns)."""
        if type(value) is int and 0 <= value < KEY_LIMIT:
            return value
        return self.keys.get(value)

    def name(self, key: int) -> OrderId:
        return key if key >= 0 else self.names[-key - 1]


def clamp(v: int) -> int:
    """``v`` moved into int64 (one above the minimum, which is the table's empty key)."""
    return _I64[0] + 1 if v <= _I64[0] else _I64[1] if v > _I64[1] else v


def encode_rows(engine: FastEngine, rows: Iterable[tuple]) -> np.ndarray:
    """Rows ``(seq, symbol, action, order_id, side, type, price_ticks, qty, account)`` -> the
    kernel's int64 event array (symbols, ids and accounts mapped)."""
    book, key, acct = engine._book, engine.ids.key, engine.accounts.key
    out = [(seq, NO_BOOK if (sym is None and action != ADD) else book(sym), action,
            key(oid), side, otype, price, qty, acct(account))
           for seq, sym, action, oid, side, otype, price, qty, account in rows]
    try:
        return np.array(out, dtype=np.int64).reshape(-1, EVENT_FIELDS)
    except OverflowError:
        return np.array([[clamp(v) for v in r] for r in out],
                        dtype=np.int64).reshape(-1, EVENT_FIELDS)


def encode_array(engine: FastEngine, events: np.ndarray,
                 symbols: tuple | None = None) -> np.ndarray:
    """A :mod:`labsupport.marketdata` structured event array -> kernel rows, vectorised. Ids
    and accounts are ints there, so they pass through as keys (interned only if too big)."""
    index = np.unique(events["symbol"])
    lut = np.zeros(int(index.max()) + 1 if len(index) else 1, np.int64)
    for i in index.tolist():
        lut[i] = engine._book(symbols[i] if symbols is not None else i)
    out = np.empty((len(events), EVENT_FIELDS), np.int64)
    out[:, 0] = events["seq"]
    out[:, 1] = lut[events["symbol"]]
    for col, name in enumerate(("action", "order_id", "side", "type", "price_ticks", "qty",
                                "account"), 2):
        out[:, col] = events[name]
    for col, name, interner in ((3, "order_id", engine.ids), (8, "account", engine.accounts)):
        if len(events) and (int(events[name].max()) >= KEY_LIMIT or int(events[name].min()) < 0):
            odd = (out[:, col] >= KEY_LIMIT) | (out[:, col] < 0)
            out[odd, col] = [interner.key(int(v)) for v in events[name][odd].tolist()]
    return out
