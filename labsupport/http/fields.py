"""Field syntax shared by request heads and chunked trailers (RFC 9110 section 5, RFC 9112).

Byte classes used with ``bytes.translate`` (delete the allowed bytes; anything left is an
error, found in one C call), the table of fields the parser interprets, and the cache of
validated field names that lets the parser skip per-name validation on the hot path.
"""

from __future__ import annotations

import re

from .errors import BadRequest

# --- byte classes (RFC 9110 section 5.6.2 and RFC 9112 section 3.2) --------------------------
TCHAR = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Allowed anywhere in a head: visible ASCII, SP, HTAB, obs-text, and CR LF (checked apart).
_HEAD_OK = bytes(range(0x20, 0x7F)) + b"\t\r\n" + bytes(range(0x80, 0x100))
# The same without CR and LF: translating a head with it leaves exactly its CRLF pairs.
_LINE_OK = bytes(range(0x20, 0x7F)) + b"\t" + bytes(range(0x80, 0x100))
_CRLF_RUNS = [b"\r\n" * k for k in range(129)]
# Allowed in a request-target: visible ASCII except '#' (a fragment is never sent).
_TARGET_OK = bytes(c for c in range(0x21, 0x7F) if c != 0x23)
_HEXDIG = b"0123456789abcdefABCDEF"
_EXT_OK = bytes(range(0x20, 0x7F)) + b"\t" + bytes(range(0x80, 0x100))
_OWS = b" \t"
_VERSION_RE = re.compile(rb"HTTP/[0-9]\.[0-9]")

# Methods we implement, mapped to their str form (a dict lookup validates and decodes at once).
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}

# Fields whose meaning the parser needs; everything else is passed through untouched.
_HOST, _CL, _TE, _CONN, _EXPECT = range(5)
_SPECIAL = {
    b"host": _HOST,
    b"content-length": _CL,
    b"transfer-encoding": _TE,
    b"connection": _CONN,
    b"expect": _EXPECT,
}

# Raw field name -> (lower-case name, role). Filled by _learn_name with validated names only,
# and bounded so a client sending random names cannot grow it without limit.
_NAMES: dict[bytes, tuple[bytes, int | None]] = {}
_NAMES_MAX = 1024


def _learn_name(name: bytes, colon: bytes, line: bytes, lines: list[bytes]) -> tuple[bytes, int | None]:
    """Validate a field name not seen before (the slow path); raise 400 with the line number."""
    lineno = lines.index(line) + 1
    if not colon or not name:
        if line[:1] in (b" ", b"\t"):
            raise BadRequest(f"header line {lineno}: obsolete line folding is not accepted")
        raise BadRequest(f"header line {lineno}: no field name before ':' in {line[:60]!r}")
    if name.translate(None, TCHAR):
        if name[-1] in _OWS:
            raise BadRequest(f"header line {lineno}: whitespace between field name and colon")
        raise BadRequest(f"header line {lineno}: invalid field name {name[:60]!r}")
    lname = name.lower()
    known = (lname, _SPECIAL.get(lname))
    if len(_NAMES) < _NAMES_MAX:
        _NAMES[name] = known
    return known


def parse_trailers(block: bytes) -> list[tuple[bytes, bytes]]:
    """Trailer fields use the header field syntax (RFC 9112 section 7.1.2)."""
    lines = block.split(b"\r\n")
    if block.count(b"\n") != len(lines) - 1 or block.count(b"\r") != len(lines) - 1:
        raise BadRequest("bare CR or LF in the trailer section")
    if block.translate(None, _HEAD_OK):
        raise BadRequest("control byte in the trailer section")
    out = []
    for line in lines:
        colon = line.find(b":")
        name = line[:colon]
        if colon <= 0 or name.translate(None, TCHAR):
            raise BadRequest(f"malformed trailer field {line[:60]!r}")
        out.append((name.lower(), line[colon + 1 :].strip(_OWS)))
    return out
