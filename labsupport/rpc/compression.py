"""Message compression as gRPC does it: gzip and deflate, negotiated per call through metadata.

What it mirrors: gRPC's "compression.md" and the ``grpc-encoding`` / ``grpc-accept-encoding``
headers of "PROTOCOL-HTTP2.md": a sender names the encoding of its compressed messages in
``grpc-encoding`` and the encodings it can read in ``grpc-accept-encoding``; each message's
compressed flag (the first byte of gRPC's 5-byte prefix, a DATA flag on the native transport)
says whether that one message is compressed. ``gzip`` is RFC 1952, ``deflate`` is the zlib
format of RFC 1950 (as gRPC and HTTP mean it), both from :mod:`zlib`.

Theory of operation. A server learns the request's encoding from the call's metadata
(:func:`negotiate`, which also strips the two keys so handlers never see them); an encoding
it does not know is ``UNIMPLEMENTED``, as the spec says. It compresses its responses with its
own choice (the server's default, or ``CallContext.set_compression``) only when the client
listed it as acceptable. Inflating is bounded: :meth:`Codec.decompress` asks zlib for at most
the receive limit plus one byte, so a small message that would inflate to gigabytes (a "zip
bomb") is ``RESOURCE_EXHAUSTED`` after ``limit`` bytes, never buffered whole; bytes that do
not inflate are ``INTERNAL``.
"""

from __future__ import annotations

import zlib
from typing import Final

from .errors import Metadata, RpcError, StatusCode

IDENTITY: Final = "identity"


class Codec:
    """One compression algorithm: its gRPC name and zlib's window bits for its container."""

    __slots__ = ("name", "wbits", "level")

    def __init__(self, name: str, wbits: int, level: int = 6) -> None:
        self.name, self.wbits, self.level = name, wbits, level

    def compress(self, data: bytes) -> bytes:
        c = zlib.compressobj(self.level, zlib.DEFLATED, self.wbits)
        return c.compress(data) + c.flush()

    def decompress(self, data: bytes, limit: int) -> bytes:
        d = zlib.decompressobj(self.wbits)
        try:
            out = d.decompress(data, limit + 1)
        except zlib.error as exc:
            raise RpcError(StatusCode.INTERNAL, f"{self.name} message does not inflate: "
                           f"{exc}") from None
        if len(out) > limit:
            raise RpcError(StatusCode.RESOURCE_EXHAUSTED,
                           f"{self.name} message inflates past the limit of {limit} bytes")
        if not d.eof or d.unused_data:
            raise RpcError(StatusCode.INTERNAL, f"{self.name} message is truncated or has "
                           "trailing bytes")
        return out

    def __repr__(self) -> str:
        return f"Codec({self.name!r})"


CODECS: dict[str, Codec] = {"gzip": Codec("gzip", 16 + zlib.MAX_WBITS),
                            "deflate": Codec("deflate", zlib.MAX_WBITS)}
ACCEPT: Final = ",".join([IDENTITY, *CODECS])  # what we can read, as grpc-accept-encoding


def codec_for(name: str | None) -> Codec | None:
    """The codec called ``name``; ``None`` for no compression (``None`` or ``identity``)."""
    if name is None or name == IDENTITY:
        return None
    try:
        return CODECS[name]
    except KeyError:
        raise RpcError(StatusCode.INVALID_ARGUMENT, f"unknown compression {name!r} (known: "
                       f"{', '.join(CODECS)})") from None


def accepted(header: str | None) -> set[str]:
    """The encodings a ``grpc-accept-encoding`` value lists."""
    return {part.strip() for part in header.split(",")} if header else set()


def request_codec(name: str | None) -> Codec | None:
    """The codec of a received ``grpc-encoding``: unknown is ``UNIMPLEMENTED`` (the spec)."""
    if name is None or name == IDENTITY:
        return None
    codec = CODECS.get(name)
    if codec is None:
        raise RpcError(StatusCode.UNIMPLEMENTED, f"message encoding {name!r} is not supported "
                       f"(supported: {ACCEPT})")
    return codec


def negotiate(metadata: Metadata, preferred: str | None, encoding_key: str, accept_key: str
              ) -> tuple[Metadata, Codec | None, Codec | None, set[str]]:
    """Server side: ``(metadata without the two keys, the request's codec, the response's
    codec, the encodings the client accepts)``."""
    rest, encoding, accept = [], None, None
    for key, value in metadata:
        if key == encoding_key:
            encoding = value if isinstance(value, str) else value.decode()
        elif key == accept_key:
            accept = value if isinstance(value, str) else value.decode()
        else:
            rest.append((key, value))
    codecs = accepted(accept)
    reply = CODECS[preferred] if preferred in codecs else None
    return tuple(rest), request_codec(encoding), reply, codecs
