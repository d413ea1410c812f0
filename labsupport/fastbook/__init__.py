"""Lab 11: Lab 02's matching engine rebuilt on flat arrays and compiled twice (Numba, Cython).

- :class:`FastEngine` (``backend="numba"`` or ``"cython"``): Lab 02's API (``add``, ``cancel``,
  ``modify``, ``process``, ``process_rows``, ``process_array``, ``l2_snapshot``, ``l3``,
  ``best_bid_ask``, ``pnl``, ``positions``, a ``listener`` hearing trades, execution reports and
  rejects) plus the raw batch path ``process_events`` on int64 rows, the lean single-event
  entry point ``engine.kernel.add(...)`` on ints, and ``leaves`` / ``queue_position`` of one
  order (its queue position: orders and shares ahead of it at its price). Matching, PnL and reports all run in the
  compiled kernel.
- :mod:`.layout`: the arrays (order pool as struct of arrays with a free list, price levels
  indexed by tick offset, intrusive FIFO links, id hash table, positions, report journal) and
  why they are cache friendly; :mod:`.arrays` grows them, :mod:`.boundary` maps Python values
  to their int64 keys, :mod:`.positions` and :mod:`.reports` turn kernel rows into Lab 02's
  objects.
- :func:`make_engine`: ``"python"`` (Lab 02's :class:`MatchingEngine`), ``"numba"`` or
  ``"cython"`` behind one small interface (:mod:`.compare`), for the tests and the CLI.
- :func:`cython_available`; without the compiled extension the package still imports and
  ``FastEngine("cython")`` raises :class:`ExtensionMissing` saying how to build it.
"""

from .backends import BACKENDS, ExtensionMissing, FastBookError, cython_available
from .engine import FastEngine
from .layout import MAX_WIDTH, R_WINDOW

ENGINES = ("python", "numba", "cython")

__all__ = ["BACKENDS", "ENGINES", "MAX_WIDTH", "R_WINDOW", "ExtensionMissing", "FastBookError",
           "FastEngine", "cython_available"]
