"""The two compiled backends behind :class:`~.engine.FastEngine`, loaded by name.

``numba``: :mod:`._nbcore`, compiled on first use (cached on disk afterwards).
``cython``: the extension ``labsupport.fastbook._cyengine``, compiled by ``pip install -e .``
from ``_cyengine.pyx``. When it is missing (the package was copied rather than installed, or
the build failed), importing :mod:`labsupport.fastbook` still works and asking for the Cython
backend raises :class:`ExtensionMissing` saying how to build it.

A backend is an object with ``kernel(grow)`` making a kernel, ``rehash(old, new, pool)`` for
the id table and ``prehash(positions, n, new)`` for the position table. A kernel has
``bind(*arrays)`` (the ten arrays of :mod:`.layout`, rebound after every growth), ``run(events)``
for a batch and ``step(seq, book, action, key, side, type, price, qty, account)`` for one
event, plus the lean ``add``/``cancel``/``modify`` of int arguments; each returns what Lab 02
returns. Two reads of one order by id key, ``leaves(key)`` and ``queue_position(key)`` (orders
and shares ahead of it at its price), serve a strategy that trades inside the book. Whenever
an array is too small the kernel calls ``grow(status)`` (the owner grows and rebinds) and
carries on with the same event.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np

from .layout import EVENT_FIELDS, M_RESULT, OK

BACKENDS = ("numba", "cython")

BUILD_HINT = ("the Cython extension labsupport.fastbook._cyengine is not built: run "
              "`python -m pip install -e .` in the project folder (needs gcc and Cython, "
              "which pip fetches), or `python setup.py build_ext --inplace`")


class FastBookError(Exception):
    """Base of the errors of :mod:`labsupport.fastbook`."""


class ExtensionMissing(FastBookError, ImportError):
    """The compiled Cython extension is not importable."""


def cython_module():
    """The compiled extension module; :class:`ExtensionMissing` if it is not built."""
    try:
        return importlib.import_module("labsupport.fastbook._cyengine")
    except ImportError as exc:
        raise ExtensionMissing(f"{BUILD_HINT} ({exc})") from exc


def cython_available() -> bool:
    try:
        cython_module()
    except ExtensionMissing:
        return False
    return True


class NumbaKernel:
    """The Numba kernel behind the kernel interface. A jitted function cannot call back into
    Python, so :func:`._nbcore.run` returns a status and this loop grows and resumes; a single
    event is a one-row batch (one compiled entry point: half the compile of two)."""

    __slots__ = ("args", "meta", "_run", "_grow", "_one", "_leaves", "_queue")

    def __init__(self, grow) -> None:
        from . import _nbcore

        self._run, self._grow = _nbcore.run, grow
        self._leaves, self._queue = _nbcore.leaves, _nbcore.queue_position
        self._one = np.zeros((1, EVENT_FIELDS), np.int64)
        self.args: tuple = ()

    def bind(self, *arrays) -> None:
        self.args, self.meta = arrays, arrays[0]

    def run(self, events) -> None:
        i = 0
        while True:
            status, i = self._run(*self.args, events, i)
            if status == OK:
                return
            self._grow(status)

    def step(self, seq, b, action, key, side, otype, price, qty, acct) -> int:
        self._one[0] = (seq, b, action, key, side, otype, price, qty, acct)
        self.run(self._one)
        return int(self.meta[M_RESULT])

    def add(self, b, key, side, otype, price, qty, acct, seq) -> int:
        return self.step(seq, b, 0, key, side, otype, price, qty, acct)

    def cancel(self, b, key, seq) -> int:
        return self.step(seq, b, 1, key, 0, 0, 0, 0, 0)

    def modify(self, b, key, price, qty, seq) -> int:
        return self.step(seq, b, 2, key, 0, 0, price, qty, 0)

    def leaves(self, key) -> int:
        return int(self._leaves(self.args[2], self.args[1], key))

    def queue_position(self, key) -> tuple[int, int]:
        n, q = self._queue(self.args[2], self.args[1], key)
        return int(n), int(q)


def load(name: str) -> SimpleNamespace:
    """The backend called ``name`` (``"numba"`` or ``"cython"``)."""
    if name == "numba":
        from . import _nbcore

        return SimpleNamespace(name=name, kernel=NumbaKernel, rehash=_nbcore.rehash,
                               prehash=_nbcore.prehash)
    if name == "cython":
        mod = cython_module()
        return SimpleNamespace(name=name, kernel=mod.Kernel, rehash=mod.rehash,
                               prehash=mod.prehash)
    raise FastBookError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
