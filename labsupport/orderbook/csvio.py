"""The replay file formats: event CSV in, trades / rejects / depth / PnL CSV out.

The edges are the only place prices are decimal strings. ``parse_price`` turns ``"187.4"``
into 18740 ticks with string arithmetic (no float ever sees a price) and refuses anything finer
than the 0.01 tick. A row that cannot be parsed raises :class:`~.types.EventFormatError` with
its 1-based line number (the header is line 1), the field and what is wrong; a row that parses
but breaks a business rule (zero quantity, zero price, unknown order) is *not* an error: it
becomes a reject in ``rejects.csv``, exactly as an exchange would answer it.

Input (header exactly ``seq,symbol,action,order_id,side,type,price,qty,account``; the same file
:func:`labsupport.marketdata.write_events_csv` writes):

- order_id: a token, as FIX ClOrdIDs are (``o1``, ``ABC-20260101-7``, ``12``): non-empty, no
  comma, no whitespace, no double quote (the outputs echo it unquoted). A canonical decimal
  (``0`` or ``[1-9][0-9]*``) is read as an int, anything else (``o1``, ``007``) stays text, so the
  outputs echo every id exactly as it was given and generated integer flow keeps int keys;
- add: side ``buy``/``sell``, type ``limit``/``market``/``ioc``/``fok``, price a decimal (empty
  for market orders), qty an integer, account a token like order_id (``acc3``, ``4``; empty
  means 0);
- cancel: only seq, symbol and order_id are read;
- modify: the new price and the new remaining quantity; side, type, account are ignored.

The file is read as bytes and decoded line by line, so a byte that is not UTF-8 is reported
with its line too, as is anything the :mod:`csv` module refuses (a NUL byte, an unclosed quote).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import TextIO

from .engine import MatchingEngine
from .types import (
    ADD,
    BUY,
    CANCEL,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    MODIFY,
    PRICE_SCALE,
    SELL,
    EventFormatError,
    OrderEvent,
    OrderId,
    Reject,
    Trade,
)

EVENT_HEADER = "seq,symbol,action,order_id,side,type,price,qty,account"
TRADE_HEADER = "seq,symbol,price,qty,aggressor_id,resting_id,aggressor_side"
REJECT_HEADER = "seq,order_id,reason"
DEPTH_HEADER = "symbol,side,level,price,qty,orders"
PNL_HEADER = "account,symbol,position,avg_price,realized_pnl,unrealized_pnl,mark"

ACTIONS = {"add": ADD, "cancel": CANCEL, "modify": MODIFY}
SIDES = {"buy": BUY, "sell": SELL}
SIDE_NAMES = {BUY: "buy", SELL: "sell"}
TYPES = {"limit": LIMIT, "market": MARKET, "ioc": IOC, "fok": FOK}
_PRICE = re.compile(r"(-?)(\d+)(?:\.(\d{1,2}))?\Z")
_TOO_FINE = re.compile(r"-?\d+\.\d{3,}\Z")
_INT = re.compile(r"-?\d+\Z")
_CANONICAL_INT = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_TOKEN = re.compile(r'[^\s,"\x00-\x1f\x7f]+\Z')


def parse_price(text: str) -> int:
    """Decimal string -> integer ticks; ValueError with a learner-readable message."""
    m = _PRICE.match(text)
    if m is None:
        if _TOO_FINE.match(text):
            raise ValueError(f"price {text!r} is finer than the 0.01 tick")
        raise ValueError(f"price {text!r} is not a decimal number")
    sign, units, cents = m.groups()
    ticks = int(units) * PRICE_SCALE + int((cents or "0").ljust(2, "0"))
    return -ticks if sign else ticks


def format_price(ticks: int) -> str:
    sign = "-" if ticks < 0 else ""
    units, cents = divmod(abs(ticks), PRICE_SCALE)
    return f"{sign}{units}.{cents:02d}"


def format_money(ticks: Fraction | int, places: int = 6) -> str:
    """Exact ticks (possibly a Fraction) -> currency string rounded half-even to ``places``."""
    fr = Fraction(ticks) / PRICE_SCALE
    d = Decimal(fr.numerator) / Decimal(fr.denominator)
    return str(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def parse_id(text: str) -> OrderId:
    """An order id or account token -> int (canonical decimal) or the text itself; ValueError
    with a learner-readable message for an empty token or one with a comma, space or quote."""
    if _CANONICAL_INT.match(text):
        return int(text)
    if _TOKEN.match(text):
        return text
    if not text:
        raise ValueError("is empty")
    raise ValueError(f"{text!r} is not a token (no commas, whitespace, quotes or control characters)")


def _id(text: str, field: str, line: int) -> OrderId:
    try:
        return parse_id(text)
    except ValueError as exc:
        raise EventFormatError(line, f"{field} {exc}", field=field) from None


def _int(text: str, field: str, line: int, *, minimum: int | None = None) -> int:
    if not _INT.match(text):
        raise EventFormatError(line, f"{field} {text!r} is not an integer", field=field)
    v = int(text)
    if minimum is not None and v < minimum:
        raise EventFormatError(line, f"{field} {v} is below {minimum}", field=field)
    return v


def _price(text: str, line: int) -> int:
    try:
        return parse_price(text)
    except ValueError as exc:
        raise EventFormatError(line, str(exc), field="price") from None


def parse_row(fields: list[str], line: int) -> OrderEvent:
    """One CSV row (already split) -> :class:`OrderEvent`."""
    if len(fields) != 9:
        raise EventFormatError(line, f"expected 9 fields, found {len(fields)}")
    seq_s, symbol, action_s, oid_s, side_s, type_s, price_s, qty_s, acct_s = (
        f.strip() for f in fields)
    seq = _int(seq_s, "seq", line, minimum=0)
    if not symbol:
        raise EventFormatError(line, "symbol is empty", field="symbol")
    action = ACTIONS.get(action_s)
    if action is None:
        raise EventFormatError(line, f"action {action_s!r} is not add, cancel or modify",
                               field="action")
    oid = _id(oid_s, "order_id", line)
    if action == CANCEL:
        return OrderEvent(seq, symbol, CANCEL, oid)
    if action == MODIFY:
        if not price_s or not qty_s:
            raise EventFormatError(line, "modify needs the new price and the new quantity",
                                   field="price" if not price_s else "qty")
        return OrderEvent(seq, symbol, MODIFY, oid, price_ticks=_price(price_s, line),
                          qty=_int(qty_s, "qty", line))
    side = SIDES.get(side_s)
    if side is None:
        raise EventFormatError(line, f"side {side_s!r} is not buy or sell", field="side")
    otype = TYPES.get(type_s)
    if otype is None:
        raise EventFormatError(line, f"type {type_s!r} is not limit, market, ioc or fok",
                               field="type")
    if otype == MARKET:
        if price_s:
            raise EventFormatError(line, f"a market order has no price (found {price_s!r})",
                                   field="price")
        price = 0
    else:
        if not price_s:
            raise EventFormatError(line, f"price is required for {type_s} orders", field="price")
        price = _price(price_s, line)
    if not qty_s:
        raise EventFormatError(line, "qty is empty", field="qty")
    qty = _int(qty_s, "qty", line)
    account = _id(acct_s, "account", line) if acct_s else 0
    return OrderEvent(seq, symbol, ADD, oid, side, otype, price, qty, account)


def _lines(raw: Iterable[bytes | str]) -> Iterator[str]:
    """Decode a binary file line by line, so a bad byte is reported with its line number."""
    for number, line in enumerate(raw, 1):
        if isinstance(line, str):
            yield line
            continue
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventFormatError(number, f"byte {exc.start + 1} of the line is not UTF-8 "
                                   f"({line[exc.start:exc.start + 1]!r})") from None


def read_events(f: Iterable[str] | Iterable[bytes]) -> Iterator[OrderEvent]:
    """Parse an event CSV lazily from a text or binary file (or any iterable of lines); raises
    :class:`EventFormatError` at the first bad row."""
    reader = csv.reader(_lines(f))
    try:
        header = next(reader, None)
        if header is None or ",".join(h.strip() for h in header) != EVENT_HEADER:
            got = "nothing" if header is None else repr(",".join(header))
            raise EventFormatError(1, f"header must be {EVENT_HEADER!r}, found {got}")
        for fields in reader:
            if not fields:  # blank line
                continue
            yield parse_row(fields, reader.line_num)
    except csv.Error as exc:  # NUL byte, quote not closed at the end of the file, ...
        raise EventFormatError(max(reader.line_num, 1), f"not CSV: {exc}") from None


def read_events_file(path: str | os.PathLike[str]) -> Iterator[OrderEvent]:
    """:func:`read_events` of a file by path; errors name the file (OSError if it cannot be
    opened)."""
    with open(path, "rb") as f:
        try:
            yield from read_events(f)
        except EventFormatError as exc:
            raise exc.in_file(os.fspath(path)) from None


def write_events(events: Iterable[OrderEvent], f: TextIO) -> None:
    """Inverse of :func:`read_events` (used by the round-trip test and the notebook)."""
    types = {v: k for k, v in TYPES.items()}
    actions = {v: k for k, v in ACTIONS.items()}
    f.write(EVENT_HEADER + "\n")
    for e in events:
        if e.action == CANCEL:
            f.write(f"{e.seq},{e.symbol},cancel,{e.order_id},,,,,\n")
        elif e.action == MODIFY:
            f.write(f"{e.seq},{e.symbol},modify,{e.order_id},,,{format_price(e.price_ticks)},"
                    f"{e.qty},\n")
        else:
            price = "" if e.type == MARKET else format_price(e.price_ticks)
            f.write(f"{e.seq},{e.symbol},{actions[e.action]},{e.order_id},{SIDE_NAMES[e.side]},"
                    f"{types[e.type]},{price},{e.qty},{e.account}\n")


def write_trades(trades: Iterable[Trade], f: TextIO) -> None:
    f.write(TRADE_HEADER + "\n")
    for t in trades:
        f.write(f"{t.seq},{t.symbol},{format_price(t.price_ticks)},{t.qty},{t.aggressor_id},"
                f"{t.resting_id},{SIDE_NAMES[t.aggressor_side]}\n")


def write_rejects(rejects: Iterable[Reject], f: TextIO) -> None:
    f.write(REJECT_HEADER + "\n")
    for r in rejects:
        f.write(f"{r.seq},{r.order_id},{r.reason}\n")


def write_depth(engine: MatchingEngine, f: TextIO) -> None:
    """The final book, every level; symbols in order of first appearance, bids then asks."""
    f.write(DEPTH_HEADER + "\n")
    for symbol in engine.symbols:
        book = engine.book(symbol)
        for side in (BUY, SELL):
            for i, lv in enumerate(book.depth(side), 1):
                f.write(f"{symbol},{SIDE_NAMES[side]},{i},{format_price(lv.price_ticks)},"
                        f"{lv.qty},{lv.orders}\n")


def write_pnl(engine: MatchingEngine, f: TextIO) -> None:
    """One row per (account, symbol) that ever traded; money in currency, 6 decimals."""
    f.write(PNL_HEADER + "\n")
    for v in engine.pnl():
        mark = "" if v.mark_ticks is None else format_price(v.mark_ticks)
        f.write(f"{v.account},{v.symbol},{v.position},{format_money(v.avg_price_ticks)},"
                f"{format_money(v.realized_pnl_ticks)},{format_money(v.unrealized_pnl_ticks)},"
                f"{mark}\n")
