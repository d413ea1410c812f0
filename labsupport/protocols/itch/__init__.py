"""NASDAQ TotalView-ITCH 5.0: one layout table, two parsers, an encoder, a generator, a book.

    from labsupport.protocols.itch import iter_tuples, decode, ItchBook, encode, frame
    for msg in iter_tuples(data): ...            # streaming, one tuple per message
    arrays = decode(data).arrays                 # vectorised, one structured array per type
    book = ItchBook(); book.apply_buffer(data); book.l2(locate)

Modules: ``layout`` (the spec's tables as data), ``parser`` (framing, streaming parser,
MoldUDP64, errors), ``vector`` (numpy/numba decoder), ``kernelgen`` (writes its numba
gather, ``_gather_kernel``, from the table), ``encode``, ``gen`` (an ITCH day from
``labsupport.marketdata`` flow), ``book`` (ITCH-driven L3/L2 book), ``cli``.
The generator is imported lazily (it pulls in Lab 02's engine).
"""

from .book import BOOK_TYPES, ItchBook, reference_l2
from .encode import EncodeError, encode, encode_moldudp64, encode_tuple, frame
from .layout import LAYOUTS, MESSAGE_TYPES, SPEC_SIZES, Field, Layout, build_layout
from .parser import (
    MESSAGE_CLASSES,
    STRUCTS,
    ItchError,
    ItchStream,
    LengthMismatch,
    MoldPacket,
    MoldSequencer,
    MoldUDP64Error,
    TruncatedMessage,
    UnknownMessageType,
    UnknownStockError,
    extra_layouts,
    iter_messages,
    iter_moldudp64_capture,
    iter_tuples,
    message_dict,
    parse_moldudp64,
    read_itch_file,
    to_message,
)
from .vector import HAVE_NUMBA, Decoded, decode, scan, to_frame

__all__ = [
    "BOOK_TYPES", "ItchBook", "reference_l2", "EncodeError", "encode", "encode_moldudp64",
    "encode_tuple", "frame", "LAYOUTS", "MESSAGE_TYPES", "SPEC_SIZES", "Field", "Layout", "build_layout", "extra_layouts",
    "MESSAGE_CLASSES", "STRUCTS", "ItchError", "ItchStream", "LengthMismatch", "MoldPacket",
    "MoldUDP64Error", "MoldSequencer", "TruncatedMessage", "UnknownMessageType", "UnknownStockError", "iter_messages",
    "iter_moldudp64_capture", "iter_tuples",
    "message_dict", "parse_moldudp64", "read_itch_file", "to_message", "HAVE_NUMBA", "Decoded",
    "decode", "scan", "to_frame",
]  # fmt: skip
