"""ITCH 5.0 encoder: the inverse of the parser, used to build test data and the data/ samples.

It packs with the very structs the streaming parser unpacks with (``parser.STRUCTS``, derived
from ``layout.LAYOUTS``), so encode -> decode is the identity by construction of one table,
and the tests check the other direction (decode -> encode gives the same bytes) per type.

Two entry points:

* :func:`encode_tuple` takes the parser's tuple form ``(letter, stock_locate,
  tracking_number, timestamp, *body)`` with Alpha fields as bytes or str;
* :func:`encode` takes keyword fields by their spec names, Alpha values as str, prices as
  integers with implied decimals (or ``Decimal``/str, converted exactly); omitted fields are
  zero or blank.

Alpha fields are left-justified and padded with spaces (the spec's rule; ``struct``'s own
``s`` code would pad with NUL bytes). Values that do not fit raise :class:`EncodeError`.
Framing helpers add the 2-byte length prefix (:func:`frame`) or wrap a MoldUDP64 packet
(:func:`encode_moldudp64`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ..errors import ProtocolError
from .layout import LAYOUTS, PRICE4_SCALE, PRICE8_SCALE
from .parser import STRUCTS

__all__ = ["EncodeError", "encode", "encode_tuple", "frame", "encode_moldudp64"]

_MAX = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 6: 0xFFFF_FFFF_FFFF, 8: 0xFFFF_FFFF_FFFF_FFFF}


class EncodeError(ProtocolError):
    """Raised by the encoder when a value does not fit its field (too long, negative, too large,
    too many decimals) or names an unknown message type or field."""


def _alpha(value: Any, length: int, name: str) -> bytes:
    b = value.encode("ascii") if isinstance(value, str) else bytes(value)
    if len(b) > length:
        raise EncodeError(f"field {name}: {b!r} is longer than {length} bytes")
    return b.ljust(length, b" ")


def _price(value: Any, scale: int) -> int:
    if isinstance(value, int):
        return value
    d = Decimal(str(value)) * scale
    if d != d.to_integral_value():
        raise EncodeError(f"price {value} has more decimals than the field carries")
    return int(d)


def encode_tuple(t: tuple | list) -> bytes:
    """Encode one message given in the parser's tuple form (without the length prefix)."""
    letter = t[0]
    try:
        lay = LAYOUTS[letter]
    except KeyError:
        raise EncodeError(f"unknown message type {letter!r}") from None
    if len(t) != len(lay.fields):
        raise EncodeError(f"type {letter!r} has {len(lay.fields)} fields, got {len(t)}")
    args: list[Any] = []
    for f, v in zip(lay.fields, t):
        if f.kind == "alpha":
            args.append(_alpha(v, f.length, f.name))
            continue
        if f.kind == "p4":
            v = _price(v, PRICE4_SCALE)
        elif f.kind == "p8":
            v = _price(v, PRICE8_SCALE)
        if not 0 <= v <= _MAX[f.length]:
            raise EncodeError(f"field {f.name}: {v} does not fit {f.length} unsigned bytes")
        if f.kind == "ts":
            args.extend((v >> 32, v & 0xFFFF_FFFF))
        else:
            args.append(v)
    try:
        return STRUCTS[letter].pack(*args)
    except struct.error as exc:  # pragma: no cover - guarded above
        raise EncodeError(str(exc)) from exc


def encode(message_type: str, **fields: Any) -> bytes:
    """Encode one message from keyword fields named as in the spec (snake_case)."""
    try:
        lay = LAYOUTS[message_type]
    except KeyError:
        raise EncodeError(f"unknown message type {message_type!r}") from None
    unknown = set(fields) - set(lay.names)
    if unknown:
        raise EncodeError(f"type {message_type!r} has no field(s) {sorted(unknown)}")
    vals: list[Any] = [message_type]
    for f in lay.fields[1:]:
        vals.append(fields.get(f.name, "" if f.kind == "alpha" else 0))
    return encode_tuple(vals)


def frame(messages: Iterable[bytes]) -> bytes:
    """Concatenate messages, each preceded by its 2-byte big-endian length (the file format)."""
    out = bytearray()
    for m in messages:
        out += len(m).to_bytes(2, "big")
        out += m
    return bytes(out)


def encode_moldudp64(session: str, sequence_number: int, messages: list[bytes]) -> bytes:
    """One MoldUDP64 downstream packet holding ``messages`` (first one numbered ``sequence_number``)."""
    if len(messages) >= 0xFFFF:
        raise EncodeError("a MoldUDP64 packet holds at most 65534 messages")
    header = struct.pack(">10sQH", _alpha(session, 10, "session"), sequence_number, len(messages))
    return header + frame(messages)
