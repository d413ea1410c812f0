"""The one command-line convention every lab's ``python -m labsupport.<lab>`` follows.

Three outcomes, told apart by whose fault they are:

=====================================  ======  ==================================================
what happened                          exit    what is printed on stderr
=====================================  ======  ==================================================
bad usage (unknown flag, bad value)    2       ``PROG: error: MESSAGE (see PROG --help)``
bad input (a lab's own input error,    2       ``PROG: error: MESSAGE``, where MESSAGE names what
  :class:`InputError`)                         was wrong and where (file, line, field, offset)
an I/O error (missing file, no perm)   2       ``PROG: error: FILENAME: STRERROR``
Ctrl-C                                 130     nothing more
anything else                          1       Python's traceback: it is a bug, and the traceback
                                               is what a bug report needs
=====================================  ======  ==================================================

Every message is one line. A lab declares which of its exception classes mean "the input was
wrong" (usually its subpackage's base error) and nothing else is caught, so a real bug is never
turned into a tidy "error:" line that hides where it happened::

    parser = cli.ArgumentParser(prog="python -m labsupport.tsdb", description=__doc__)
    ...

    @cli.entry("python -m labsupport.tsdb", input_errors=(TsdbError,))
    def main(argv: list[str] | None = None) -> int:
        args = build_parser().parse_args(argv)
        ...
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

__all__ = ["USAGE", "BUG", "ArgumentParser", "InputError", "entry", "error_line"]

USAGE = 2  # bad usage, bad input, I/O error
BUG = 1  # what Python itself returns for an uncaught exception


class InputError(Exception):
    """Raised by a command when its input is wrong: the message says what, the fields say where.

    Labs with their own error hierarchy raise those instead and list the base class in
    :func:`entry`'s ``input_errors``; this class is for glue code that has no hierarchy.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None, offset: int | None = None) -> None:
        where = []
        if file is not None:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field}")
        if offset is not None:
            where.append(f"offset {offset}")
        self.file, self.line, self.field, self.offset = file, line, field, offset
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the convention's one-line usage error (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def error_line(exc: BaseException) -> str:
    """The one line an input or I/O error is reported as."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, KeyError) and exc.args:  # KeyError's str() is the repr of its key
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())  # one line, even if a message spans several


def entry(prog: str, *, input_errors: tuple[type[BaseException], ...] = ()
          ) -> Callable[[Callable[..., int | None]], Callable[..., int]]:
    """Wrap a lab's ``main(argv) -> int`` with the convention above."""
    caught = (InputError, OSError, *input_errors)

    def wrap(main: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: Sequence[str] | None = None) -> int:
            try:
                status = main(argv)
            except KeyboardInterrupt:
                return 130
            except BrokenPipeError:  # `... | head` closed our stdout: not an error of ours
                sys.stderr.close()
                return 0
            except caught as exc:
                print(f"{prog}: error: {error_line(exc)}", file=sys.stderr)
                return USAGE
            return int(status or 0)

        return run

    return wrap
