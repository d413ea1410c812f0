"""FIX 4.4 tag=value messages: parse, validate, encode, repeating groups, typed accessors.

The wire format (FIX 4.4 "Standard Message Header/Trailer"): a message is a sequence of
``tag=value`` fields, each ended by SOH (byte 0x01). The first three fields are fixed:
BeginString(8), BodyLength(9), MsgType(35); the last is CheckSum(10).

* BodyLength is the number of bytes after the SOH that ends the ``9=`` field up to and
  including the SOH just before ``10=``.
* CheckSum is the sum of every byte from the ``8`` of ``8=`` through that same SOH, modulo
  256, written as exactly three digits (``10=007``).

Parsing is split into two cheap steps: ``bytes.split`` on SOH (C speed) and one partition on
``=`` per field; the BodyLength and CheckSum checks are done on the raw bytes (``sum`` over a
bytes object runs in C). Values stay ``bytes``; tags become ints. The typed accessors decode
on demand (``msg.cl_ord_id``, ``msg.get_int(38)``, ``msg.get_decimal(44)``...).

Repeating groups. A group is a count field (NoMDEntries=268) followed by that many instances,
each starting with the group's *delimiter* field and using only the group's member tags.
Which tags those are is not in the wire data: it takes a data dictionary. :data:`GROUPS` is a
small one (NoMDEntries in W and X, NoPartyIDs with nested NoPartySubIDs in any message);
:meth:`FixMessage.group` walks the flat field list with it.

Errors are :class:`FixError` subclasses that carry the byte offset of the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import ProtocolError

__all__ = [
    "SOH",
    "FixError",
    "FramingError",
    "BodyLengthError",
    "ChecksumError",
    "GroupError",
    "FixMessage",
    "GroupSpec",
    "GroupEntry",
    "GROUPS",
    "checksum",
    "parse",
    "encode",
]

SOH = b"\x01"


class FixError(ProtocolError):
    """Base of every FIX error; ``offset`` is the byte offset of the problem."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.reason = message
        self.offset = offset


class FramingError(FixError):
    """Raised by :func:`parse` when the message is not tag=value fields with 8, 9, 35 first and
    10 last, or does not end with SOH."""


class BodyLengthError(FixError):
    """Raised by :func:`parse` when BodyLength(9) disagrees with the bytes between the 9= field
    and the 10= field."""


class ChecksumError(FixError):
    """Raised by :func:`parse` when CheckSum(10) is not three digits or not the byte sum modulo
    256 of everything before it."""


class GroupError(FixError):
    """Raised when a repeating group does not hold the count of entries it announces, its count
    is not an integer, or an entry does not start with the group's delimiter tag."""


def checksum(data: bytes) -> int:
    """FIX CheckSum of ``data`` (the bytes from ``8=`` up to and including the SOH before ``10=``)."""
    return sum(data) & 0xFF


# --- data dictionary for repeating groups -------------------------------------------------


@dataclass(frozen=True)
class GroupSpec:
    """One repeating group: count tag, delimiter (first tag of each entry), member tags, nested groups."""

    count_tag: int
    delimiter: int
    members: frozenset[int]
    nested: dict[int, GroupSpec] = field(default_factory=dict)


_PARTY_SUB = GroupSpec(802, 523, frozenset({523, 803}))
NO_PARTY_IDS = GroupSpec(453, 448, frozenset({448, 447, 452, 802}), {802: _PARTY_SUB})
_MD_COMMON = {269, 278, 270, 271, 272, 273, 274, 275, 276, 277, 282, 283, 284, 286, 287, 288,
              289, 290, 291, 292, 299, 346, 15, 126, 110, 18, 336, 625, 58, 354, 355, 37, 432, 59}  # fmt: skip
#: (MsgType or "*", count tag) -> GroupSpec. "*" applies to any message type.
GROUPS: dict[tuple[str, int], GroupSpec] = {
    ("W", 268): GroupSpec(268, 269, frozenset(_MD_COMMON)),
    ("X", 268): GroupSpec(268, 279, frozenset(_MD_COMMON | {279, 285, 280, 55, 48, 22, 65, 387})),
    ("*", 453): NO_PARTY_IDS,
}


@dataclass
class GroupEntry:
    """One instance of a repeating group: its fields in wire order and its nested groups."""

    fields: list[tuple[int, bytes]]
    groups: dict[int, list[GroupEntry]]

    def get(self, tag: int, default: str | None = None) -> str | None:
        for t, v in self.fields:
            if t == tag:
                return v.decode("latin-1")
        return default


def _read_group(fields: list[tuple[int, bytes]], i: int, spec: GroupSpec, count: int) -> tuple[list[GroupEntry], int]:
    """Parse ``count`` entries of ``spec`` starting at ``fields[i]``; return (entries, next index)."""
    entries: list[GroupEntry] = []
    n = len(fields)
    while len(entries) < count:
        if i >= n or fields[i][0] != spec.delimiter:
            found = fields[i][0] if i < n else "end of message"
            raise GroupError(
                f"group {spec.count_tag}: entry {len(entries) + 1} of {count} must start with tag "
                f"{spec.delimiter}, found {found}"
            )
        entry = GroupEntry([fields[i]], {})
        i += 1
        while i < n and fields[i][0] in spec.members and fields[i][0] != spec.delimiter:
            tag, val = fields[i]
            entry.fields.append(fields[i])
            i += 1
            sub = spec.nested.get(tag)
            if sub is not None:
                entry.groups[tag], i = _read_group(fields, i, sub, _count(tag, val))
        entries.append(entry)
    return entries, i


def _count(tag: int, val: bytes) -> int:
    try:
        return int(val)
    except ValueError:
        raise GroupError(f"group count {tag}={val!r} is not an integer") from None


# --- the message ---------------------------------------------------------------------------


class FixMessage:
    """A parsed FIX message: ``fields`` is the list of ``(tag, value bytes)`` in wire order."""

    __slots__ = ("fields", "_index")

    def __init__(self, fields: list[tuple[int, bytes]]) -> None:
        self.fields = fields
        self._index: dict[int, bytes] | None = None

    # -- generic typed access
    def _lookup(self, tag: int) -> bytes | None:
        if self._index is None:
            idx: dict[int, bytes] = {}
            for t, v in self.fields:
                idx.setdefault(t, v)  # first occurrence wins (group members repeat)
            self._index = idx
        return self._index.get(tag)

    def __contains__(self, tag: int) -> bool:
        return self._lookup(tag) is not None

    def get(self, tag: int, default: str | None = None) -> str | None:
        v = self._lookup(tag)
        return default if v is None else v.decode("latin-1")

    def get_int(self, tag: int, default: int | None = None) -> int | None:
        v = self._lookup(tag)
        return default if v is None else int(v)

    def get_decimal(self, tag: int, default: Decimal | None = None) -> Decimal | None:
        v = self._lookup(tag)
        return default if v is None else Decimal(v.decode("ascii"))

    # -- named accessors for the fields an order-entry session uses
    msg_type = property(lambda self: self.get(35))
    sender_comp_id = property(lambda self: self.get(49))
    target_comp_id = property(lambda self: self.get(56))
    msg_seq_num = property(lambda self: self.get_int(34))
    cl_ord_id = property(lambda self: self.get(11))
    orig_cl_ord_id = property(lambda self: self.get(41))
    order_id = property(lambda self: self.get(37))
    symbol = property(lambda self: self.get(55))
    side = property(lambda self: self.get(54))
    ord_type = property(lambda self: self.get(40))
    order_qty = property(lambda self: self.get_int(38))
    price = property(lambda self: self.get_decimal(44))
    account = property(lambda self: self.get(1))

    def group(self, count_tag: int) -> list[GroupEntry]:
        """The entries of a repeating group, using :data:`GROUPS`; ``[]`` when absent."""
        spec = GROUPS.get((self.msg_type or "", count_tag)) or GROUPS.get(("*", count_tag))
        if spec is None:
            raise KeyError(f"no repeating group {count_tag} in the dictionary for MsgType {self.msg_type}")
        for i, (t, v) in enumerate(self.fields):
            if t == count_tag:
                entries, _ = _read_group(self.fields, i + 1, spec, _count(t, v))
                return entries
        return []

    def encode(self) -> bytes:
        """Re-encode (BodyLength and CheckSum recomputed from the body fields)."""
        body = [(t, v) for t, v in self.fields if t not in (8, 9, 10, 35)]
        return encode(self.msg_type or "", body, begin_string=self.get(8) or "FIX.4.4")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and self.fields == other.fields

    def __repr__(self) -> str:
        shown = "|".join(f"{t}={v.decode('latin-1')}" for t, v in self.fields)
        return f"FixMessage({shown})"


def parse(data: bytes, *, offset: int = 0) -> FixMessage:
    """Parse and validate one complete message (must end with the SOH after ``10=xxx``).

    ``offset`` is added to the offsets of errors (the message's position in a stream).
    """
    if not data.startswith(b"8="):
        raise FramingError("message does not start with BeginString (8=)", offset)
    if not data.endswith(SOH):
        raise FramingError("message does not end with SOH", offset + len(data))
    parts = data.split(SOH)
    parts.pop()  # empty string after the final SOH
    fields: list[tuple[int, bytes]] = []
    append = fields.append
    for p in parts:
        tag, eq, val = p.partition(b"=")
        if not eq or not tag.isdigit():
            raise FramingError(f"field {p[:20]!r} is not tag=value", offset + data.find(p))
        append((int(tag), val))
    if len(fields) < 4 or fields[1][0] != 9 or fields[2][0] != 35 or fields[-1][0] != 10:
        raise FramingError("fields must start 8, 9, 35 and end with 10", offset)
    # BodyLength: from after "9=...SOH" up to and including the SOH before "10=".
    body_start = len(parts[0]) + len(parts[1]) + 2
    trailer_at = len(data) - len(parts[-1]) - 1
    declared = fields[1][1]
    if not declared.isdigit() or int(declared) != trailer_at - body_start:
        raise BodyLengthError(
            f"BodyLength(9)={declared.decode('latin-1')} but the body is {trailer_at - body_start} bytes",
            offset + len(parts[0]) + 1,
        )
    cs = fields[-1][1]
    if len(cs) != 3 or not cs.isdigit():
        raise ChecksumError(f"CheckSum(10)={cs.decode('latin-1')!r} is not three digits", offset + trailer_at)
    expected = sum(memoryview(data)[:trailer_at]) & 0xFF
    if int(cs) != expected:
        raise ChecksumError(f"CheckSum(10)={cs.decode()} but the bytes sum to {expected:03d}", offset + trailer_at)
    return FixMessage(fields)


def _value(v: Any) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, Decimal):
        return format(v, "f").encode()
    return str(v).encode("latin-1")


def encode(msg_type: str, fields: list[tuple[int, Any]], *, begin_string: str = "FIX.4.4") -> bytes:
    """Encode a message: ``fields`` are the body fields in order (without 8, 9, 35, 10)."""
    body = b"35=" + msg_type.encode() + SOH + b"".join(b"%d=%s\x01" % (t, _value(v)) for t, v in fields)
    head = b"8=" + begin_string.encode() + SOH + b"9=%d\x01" % len(body)
    msg = head + body
    return msg + b"10=%03d\x01" % (sum(msg) & 0xFF)
