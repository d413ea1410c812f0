"""The events the request parser produces, and its limits (h11's ``_events.py``).

Small immutable values: ``Request`` (the head), ``Data`` (a piece of body), ``EndOfMessage``
(with a chunked body's trailers), ``ConnectionClosed``, and the ``NEED_DATA`` sentinel that
``RequestParser.next_event()`` returns when the buffer does not hold a whole event yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["NEED_DATA", "ConnectionClosed", "Data", "EndOfMessage", "Limits", "Request"]


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Returned by ``next_event()`` when the buffer does not hold a whole event yet.
NEED_DATA = _Sentinel("NEED_DATA")


@dataclass(frozen=True, slots=True)
class Limits:
    """Protective limits; the defaults are those of common production servers."""

    max_target_bytes: int = 8192  # 414 above this
    max_head_bytes: int = 16384  # 431 above this (request line + fields)
    max_header_count: int = 100  # 431 above this
    max_body_bytes: int = 1 << 20  # 413 above this
    max_chunk_line_bytes: int = 1024  # chunk size + extensions


class Request(NamedTuple):
    """A request head. Header names are lower-cased bytes, values are stripped bytes.

    Immutable like the other events, but a ``NamedTuple`` rather than a frozen dataclass:
    it is built once per request and a tuple is about four times cheaper to construct.
    """

    method: str
    target: bytes
    path: str  # the path part of the target, still percent-encoded
    query: bytes
    http_version: str  # "1.1" or "1.0"
    headers: tuple[tuple[bytes, bytes], ...]
    keep_alive: bool
    expect_continue: bool
    content_length: int | None  # None when the body is chunked
    chunked: bool

    def header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """The first value of header ``name`` (lower-case bytes), or ``default``."""
        for k, v in self.headers:
            if k == name:
                return v
        return default


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of the request body, already de-chunked."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The request body is complete; ``trailers`` holds a chunked body's trailer fields."""

    trailers: tuple[tuple[bytes, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The client closed its side between two requests (a clean end)."""


