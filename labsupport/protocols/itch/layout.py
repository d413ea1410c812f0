"""The NASDAQ TotalView-ITCH 5.0 message layouts, written once as data.

This module is the single source of truth for the byte layouts of section 1 ("Message Formats")
of the TotalView-ITCH 5.0 specification: 23 message types, each a fixed-size record of
big-endian fields. Every other ITCH module derives what it needs from :data:`LAYOUTS`:

* ``itch.py`` builds one precompiled :class:`struct.Struct` per type (streaming parser),
* ``itch_vector.py`` builds one numpy structured dtype per type (vectorised decoder),
* ``itch_encode.py`` packs tuples back into bytes with the same structs,
* the CLI names the JSON keys after :attr:`Field.name` (the spec's names in snake_case).

Field kinds (the spec's "Alpha", "Integer", "Price(4)", "Price(8)" and the 6-byte timestamp):

========  =======================================================================
``int``   unsigned big-endian integer of 1, 2, 4 or 8 bytes
``ts``    6-byte unsigned big-endian integer: nanoseconds since midnight
``alpha`` ASCII, left-justified and padded on the right with spaces
``p4``    4-byte unsigned integer price with 4 implied decimal places
``p8``    8-byte unsigned integer price with 8 implied decimal places
========  =======================================================================

Every message starts with the same 11-byte header: message type (1), stock locate (2),
tracking number (2), timestamp (6). The offsets in the spec's tables follow from the lengths,
so only lengths are written here and offsets are computed; :data:`SPEC_SIZES` keeps the
spec's stated total length of each message so a test can check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Field",
    "Layout",
    "LAYOUTS",
    "MESSAGE_TYPES",
    "SPEC_SIZES",
    "HEADER",
    "PRICE4_SCALE",
    "PRICE8_SCALE",
    "layout",
    "build_layout",
]

PRICE4_SCALE = 10_000
PRICE8_SCALE = 100_000_000

# Size in bytes of each integer-like kind (alpha gets its length from the table).
_FIXED = {"ts": 6, "p4": 4, "p8": 8}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message: spec name in snake_case, byte offset, length, kind."""

    name: str
    offset: int
    length: int
    kind: str  # "int" | "ts" | "alpha" | "p4" | "p8"


@dataclass(frozen=True, slots=True)
class Layout:
    """A message type's layout: its type byte, spec title, fields in wire order, total size."""

    type: str
    title: str
    fields: tuple[Field, ...]
    size: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# The common header (message type is an Alpha(1) whose value is the type letter).
HEADER = (
    ("message_type", 1, "alpha"),
    ("stock_locate", 2, "int"),
    ("tracking_number", 2, "int"),
    ("timestamp", 6, "ts"),
)

# Body of each message after the header: (name, length, kind). Order = wire order.
_BODIES: dict[str, tuple[str, tuple[tuple[str, int, str], ...]]] = {
    "S": ("System Event", (("event_code", 1, "alpha"),)),
    "R": (
        "Stock Directory",
        (
            ("stock", 8, "alpha"),
            ("market_category", 1, "alpha"),
            ("financial_status_indicator", 1, "alpha"),
            ("round_lot_size", 4, "int"),
            ("round_lots_only", 1, "alpha"),
            ("issue_classification", 1, "alpha"),
            ("issue_sub_type", 2, "alpha"),
            ("authenticity", 1, "alpha"),
            ("short_sale_threshold_indicator", 1, "alpha"),
            ("ipo_flag", 1, "alpha"),
            ("luld_reference_price_tier", 1, "alpha"),
            ("etp_flag", 1, "alpha"),
            ("etp_leverage_factor", 4, "int"),
            ("inverse_indicator", 1, "alpha"),
        ),
    ),
    "H": (
        "Stock Trading Action",
        (
            ("stock", 8, "alpha"),
            ("trading_state", 1, "alpha"),
            ("reserved", 1, "alpha"),
            ("reason", 4, "alpha"),
        ),
    ),
    "Y": (
        "Reg SHO Short Sale Price Test Restricted Indicator",
        (("stock", 8, "alpha"), ("reg_sho_action", 1, "alpha")),
    ),
    "L": (
        "Market Participant Position",
        (
            ("mpid", 4, "alpha"),
            ("stock", 8, "alpha"),
            ("primary_market_maker", 1, "alpha"),
            ("market_maker_mode", 1, "alpha"),
            ("market_participant_state", 1, "alpha"),
        ),
    ),
    "V": (
        "MWCB Decline Level",
        (("level_1", 8, "p8"), ("level_2", 8, "p8"), ("level_3", 8, "p8")),
    ),
    "W": ("MWCB Status", (("breached_level", 1, "alpha"),)),
    "K": (
        "IPO Quoting Period Update",
        (
            ("stock", 8, "alpha"),
            ("ipo_quotation_release_time", 4, "int"),
            ("ipo_quotation_release_qualifier", 1, "alpha"),
            ("ipo_price", 4, "p4"),
        ),
    ),
    "J": (
        "LULD Auction Collar",
        (
            ("stock", 8, "alpha"),
            ("auction_collar_reference_price", 4, "p4"),
            ("upper_auction_collar_price", 4, "p4"),
            ("lower_auction_collar_price", 4, "p4"),
            ("auction_collar_extension", 4, "int"),
        ),
    ),
    "h": (
        "Operational Halt",
        (
            ("stock", 8, "alpha"),
            ("market_code", 1, "alpha"),
            ("operational_halt_action", 1, "alpha"),
        ),
    ),
    "A": (
        "Add Order - No MPID Attribution",
        (
            ("order_reference_number", 8, "int"),
            ("buy_sell_indicator", 1, "alpha"),
            ("shares", 4, "int"),
            ("stock", 8, "alpha"),
            ("price", 4, "p4"),
        ),
    ),
    "F": (
        "Add Order - MPID Attribution",
        (
            ("order_reference_number", 8, "int"),
            ("buy_sell_indicator", 1, "alpha"),
            ("shares", 4, "int"),
            ("stock", 8, "alpha"),
            ("price", 4, "p4"),
            ("attribution", 4, "alpha"),
        ),
    ),
    "E": (
        "Order Executed",
        (
            ("order_reference_number", 8, "int"),
            ("executed_shares", 4, "int"),
            ("match_number", 8, "int"),
        ),
    ),
    "C": (
        "Order Executed With Price",
        (
            ("order_reference_number", 8, "int"),
            ("executed_shares", 4, "int"),
            ("match_number", 8, "int"),
            ("printable", 1, "alpha"),
            ("execution_price", 4, "p4"),
        ),
    ),
    "X": (
        "Order Cancel",
        (("order_reference_number", 8, "int"), ("cancelled_shares", 4, "int")),
    ),
    "D": ("Order Delete", (("order_reference_number", 8, "int"),)),
    "U": (
        "Order Replace",
        (
            ("original_order_reference_number", 8, "int"),
            ("new_order_reference_number", 8, "int"),
            ("shares", 4, "int"),
            ("price", 4, "p4"),
        ),
    ),
    "P": (
        "Trade (Non-Cross)",
        (
            ("order_reference_number", 8, "int"),
            ("buy_sell_indicator", 1, "alpha"),
            ("shares", 4, "int"),
            ("stock", 8, "alpha"),
            ("price", 4, "p4"),
            ("match_number", 8, "int"),
        ),
    ),
    "Q": (
        "Cross Trade",
        (
            ("shares", 8, "int"),
            ("stock", 8, "alpha"),
            ("cross_price", 4, "p4"),
            ("match_number", 8, "int"),
            ("cross_type", 1, "alpha"),
        ),
    ),
    "B": ("Broken Trade", (("match_number", 8, "int"),)),
    "I": (
        "Net Order Imbalance Indicator (NOII)",
        (
            ("paired_shares", 8, "int"),
            ("imbalance_shares", 8, "int"),
            ("imbalance_direction", 1, "alpha"),
            ("stock", 8, "alpha"),
            ("far_price", 4, "p4"),
            ("near_price", 4, "p4"),
            ("current_reference_price", 4, "p4"),
            ("cross_type", 1, "alpha"),
            ("price_variation_indicator", 1, "alpha"),
        ),
    ),
    "N": (
        "Retail Price Improvement Indicator (RPII)",
        (("stock", 8, "alpha"), ("interest_flag", 1, "alpha")),
    ),
    "O": (
        "Direct Listing with Capital Raise Price Discovery",
        (
            ("stock", 8, "alpha"),
            ("open_eligibility_status", 1, "alpha"),
            ("minimum_allowable_price", 4, "p4"),
            ("maximum_allowable_price", 4, "p4"),
            ("near_execution_price", 4, "p4"),
            ("near_execution_time", 8, "int"),
            ("lower_price_range_collar", 4, "p4"),
            ("upper_price_range_collar", 4, "p4"),
        ),
    ),
}

# The total message length the specification states for each type (checked by the tests
# against the sum of the field lengths above, so a typo in either table is caught).
SPEC_SIZES: dict[str, int] = {
    "S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35, "h": 21,
    "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44, "Q": 40, "B": 19,
    "I": 50, "N": 20, "O": 48,
}  # fmt: skip


def build_layout(mtype: str, title: str, body: tuple[tuple[str, int, str], ...]) -> Layout:
    """A layout from its body rows ``(name, length, kind)``; the 11-byte header is prepended,
    offsets are computed, and a kind whose length is impossible raises AssertionError."""
    if len(mtype) != 1 or not mtype.isascii():
        raise AssertionError(f"a message type is one ASCII letter, not {mtype!r}")
    fields: list[Field] = []
    offset = 0
    for name, length, kind in HEADER + body:
        if kind in _FIXED and _FIXED[kind] != length:
            raise AssertionError(f"{mtype}.{name}: kind {kind} needs {_FIXED[kind]} bytes")
        if kind == "int" and length not in (1, 2, 4, 8):
            raise AssertionError(f"{mtype}.{name}: integer of {length} bytes")
        fields.append(Field(name, offset, length, kind))
        offset += length
    return Layout(mtype, title, tuple(fields), offset)


#: type letter -> Layout, in the specification's order.
LAYOUTS: dict[str, Layout] = {t: build_layout(t, title, body) for t, (title, body) in _BODIES.items()}
#: The 23 type letters in the specification's order.
MESSAGE_TYPES: tuple[str, ...] = tuple(LAYOUTS)


def layout(mtype: str | int | bytes) -> Layout:
    """The layout of a type given as a letter, a byte value or a one-byte bytes object."""
    if isinstance(mtype, int):
        mtype = chr(mtype)
    elif isinstance(mtype, bytes):
        mtype = mtype.decode("latin-1")
    return LAYOUTS[mtype]
