"""Static files from a root directory, like nginx's ``root`` or Starlette's ``StaticFiles``.

* Content type from the extension (``mimetypes``), ``charset=utf-8`` for text.
* Validators: ``ETag`` (size and mtime in ns) and ``Last-Modified``; ``If-None-Match`` and
  ``If-Modified-Since`` give 304 (RFC 9110 section 13; If-None-Match wins when both).
* One byte range (``bytes=a-b``, ``a-``, ``-n``): 206 with ``Content-Range``, 416 with
  ``Content-Range: bytes */size`` when unsatisfiable; several ranges are answered with the
  whole file (allowed by RFC 9110 section 14.2), or by ``multi_range`` when one is given
  (a ``multipart/byteranges`` body, section 14.6); ``If-Range`` not matching the ETag too.
* Small files are read (and cached by path, size and mtime) and sent with the head in one
  write; files over ``inline_max`` go out with ``loop.sendfile`` (``sendfile(2)``, zero copy)
  or, on loops without it (uvloop), in chunks that respect write backpressure.
* Path traversal is refused however it is spelled: the path is percent-decoded once, and
  NUL, backslash, ``.``/``..`` segments and absolute paths are refused before touching the
  file system; the real path (symlinks resolved) must still be inside the real root.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote_to_bytes

from .response import Response, serialize_response
from .routing import HttpRequest

__all__ = ["FileResponse", "MultiRange", "StaticFiles", "parse_range"]

MultiRange = Callable[[bytes, bytes, bytes, bytes], "bytes | None"]


def parse_range(value: bytes, size: int) -> tuple[int, int] | None | str:
    """``(start, end_inclusive)``, ``None`` to ignore the header, or ``"unsatisfiable"``."""
    unit, eq, spec = value.partition(b"=")
    if not eq or unit.strip().lower() != b"bytes" or b"," in spec:
        return None  # other units or several ranges: serve the whole representation
    first, dash, last = spec.strip().partition(b"-")
    if not dash or not (first.isdigit() or first == b"") or not (last.isdigit() or last == b""):
        return None
    if first == b"":
        if last == b"":
            return None
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if last == b"" else min(int(last), size - 1)
    if last != b"" and int(last) < start:
        return None  # invalid range-spec: ignore the header
    if start >= size:
        return "unsatisfiable"
    return start, end


class FileResponse:
    """A file (or a slice of it) sent after its head; used for files over ``inline_max``."""

    __slots__ = ("path", "status", "headers", "offset", "count", "chunk_size")

    def __init__(self, path: str, status: int, headers: list[tuple[bytes, bytes]],
                 offset: int, count: int, chunk_size: int = 256 * 1024) -> None:
        self.path, self.status, self.headers = path, status, headers
        self.offset, self.count, self.chunk_size = offset, count, chunk_size

    async def send(self, proto: Any, head: Any, keep: bool) -> None:
        transport = proto.transport
        transport.write(serialize_response(self.status, self.headers, keep_alive=keep,
                                           date_line=proto.server.date.line, content_length=self.count))
        if head.method == "HEAD" or self.count == 0:
            return
        loop = asyncio.get_running_loop()
        with open(self.path, "rb") as f:
            try:
                await loop.sendfile(transport, f, self.offset, self.count)
                return
            except NotImplementedError:
                pass  # uvloop has no sendfile: copy through user space in chunks
            f.seek(self.offset)
            remaining = self.count
            while remaining > 0:
                piece = f.read(min(self.chunk_size, remaining))
                if not piece:
                    raise ConnectionAbortedError("file shrank while being sent")
                remaining -= len(piece)
                transport.write(piece)
                await proto.drain()


class StaticFiles:
    """A handler serving ``root``; mount it at ``prefix`` (e.g. ``/static/{path:path}``)."""

    def __init__(self, root: str | os.PathLike[str], *, prefix: str = "/static/",
                 inline_max: int = 256 * 1024, cache_entries: int = 256,
                 multi_range: MultiRange | None = None) -> None:
        self.root = os.path.realpath(root)
        # Several ranges in one Range field: ``multi_range(data, range_value, content_type,
        # boundary)`` returns a multipart/byteranges body, or None to send the whole file.
        self.multi_range = multi_range
        if not os.path.isdir(self.root):
            raise NotADirectoryError(f"static root {root} is not a directory")
        self.prefix = prefix
        self.inline_max = inline_max
        self.cache_entries = cache_entries
        self._cache: dict[str, tuple[int, int, bytes]] = {}
        self._meta: dict[tuple[str, int, int], tuple[bytes, bytes, tuple]] = {}

    def resolve(self, raw_path: str) -> str | None:
        """The real file path for a request path under the prefix, or None if refused."""
        if not raw_path.startswith(self.prefix):
            return None
        rel = unquote_to_bytes(raw_path[len(self.prefix):])
        if b"\x00" in rel or b"\\" in rel or rel.startswith(b"/"):
            return None
        parts = rel.split(b"/")
        if any(p in (b"..", b".") for p in parts):
            return None
        try:
            candidate = os.path.join(self.root, os.fsdecode(rel))
        except UnicodeDecodeError:
            return None
        real = os.path.realpath(candidate)
        # Symlinks are resolved by realpath: a link pointing outside the root fails here.
        if os.path.commonpath([real, self.root]) != self.root:
            return None
        return real

    def __call__(self, request: HttpRequest) -> Response | FileResponse:
        real = self.resolve(request.path)
        if real is None:
            return Response("forbidden path", 403)
        try:
            st = os.stat(real)
        except OSError:
            return Response("not found", 404)
        if not stat.S_ISREG(st.st_mode):
            return Response("not found", 404)
        size = st.st_size
        etag, ctype, validators = self._describe(real, st)
        fields = list(validators)
        if self._not_modified(request, etag, st.st_mtime):
            return Response(b"", 304, headers=fields)
        status, start, count = 200, 0, size
        rng = request.header(b"range")
        if rng is not None and request.header(b"if-range", etag) == etag:
            r = parse_range(rng, size)
            if r == "unsatisfiable":
                return Response(f"range not satisfiable for {size} bytes", 416,
                                headers=[(b"content-range", b"bytes */%d" % size)])
            if r is not None:
                start, end = r
                status, count = 206, end - start + 1
                fields.append((b"content-range", b"bytes %d-%d/%d" % (start, end, size)))
            elif self.multi_range is not None and b"," in rng and size <= self.inline_max:
                boundary = b"byteranges-" + etag.strip(b'"')
                body = self.multi_range(self._read(real, st), rng, ctype, boundary)
                if body is not None:
                    resp = Response(body, 206, content_type=b"multipart/byteranges; boundary=" + boundary)
                    resp.headers = fields
                    return resp
        if size > self.inline_max:
            fields.insert(0, (b"content-type", ctype))
            return FileResponse(real, status, fields, start, count)
        body = self._read(real, st)
        resp = Response(body[start:start + count] if status == 206 else body, status,
                        content_type=ctype)
        resp.headers = fields  # already bytes and well-formed
        return resp

    def _describe(self, real: str, st: os.stat_result) -> tuple[bytes, bytes, tuple]:
        """ETag, content type and validator fields, computed once per (path, size, mtime)."""
        key = (real, st.st_size, st.st_mtime_ns)
        hit = self._meta.get(key)
        if hit is not None:
            return hit
        etag = b'"%x-%x"' % (st.st_size, st.st_mtime_ns)
        ctype, _ = mimetypes.guess_type(real)
        ctype = ctype or "application/octet-stream"
        if ctype.startswith("text/"):
            ctype += "; charset=utf-8"
        fields = ((b"etag", etag), (b"last-modified", formatdate(st.st_mtime, usegmt=True).encode()),
                  (b"accept-ranges", b"bytes"))
        if len(self._meta) >= self.cache_entries:
            self._meta.pop(next(iter(self._meta)))
        hit = self._meta[key] = (etag, ctype.encode(), fields)
        return hit

    def _not_modified(self, request: HttpRequest, etag: bytes, mtime: float) -> bool:
        inm = request.header(b"if-none-match")
        if inm is not None:
            tags = [t.strip().removeprefix(b"W/") for t in inm.split(b",")]
            return b"*" in tags or etag in tags
        ims = request.header(b"if-modified-since")
        if ims is not None:
            try:
                since = parsedate_to_datetime(ims.decode("latin-1")).timestamp()
            except (TypeError, ValueError):
                return False
            return int(mtime) <= since
        return False

    def _read(self, real: str, st: os.stat_result) -> bytes:
        hit = self._cache.get(real)
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        with open(real, "rb") as f:
            body = f.read()
        if len(self._cache) >= self.cache_entries:
            self._cache.pop(next(iter(self._cache)))
        self._cache[real] = (st.st_size, st.st_mtime_ns, body)
        return body
