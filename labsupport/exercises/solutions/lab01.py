"""Reference solutions of notebook 01's exercises (CI checks that each passes its check)."""

from __future__ import annotations

import inspect
import itertools

from labsupport.http import BadRequest, Response
from labsupport.http.response import status_line


def parse_content_length(value: bytes) -> int:
    """01.1: a list of identical decimal lengths is that length; anything else is a 400."""
    items = [item.strip(b" \t") for item in value.split(b",")]
    if not all(item.isdigit() for item in items):
        raise BadRequest(f"invalid Content-Length {value[:40]!r}")
    lengths = {int(item) for item in items}
    if len(lengths) != 1:
        raise BadRequest(f"Content-Length {value[:40]!r} lists different lengths")
    return lengths.pop()


def request_id():
    """01.2: x-request-id 1, 2, 3 ... per middleware; a plain Response stays plain."""
    counter = itertools.count(1)

    def tag(response, n: int):
        response.headers.append((b"x-request-id", b"%d" % n))
        return response

    def mw(request, call_next):
        n = next(counter)  # numbered in arrival order, before the handler runs
        result = call_next(request)
        if inspect.isawaitable(result):
            async def later():
                return tag(await result, n)
            return later()
        return tag(result, n)

    return mw


def _ranges(range_value: bytes, size: int) -> list[tuple[int, int]] | None:
    unit, eq, spec = range_value.partition(b"=")
    if not eq or unit.strip().lower() != b"bytes":
        return None
    out = []
    for item in spec.split(b","):
        first, dash, last = item.strip().partition(b"-")
        if not dash or not (first.isdigit() or not first) or not (last.isdigit() or not last):
            return None
        if not first:  # suffix: the last N bytes
            if not last or int(last) == 0:
                return None
            out.append((max(0, size - int(last)), size - 1))
            continue
        start = int(first)
        end = size - 1 if not last else min(int(last), size - 1)
        if start >= size or (last and int(last) < start):
            return None
        out.append((start, end))
    return out


def byteranges(data: bytes, range_value: bytes, content_type: bytes, boundary: bytes) -> bytes | None:
    """01.3: one part per range, in the order asked; None sends the whole file."""
    ranges = _ranges(range_value, len(data))
    if not ranges:
        return None
    size = len(data)
    parts = []
    for first, last in ranges:
        parts.append(b"--%s\r\ncontent-type: %s\r\ncontent-range: bytes %d-%d/%d\r\n\r\n%s\r\n"
                     % (boundary, content_type, first, last, size, data[first : last + 1]))
    parts.append(b"--%s--\r\n" % boundary)
    return b"".join(parts)


_CACHE: dict[int, bytes] = {}


def encode_response(response: Response, keep_alive: bool, head_only: bool, date_line: bytes,
                    http10_keep_alive: bool) -> bytes:
    """01.4: one %-format for the common case; the rare cases built field by field."""
    status = response.status
    line = _CACHE.get(status)
    if line is None:
        line = _CACHE[status] = status_line(status)
    body = response.body
    if keep_alive and not http10_keep_alive and not response.headers and 200 <= status != 204 \
            and status != 304:
        # The common case: one format call, like Response.encode's fast path.
        return b"%s%scontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (
            line, date_line, response.content_type, len(body), b"" if head_only else body)
    no_body = status < 200 or status in (204, 304)
    parts = [line, date_line]
    if not no_body:
        parts.append(b"content-type: %s\r\n" % response.content_type)
    for name, value in response.headers:
        parts.append(b"%s: %s\r\n" % (name, value))
    if not (status < 200 or status == 204 or status == 304):
        parts.append(b"content-length: %d\r\n" % len(body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    elif http10_keep_alive:
        parts.append(b"connection: keep-alive\r\n")
    parts.append(b"\r\n")
    if not no_body and not head_only:
        parts.append(body)
    return b"".join(parts)
