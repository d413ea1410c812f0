"""What a proxy changes in a request and a response on the way through (RFC 9110 section 7.6).

* Hop-by-hop fields are removed in both directions: ``Connection`` and every field it names,
  ``Keep-Alive``, ``Proxy-Connection``, ``TE``, ``Trailer``, ``Transfer-Encoding``,
  ``Upgrade`` (each hop frames and keeps alive its own connection). ``Content-Length`` is
  re-computed by whoever frames the body next.
* Added to the request: ``X-Forwarded-For`` (the client address appended to any list already
  there), ``X-Request-Id`` (kept when the client sent one, so a request can be followed through
  every service), ``Via: 1.1 labsupport-gateway`` (RFC 9110 section 7.6.3).
* The response keeps its end-to-end fields; ``Date`` and ``Server`` are the serving hop's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from labsupport.http import Response

__all__ = ["HOP_BY_HOP", "VIA", "client_response", "field", "request_head", "response_fields"]

VIA = b"1.1 labsupport-gateway"
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade"})
_REFRAMED = frozenset({b"content-length"})
_RESPONSE_OWN = frozenset({b"content-length", b"date", b"server", b"content-type"})
# What is dropped when no Connection field names more (the common case: no set built).
_REQUEST_DROP = HOP_BY_HOP | _REFRAMED | {b"x-request-id", b"via"}
_RESPONSE_DROP = HOP_BY_HOP | _RESPONSE_OWN


def _dropped(headers: Iterable[tuple[bytes, bytes]], base: frozenset[bytes]) -> frozenset[bytes]:
    """``base`` plus every field a ``Connection`` field names (RFC 9110 section 7.6.1)."""
    named: set[bytes] = set()
    for k, v in headers:
        if k == b"connection":
            named.update(t.strip().lower() for t in v.split(b",") if t.strip())
    return base | named if named else base


def request_head(method: str, target: bytes, headers: Iterable[tuple[bytes, bytes]],
                 body_len: int | None, client_ip: str, request_id: bytes) -> bytes:
    """The request line and fields sent to the backend (keep-alive, HTTP/1.1); ``body_len``
    None means a chunked body follows."""
    headers = tuple(headers)
    drop = _dropped(headers, _REQUEST_DROP)
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target)]
    xff = None
    for k, v in headers:
        if k in drop:
            continue
        if k == b"x-forwarded-for":
            xff = v if xff is None else xff + b", " + v
            continue
        lines.append(k + b": " + v)
    ip = client_ip.encode()
    lines.append(b"x-forwarded-for: " + (xff + b", " + ip if xff else ip))
    lines.append(b"x-request-id: " + request_id)
    lines.append(b"via: " + VIA)
    if body_len is None:  # a chunked body streamed through: chunked again on this hop
        lines.append(b"transfer-encoding: chunked")
    elif body_len or method in ("POST", "PUT", "PATCH"):
        lines.append(b"content-length: %d" % body_len)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def response_fields(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The backend's fields that go on to the client (end-to-end ones, minus the hop's own)."""
    drop = _dropped(headers, _RESPONSE_DROP)
    return [(k, v) for k, v in headers if k not in drop]


def field(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of field ``name`` (lower-case), or None."""
    for k, v in headers:
        if k == name:
            return v
    return None


def client_response(status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes,
                    extra: list[tuple[bytes, bytes]]) -> Response:
    """The ``Response`` for the client from a backend's answer, without re-checking its fields
    one by one: the response reader refused any head with a bare CR, LF or NUL
    (``upstream.py``), and ``extra`` are the gateway's own."""
    ctype = field(headers, b"content-type") or b"application/octet-stream"
    response = Response(body, status, content_type=ctype)
    response.headers = [*response_fields(headers), *extra]
    return response
