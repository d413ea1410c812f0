"""Lab 13 exercises: edit these, then run ``python -m labsupport check 13``.

Each function or class below is plugged into the ITCH and FIX code by its check
(``labsupport/exercises/lab13.py``), which prints one PASS/FAIL line per case.
"""

from __future__ import annotations

from labsupport.protocols.itch import Layout, MoldPacket


# 13.1 A new message type.
# Type "Z", "Test Message": after the common header, Stock (8, Alpha), Price (4, Price(4)),
# Shares (4, Integer), Flag (1, Alpha). Return its Layout, built the way the spec's 23 are
# (labsupport.protocols.itch.build_layout(letter, title, body rows of (name, length, kind))).
def test_message_layout() -> Layout:
    raise NotImplementedError


# 13.2 MoldUDP64 gap detection.
# Packets arrive in any order, some twice. accept() returns the messages that can now be
# released in sequence (each exactly once); missing() names the inclusive (first, last)
# sequence ranges not received yet below the highest sequence number seen.
class MoldReceiver:
    def __init__(self, first_sequence: int = 1) -> None:
        self.next_sequence = first_sequence

    def accept(self, packet: MoldPacket) -> list[tuple]:
        return list(packet.messages)  # releases whatever arrives, in arrival order

    def missing(self) -> list[tuple[int, int]]:
        return []


# 13.3 Faster FIX with lazy tags.
# LazyFixMessage(raw) validates like fix.parse (FramingError, BodyLengthError, ChecksumError)
# but keeps tags as bytes and converts only what is asked for. It offers .fields (the list of
# (int tag, value bytes) that fix.parse gives), .get(tag) -> str | None, and .encode() -> bytes.
class LazyFixMessage:
    def __init__(self, raw: bytes) -> None:
        raise NotImplementedError

    @property
    def fields(self) -> list[tuple[int, bytes]]:
        raise NotImplementedError

    def get(self, tag: int) -> str | None:
        raise NotImplementedError

    def encode(self) -> bytes:
        raise NotImplementedError


# 13.4 The ITCH book per stock in numba.
# FastBook().apply_buffer(framed ITCH bytes) applies A/F/E/C/X/D/U; l2(locate) returns
# (bids, asks), each a list of (price, shares, orders) best first, as itch.book.reference_l2.
# Keep order state in arrays indexed by (a dense renumbering of) the reference number and
# apply the messages in one numba loop.
class FastBook:
    def apply_buffer(self, data: bytes) -> None:
        raise NotImplementedError

    def l2(self, locate: int) -> tuple[list[tuple], list[tuple]]:
        raise NotImplementedError
