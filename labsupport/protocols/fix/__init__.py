"""FIX 4.4 tag=value: parser/encoder with BodyLength and CheckSum, a resynchronising stream
parser, repeating groups from a small data dictionary, and an order gateway in front of
Lab 02's matching engine (D/F/G in, 8/9 out).

    from labsupport.protocols.fix import parse, encode, FixStream, FixGateway
"""

from .message import (
    GROUPS,
    SOH,
    BodyLengthError,
    ChecksumError,
    FixError,
    FixMessage,
    FramingError,
    GroupEntry,
    GroupError,
    GroupSpec,
    checksum,
    encode,
    parse,
)
from .stream import MAX_BODY_LENGTH, FixReject, FixStream, RejectedSpansError

__all__ = [
    "GROUPS", "SOH", "BodyLengthError", "ChecksumError", "FixError", "FixMessage", "FramingError",
    "GroupEntry", "GroupError", "GroupSpec", "checksum", "encode", "parse", "MAX_BODY_LENGTH",
    "FixReject", "FixStream", "RejectedSpansError",
]  # fmt: skip
