"""gRPC's wire format on HTTP/2, sans-IO: message prefixes, timeouts, status and metadata headers.

What it mirrors: gRPC's "PROTOCOL-HTTP2.md": each message is a 5-byte prefix (a compressed
flag byte and a big-endian u32 length) and the bytes; ``grpc-timeout`` is at most 8 digits and
a unit (H, M, S, m, u, n); the status travels in trailers as ``grpc-status`` and a
percent-encoded ``grpc-message``; metadata keys ending in ``-bin`` carry base64 values.

Theory of operation. :class:`MessageReader` is fed DATA payloads as they arrive (split
anywhere) and returns the complete messages; a length over the limit raises
:class:`~.errors.MessageTooLarge` before any of the message is buffered; a message with the
compressed flag is inflated with the stream's ``grpc-encoding`` codec (the reader's
``codec``, see :mod:`.compression`), and is ``INTERNAL`` on a stream that named none. The rest are pure functions the two
h2 transports share, so the codec is tested without a socket.
"""

from __future__ import annotations

import base64
import struct
from urllib.parse import quote, unquote

from .compression import Codec
from .errors import MessageTooLarge, Metadata, RpcError, Status, StatusCode

PREFIX = struct.Struct("!BI")
DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
# headers that are the transport's, never the application's metadata
RESERVED = frozenset({":path", ":method", ":scheme", ":authority", ":status", "content-type",
                      "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
                      "grpc-status", "grpc-message", "content-length", "user-agent",
                      "grpc-status-details-bin"})


def prefix(payload: bytes, codec: Codec | None = None) -> bytes:
    """The message as it goes in DATA: compressed with ``codec`` (flag 1) when one is given."""
    if codec is None:
        return PREFIX.pack(0, len(payload)) + payload
    packed = codec.compress(payload)
    return PREFIX.pack(1, len(packed)) + packed


class MessageReader:
    """Length-prefixed messages out of DATA payloads split anywhere."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self.codec: Codec | None = None  # the stream's grpc-encoding
        self.compressed = 0  # compressed messages read so far

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out = []
        while len(buf) >= 5:
            flag, length = PREFIX.unpack_from(buf)
            if flag not in (0, 1):
                raise RpcError(StatusCode.INTERNAL, f"bad message flag {flag}")
            if flag == 1 and self.codec is None:
                raise RpcError(StatusCode.INTERNAL, "compressed message without grpc-encoding")
            if length > self.max_message:
                raise MessageTooLarge(length, self.max_message)
            if len(buf) < 5 + length:
                break
            message = bytes(buf[5:5 + length])
            del buf[:5 + length]
            if flag == 1:
                message = self.codec.decompress(message, self.max_message)
                self.compressed += 1
            out.append(message)
        return out

    @property
    def partial(self) -> bool:
        return bool(self._buf)


def encode_timeout(seconds: float) -> str:
    """The shortest exact-enough ``grpc-timeout``: at most 8 digits, rounded up."""
    for unit, scale in (("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("S", 1.0), ("M", 60.0)):
        value = -(-seconds // scale)  # ceil
        if value < 1e8:
            return f"{max(1, int(value))}{unit}"
    return f"{min(99999999, int(-(-seconds // 3600)))}H"


def decode_timeout(text: str) -> float:
    if not 2 <= len(text) <= 9 or not text[:-1].isdigit() or text[-1] not in _UNITS:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"bad grpc-timeout {text!r}")
    return int(text[:-1]) * _UNITS[text[-1]]


def encode_message(message: str) -> str:
    """Percent-encode as gRPC does: everything outside printable ASCII and '%' itself."""
    return quote(message, safe="".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%"))


def decode_message(text: str) -> str:
    return unquote(text, errors="replace")


def metadata_to_headers(metadata: Metadata) -> list[tuple[str, str]]:
    out = []
    for key, value in metadata:
        key = key.lower()
        if key.endswith("-bin"):
            raw = value if isinstance(value, bytes) else value.encode()
            out.append((key, base64.b64encode(raw).decode().rstrip("=")))
        else:
            out.append((key, value.decode() if isinstance(value, bytes) else value))
    return out


def headers_to_metadata(headers: list[tuple[str, str]]) -> Metadata:
    out: list[tuple[str, str | bytes]] = []
    for key, value in headers:
        if key in RESERVED or key.startswith(":"):
            continue
        if key.endswith("-bin"):
            try:
                out.append((key, base64.b64decode(value + "=" * (-len(value) % 4))))
            except ValueError:
                raise RpcError(StatusCode.INTERNAL, f"metadata {key} is not base64") from None
        else:
            out.append((key, value))
    return tuple(out)


def status_headers(status: Status) -> list[tuple[str, str]]:
    out = [("grpc-status", str(int(status.code)))]
    if status.message:
        out.append(("grpc-message", encode_message(status.message)))
    return out + metadata_to_headers(status.trailers)


def status_from_headers(headers: list[tuple[str, str]]) -> Status | None:
    """The status in trailers (or a trailers-only response); ``None`` when there is none."""
    fields = dict(headers)
    if "grpc-status" not in fields:
        return None
    try:
        code = StatusCode.of(int(fields["grpc-status"]))
    except ValueError:
        code = StatusCode.UNKNOWN
    return Status(code, decode_message(fields.get("grpc-message", "")),
                  headers_to_metadata(headers))


def http_status_code(status: int) -> StatusCode:
    """gRPC's mapping of a non-200 HTTP status to a call status ("http-grpc-status-mapping")."""
    return {400: StatusCode.INTERNAL, 401: StatusCode.UNAUTHENTICATED,
            403: StatusCode.PERMISSION_DENIED, 404: StatusCode.UNIMPLEMENTED,
            429: StatusCode.UNAVAILABLE, 502: StatusCode.UNAVAILABLE,
            503: StatusCode.UNAVAILABLE, 504: StatusCode.UNAVAILABLE}.get(status,
                                                                          StatusCode.UNKNOWN)
