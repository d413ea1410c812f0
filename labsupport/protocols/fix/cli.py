"""Command line: ``python -m labsupport.protocols.fix dump FILE``.

Prints one JSON object per message of a FIX byte stream (a session log with raw SOH
delimiters): ``{"fields": [[tag, "value"], ...]}`` in wire order, or ``{"error": "why",
"offset": N}`` for bytes it rejects, then goes on with the next message (resynchronising on
the next ``8=FIX``). Exit status 0 when every message parsed, 1 when some were rejected,
2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys

from .message import FixMessage
from .stream import FixStream


def dump(data: bytes, out) -> int:
    """Write the JSON lines for ``data``; returns the number of rejects."""
    st = FixStream()
    bad = 0
    for i in range(0, max(len(data), 1), 1 << 16):  # bounded buffer: the stream stays linear
        st.feed(data[i : i + (1 << 16)])
        bad += _write(st, out)
    tail = st.close()
    if tail is not None:
        bad += _write([tail], out)
    return bad


def _write(items, out) -> int:
    bad = 0
    for item in items:
        if isinstance(item, FixMessage):
            out.write(json.dumps({"fields": [[t, v.decode("latin-1")] for t, v in item.fields]}) + "\n")
        else:
            bad += 1
            out.write(json.dumps({"error": item.reason, "offset": item.offset}) + "\n")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labsupport.protocols.fix", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="one JSON object per message (or per rejected span)")
    d.add_argument("file")
    args = ap.parse_args(argv)
    try:
        with open(args.file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    try:
        return 1 if dump(data, sys.stdout) else 0
    except BrokenPipeError:  # pragma: no cover
        return 0
