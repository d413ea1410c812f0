"""The two compiled backends behind :class:`~.engine.FastEngine`, loaded by name.

``numba``: :mod:`._nbcore`, compiled on first use (cached on disk afterwards).
``cython``: the extension ``labsupport.fastbook._cyengine``, compiled by ``pip install -e .``
from ``_cyengine.pyx``. When it is missing (the package was copied rather than installed, or
the build failed), importing :mod:`labsupport.fastbook` still works and asking for the Cython
backend raises :class:`ExtensionMissing` saying how to build it.

A backend is an object with ``bind(meta, pool, table, books, levels, trades, rejects)``
returning a kernel with ``run(events, start)`` and ``step(seq, book, action, key, side, type,
price, qty, account)``, and ``rehash(old, new, pool)``.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

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


class _NumbaKernel:
    __slots__ = ("args", "_run", "_step")

    def __init__(self, core, *arrays) -> None:
        self.args = arrays
        self._run, self._step = core.run, core.step

    def run(self, events, start):
        return self._run(*self.args, events, start)

    def step(self, seq, b, action, key, side, otype, price, qty, acct):
        return self._step(*self.args, seq, b, action, key, side, otype, price, qty, acct)


def load(name: str) -> SimpleNamespace:
    """The backend called ``name`` (``"numba"`` or ``"cython"``)."""
    if name == "numba":
        from . import _nbcore

        return SimpleNamespace(name=name, bind=lambda *a: _NumbaKernel(_nbcore, *a),
                               rehash=_nbcore.rehash)
    if name == "cython":
        mod = cython_module()
        return SimpleNamespace(name=name, bind=mod.Kernel, rehash=mod.rehash)
    raise FastBookError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
