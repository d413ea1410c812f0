"""What the risk engine is fed: events, their CSV form, exact prices, and the lab's errors.

A risk engine sits on both sides of the matching engine (SEC Rule 15c3-5's "market access"
controls): an ``order`` asks to be checked before it reaches the market, a ``cancel`` releases
what an accepted order had reserved, a ``fill`` (a drop copy of an execution) moves a position,
and a ``mark`` (a market-data price) revalues every position in its symbol.

CSV (header exactly ``seq,ts_ns,kind,account,symbol,side,qty,price,order_id``)::

    seq,ts_ns,kind,account,symbol,side,qty,price,order_id
    1,1000,mark,,AAPL,,,187.25,
    2,1500,order,acc1,AAPL,buy,100,187.30,o1       <- limit order; empty price = market order
    3,2100,fill,acc1,AAPL,buy,40,187.30,o1         <- order_id: the accepted order it fills
    4,2600,cancel,,,,,,o1                          <- releases o1's open 60

Fields each kind reads (the others are ignored and may be empty):

======  ================================================================
order   account, symbol, side, qty, order_id; price (empty: market order)
cancel  order_id
fill    account, symbol, side, qty, price; order_id (may be empty: unknown)
mark    symbol, price
======  ================================================================

Ids, accounts and symbols are text, echoed exactly. ``seq`` and ``ts_ns`` are non-negative
integers and ``ts_ns`` never goes backwards (the order-rate window slides forward only).

Prices are exact: ``"187.25"`` becomes 1_872_500 *price units* (``PRICE_SCALE`` per currency
unit, i.e. 1e-4) by string arithmetic, never through a float, and a finer price is refused.
Money inside the engine is integer *money units*, ``MONEY_SCALE`` per currency unit (1e-8):
a price unit times Lab 02's ``COST_SCALE``, so Lab 02's average-cost arithmetic runs on it
unchanged. Every comparison against a limit is therefore an integer comparison.

Errors: :class:`RiskError` is the base of everything this package raises; :class:`EventError`
names the line (the header is line 1) and the field; :class:`LimitsError` (in ``limits``)
names the key and the account.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from labsupport.orderbook.pnl import COST_SCALE

__all__ = ["BUY", "SELL", "CANCEL", "FILL", "MARK", "ORDER", "EVENT_HEADER", "KINDS",
           "MONEY_SCALE", "PRICE_SCALE", "Event", "EventError", "RiskError", "format_event",
           "decimal_text", "format_money", "parse_event", "parse_price", "price_text", "read_events",
           "read_events_file"]

PRICE_DP = 4
PRICE_SCALE = 10 ** PRICE_DP  # price units per currency unit
MONEY_SCALE = PRICE_SCALE * COST_SCALE  # money units per currency unit (1e-8)
MONEY_DP = PRICE_DP + len(str(COST_SCALE)) - 1

BUY, SELL = 1, -1
ORDER, CANCEL, FILL, MARK = "order", "cancel", "fill", "mark"
KINDS = (ORDER, CANCEL, FILL, MARK)
EVENT_HEADER = "seq,ts_ns,kind,account,symbol,side,qty,price,order_id"
FIELDS = tuple(EVENT_HEADER.split(","))
_SIDES = {"buy": BUY, "sell": SELL}
_SIDE_TEXT = {BUY: "buy", SELL: "sell", 0: ""}


class RiskError(Exception):
    """Base of every error the risk package raises (a rejected order is not an error)."""


class EventError(RiskError):
    """An event cannot be read: wrong header or field count, a bad number, an unknown word.

    ``line`` is 1-based (the header is line 1; for a stream, the message's number), ``field``
    the column at fault (None for the row as a whole); the message reads
    ``FILE, line N, field F: what is wrong``."""

    def __init__(self, line: int, message: str, *, field: str | None = None,
                 file: str | None = None) -> None:
        self.line, self.message, self.field, self.file = line, message, field, file
        where = [] if file is None else [str(file)]
        where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}")

    def in_file(self, file: str) -> EventError:
        """The same error, naming the file it was found in."""
        return EventError(self.line, self.message, field=self.field, file=file)


@dataclass(frozen=True, slots=True)
class Event:
    """One input event; ``side`` is +1 (buy), -1 (sell) or 0, ``price`` in price units or
    None (a market order), empty text fields are ``""``."""

    seq: int
    ts_ns: int
    kind: str
    account: str = ""
    symbol: str = ""
    side: int = 0
    qty: int = 0
    price: int | None = None
    order_id: str = ""


def parse_price(text: str) -> int:
    """``"187.25"`` -> 1_872_500 price units, exactly; ValueError if not a positive decimal
    with at most ``PRICE_DP`` places."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{text!r} is not a positive price")
    units = d.scaleb(PRICE_DP)
    if units != units.to_integral_value():
        raise ValueError(f"{text!r} is finer than {PRICE_DP} decimal places")
    return int(units)


def price_text(units: int) -> str:
    """Price units back to the shortest exact decimal text (1_872_500 -> ``"187.25"``)."""
    return decimal_text(Decimal(units).scaleb(-PRICE_DP))


def decimal_text(d: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros (1E+6 -> "1000000")."""
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_money(value: int | Fraction) -> str:
    """Money units (int) or currency (Fraction) -> exact decimal text, rounded half-even to
    ``MONEY_DP`` places only when the value is finer than that (a VaR interpolation, a margin)."""
    if isinstance(value, int):
        return decimal_text(Decimal(value).scaleb(-MONEY_DP))
    return decimal_text(Decimal(round(value * MONEY_SCALE)).scaleb(-MONEY_DP))  # half-even


def _int(text: str, line: int, field: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise EventError(line, f"{text!r} is not a non-negative integer", field=field)
    return int(text)


def _need(text: str, line: int, field: str, kind: str) -> str:
    if not text:
        raise EventError(line, f"empty, but a {kind} needs it", field=field)
    return text


def parse_event(row: list[str], line: int) -> Event:
    """One CSV row (already split) -> :class:`Event`, or :class:`EventError` naming the field."""
    if len(row) != len(FIELDS):
        raise EventError(line, f"expected {len(FIELDS)} fields ({EVENT_HEADER}), got {len(row)}")
    seq_t, ts_t, kind, account, symbol, side_t, qty_t, price_t, order_id = row
    seq = _int(seq_t, line, "seq")
    ts_ns = _int(ts_t, line, "ts_ns")
    if kind == MARK:
        _need(symbol, line, "symbol", kind)
        try:
            return Event(seq, ts_ns, MARK, symbol=symbol,
                         price=parse_price(_need(price_t, line, "price", kind)))
        except ValueError as exc:
            raise EventError(line, str(exc), field="price") from None
    if kind == CANCEL:
        return Event(seq, ts_ns, CANCEL, account, symbol,
                     order_id=_need(order_id, line, "order_id", kind))
    if kind != ORDER and kind != FILL:
        raise EventError(line, f"{kind!r} is not one of {', '.join(KINDS)}", field="kind")
    _need(account, line, "account", kind)
    _need(symbol, line, "symbol", kind)
    side = _SIDES.get(side_t)
    if side is None:
        raise EventError(line, f"{side_t!r} is not buy or sell", field="side")
    qty = _int(_need(qty_t, line, "qty", kind), line, "qty")
    if qty == 0:
        raise EventError(line, "quantity 0", field="qty")
    if kind == FILL:
        _need(price_t, line, "price", kind)
    else:
        _need(order_id, line, "order_id", kind)
    try:
        price = parse_price(price_t) if price_t else None
    except ValueError as exc:
        raise EventError(line, str(exc), field="price") from None
    return Event(seq, ts_ns, kind, account, symbol, side, qty, price, order_id)


def format_event(ev: Event) -> str:
    """The CSV row (no newline) :func:`parse_event` reads back into an equal event."""
    price = "" if ev.price is None else price_text(ev.price)
    qty = str(ev.qty) if ev.qty else ""
    return (f"{ev.seq},{ev.ts_ns},{ev.kind},{ev.account},{ev.symbol},{_SIDE_TEXT[ev.side]},"
            f"{qty},{price},{ev.order_id}")


def read_events(lines: Iterable[str]) -> Iterator[Event]:
    """Parse CSV text lines (header first); ``ts_ns`` must not go backwards."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None or ",".join(header) != EVENT_HEADER:
            raise EventError(1, f"header must be exactly {EVENT_HEADER}")
        last_ts = 0
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            ev = parse_event(row, line)
            if ev.ts_ns < last_ts:
                raise EventError(line, f"{ev.ts_ns} goes back in time (previous {last_ts})",
                                 field="ts_ns")
            last_ts = ev.ts_ns
            yield ev
    except csv.Error as exc:
        raise EventError(reader.line_num, f"not CSV: {exc}") from None


def read_events_file(path: str | Path) -> Iterator[Event]:
    """:func:`read_events` on a file; errors name the file. Bytes are decoded per line, so a
    byte that is not UTF-8 is reported with its line."""

    def lines() -> Iterator[str]:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise EventError(n, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None

    try:
        yield from read_events(lines())
    except EventError as exc:
        raise exc.in_file(str(path)) from None


def write_events(events: Iterable[Event], f: io.TextIOBase) -> int:
    """Write an event CSV (header included); returns the number of rows."""
    f.write(EVENT_HEADER + "\n")
    n = 0
    for ev in events:
        f.write(format_event(ev) + "\n")
        n += 1
    return n
