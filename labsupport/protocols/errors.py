"""The one base error of the protocol lab, and how a command line names the file it came from.

Both protocols' errors derive from :class:`ProtocolError`, each subclass named by its cause and
carrying the byte ``offset`` of the problem:

* ITCH (``itch.parser``, ``itch.encode``, ``itch.book``): ``ItchError`` and its subclasses
  ``UnknownMessageType``, ``LengthMismatch``, ``TruncatedMessage``, ``MoldUDP64Error``,
  ``UnknownStockError``; ``EncodeError`` for values that do not fit a field.
* FIX (``fix.message``, ``fix.stream``): ``FixError`` and its subclasses ``FramingError``,
  ``BodyLengthError``, ``ChecksumError``, ``GroupError``, ``RejectedSpansError``.

They are all "the bytes (or values) given to us are wrong", never "our code is wrong", so a
command line lists :class:`ProtocolError` as its input error and reports it as one line, and
:func:`in_file` adds the file name to the message of anything raised while reading one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ProtocolError", "in_file"]


class ProtocolError(ValueError):
    """Base of every error the protocol lab raises on purpose (bad bytes, values that do not fit).

    ``file`` is ``None`` until :func:`in_file` names the file the bytes came from; the message
    then starts with it.
    """

    file: str | None = None

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.file}: {text}" if self.file else text


@contextmanager
def in_file(path: str | Path) -> Iterator[None]:
    """Name ``path`` in every :class:`ProtocolError` raised inside the block (then re-raise it)."""
    try:
        yield
    except ProtocolError as exc:
        if exc.file is None:
            exc.file = str(path)
        raise
