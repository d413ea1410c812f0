"""Command line: ``python -m labsupport.protocols.fix dump FILE``.

Prints one JSON object per message of a FIX byte stream (a session log with raw SOH
delimiters): ``{"fields": [[tag, "value"], ...]}`` in wire order, or ``{"error": "why",
"offset": N}`` for bytes it rejects, then goes on with the next message (resynchronising on
the next ``8=FIX``). The convention of ``labsupport.cli``: exit status 0 when every message
parsed; 2 with one line on stderr (the file, how many spans were rejected, the first one's
offset and reason) when some were rejected, when the file cannot be read, or for a bad
argument; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from ... import cli
from ..errors import ProtocolError, in_file
from .message import FixMessage
from .stream import FixReject, FixStream, RejectedSpansError

PROG = "python -m labsupport.protocols.fix"


def dump(data: bytes, out: TextIO) -> list[FixReject]:
    """Write the JSON lines for ``data``; returns the rejected spans."""
    st = FixStream()
    rejects: list[FixReject] = []
    for i in range(0, max(len(data), 1), 1 << 16):  # bounded buffer: the stream stays linear
        st.feed(data[i : i + (1 << 16)])
        rejects += _write(st, out)
    tail = st.close()
    if tail is not None:
        rejects += _write([tail], out)
    return rejects


def _write(items: Iterable[FixMessage | FixReject], out: TextIO) -> list[FixReject]:
    bad = []
    for item in items:
        if isinstance(item, FixMessage):
            out.write(json.dumps({"fields": [[t, v.decode("latin-1")] for t, v in item.fields]}) + "\n")
        else:
            bad.append(item)
            out.write(json.dumps({"error": item.reason, "offset": item.offset}) + "\n")
    return bad


def build_parser() -> cli.ArgumentParser:
    ap = cli.ArgumentParser(prog=PROG, description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="one JSON object per message (or per rejected span)")
    d.add_argument("file")
    return ap


@cli.entry(PROG, input_errors=(ProtocolError,))
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with open(args.file, "rb") as fh:
        data = fh.read()
    with in_file(args.file):
        rejects = dump(data, sys.stdout)
        sys.stdout.flush()  # the JSON lines first, then the one-line verdict on stderr
        if rejects:
            raise RejectedSpansError(rejects)
    return 0
