"""What a compiled engine publishes to a :class:`~labsupport.orderbook.listener.Listener`.

Lab 02's engine calls its listener while it matches: ``on_trade``, then the resting order's and
the aggressor's ``on_execution`` for every fill, ``NEW``/``EXPIRED`` after an add, ``CANCELED``,
``REPLACED`` (before the fills of a re-priced modify), ``on_reject``. A compiled kernel cannot
call Python per fill without losing what it was compiled for, so with a listener attached it
writes the same sequence as int64 rows into its journal (see :mod:`.layout`), and
:func:`publish` turns them into Lab 02's frozen report objects, in the same order, when the
engine drains its buffers: after every single event, after every batch, and whenever a buffer
fills up in the middle of one. The listener hears exactly what Lab 02's would, in the same
order; what it cannot do is look at the book *while* an event is being matched (it is called
after the event, or after the batch, with the final book).

Incremental L2 updates (``Listener.wants_l2``) are not journalled: an engine built with such a
listener raises :class:`~.backends.FastBookError` rather than stay silent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..orderbook.listener import Listener
from ..orderbook.types import ExecutionReport, Reject, Status, Symbol, Trade
from .layout import J_EXEC, J_REJECT, J_TRADE

_STATUS = tuple(Status)


def trade_of(row, names: Sequence[Symbol], oid: Callable, acct: Callable) -> Trade:
    """One kernel trade row as Lab 02's :class:`Trade`."""
    seq, b, price, qty, a, r, side, aa, ra = row
    return Trade(seq, names[b], price, qty, oid(a), oid(r), side, acct(aa), acct(ra))


def publish(listener: Listener, journal: np.ndarray, trades: np.ndarray, rejects: np.ndarray,
            names: Sequence[Symbol], oid: Callable, acct: Callable,
            reasons: Sequence[str]) -> None:
    """Call ``listener`` for every journal row, in order; ``J_TRADE``/``J_REJECT`` rows take
    the next row of ``trades``/``rejects``."""
    t = r = 0
    trade_rows, reject_rows = trades.tolist(), rejects.tolist()
    on_trade, on_exec, on_reject = listener.on_trade, listener.on_execution, listener.on_reject
    for kind, seq, b, key, account, status, last_qty, last_price, leaves in journal.tolist():
        if kind == J_EXEC:
            on_exec(ExecutionReport(seq, names[b], oid(key), acct(account), _STATUS[status],
                                    last_qty, last_price, leaves))
        elif kind == J_TRADE:
            on_trade(trade_of(trade_rows[t], names, oid, acct))
            t += 1
        elif kind == J_REJECT:
            rseq, rkey, code = reject_rows[r]
            on_reject(Reject(rseq, oid(rkey), reasons[code]))
            r += 1
        else:  # pragma: no cover - a kernel bug
            raise AssertionError(f"journal row kind {kind}")
