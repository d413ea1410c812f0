"""Command line for ITCH files: ``python -m labsupport.protocols.itch dump|stats|book FILE``.

* ``dump FILE [--limit N]``: one JSON object per message, keys are the spec's field names in
  snake_case, prices as decimal numbers, timestamps as integer ns, Alpha fields stripped.
* ``stats FILE``: one JSON object, message counts by type (spec order).
* ``book FILE --stock SYM [--depth N]``: the final L2 book of one stock as CSV
  ``side,price,shares,orders`` (bids best first, then asks best first).

Files are the 2-byte-length framed format (gzip when the name ends in .gz); with
``--moldudp64`` a capture of MoldUDP64 packets (each packet preceded by its 2-byte length):
messages are taken once each in sequence order, and sequence gaps are reported on stderr.

The convention of ``labsupport.cli``: a bad argument, a missing file, a malformed file (one line
naming the file, the kind of error and its byte offset) and a stock the feed never announces
exit 2 with one line on stderr; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from itertools import islice

from ... import cli
from ..errors import ProtocolError, in_file
from .book import ItchBook
from .encode import encode_tuple, frame
from .parser import (
    MoldSequencer,
    iter_moldudp64_capture,
    iter_tuples,
    message_dict,
    read_itch_file,
    to_message,
)
from .vector import decode


def _json(d: dict) -> str:
    """JSON with Decimal prices written as plain decimal numbers (not strings, not floats)."""
    parts = []
    for k, v in d.items():
        if isinstance(v, Decimal):
            s = format(v, "f")
        else:
            s = json.dumps(v)
        parts.append(f'"{k}": {s}')
    return "{" + ", ".join(parts) + "}"


def cmd_dump(data: bytes, limit: int | None, out) -> None:
    for t in islice(iter_tuples(data), limit):
        out.write(_json(message_dict(to_message(t))) + "\n")


def cmd_stats(data: bytes, out) -> None:
    out.write(json.dumps(decode(data, types="").counts() or {}) + "\n")


def cmd_book(data: bytes, stock: str, depth: int | None, out) -> None:
    book = ItchBook()
    book.apply_buffer(data)
    snap = book.l2(book.locate_of(stock), depth)
    out.write("side,price,shares,orders\n")
    for side, levels in (("B", snap.bids), ("S", snap.asks)):
        for lv in levels:
            out.write(f"{side},{format(Decimal(lv.price_ticks).scaleb(-4), 'f')},{lv.qty},{lv.orders}\n")


def unwrap_moldudp64(data: bytes) -> bytes:
    """The messages of a MoldUDP64 capture, once each, in sequence order, as a framed file."""
    seq = MoldSequencer()
    msgs = []
    for packet in iter_moldudp64_capture(data):
        msgs.extend(encode_tuple(t) for t in seq.accept(packet))
    for first, last in seq.gaps:
        print(f"warning: sequence gap {first}..{last} ({last - first + 1} messages missing)", file=sys.stderr)
    return frame(msgs)


PROG = "python -m labsupport.protocols.itch"


def _count(text: str) -> int:
    """A positive integer argument (--limit, --depth)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return n


def build_parser() -> cli.ArgumentParser:
    ap = cli.ArgumentParser(prog=PROG, description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="one JSON object per message")
    d.add_argument("file")
    d.add_argument("--limit", type=_count, default=None, help="stop after N messages")
    s = sub.add_parser("stats", help="JSON object of message counts by type")
    s.add_argument("file")
    b = sub.add_parser("book", help="final L2 book of one stock as CSV")
    b.add_argument("file")
    b.add_argument("--stock", required=True, help="ticker as in the Stock Directory (R) message")
    b.add_argument("--depth", type=_count, default=None, help="levels per side (default: all)")
    for p in (d, s, b):
        p.add_argument("--moldudp64", action="store_true", help="the file is a capture of MoldUDP64 packets")
    return ap


@cli.entry(PROG, input_errors=(ProtocolError,))
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with in_file(args.file):
        data = read_itch_file(args.file)
        if args.moldudp64:
            data = unwrap_moldudp64(data)
        if args.command == "dump":
            cmd_dump(data, args.limit, sys.stdout)
        elif args.command == "stats":
            cmd_stats(data, sys.stdout)
        else:
            cmd_book(data, args.stock, args.depth, sys.stdout)
    return 0
