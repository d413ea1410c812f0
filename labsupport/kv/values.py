"""Helpers the data-type commands share: typed lookup, float parsing and formatting, nested
replies, and the cursor of SSCAN / HSCAN / ZSCAN.

Mirrors Redis's ``util.c`` (``string2d``, ``d2string``, ``ld2string``), ``networking.c``
(``addReplyDouble``) and ``db.c`` (``scanGenericCommand`` for a collection).

Theory of operation
-------------------
* Floats: Redis accepts what ``strtod`` accepts with no surrounding spaces (``1.5``, ``-inf``,
  ``1e3``) and never NaN. Python's ``float()`` is more lenient (spaces, ``1_000``), so a strict
  pattern guards it. Scores are replied as ``%.17g`` (Redis 7.0's ``addReplyDouble``), which
  round-trips every double. INCRBYFLOAT and HINCRBYFLOAT add in 80-bit ``long double`` like
  Redis (numpy's ``longdouble``), so ``10.6 + -5e3`` gives Redis's ``-4989.39999999999999991``.
* A collection's SCAN cursor is a position in the order of a stable 32-bit hash of the element
  (``zlib.crc32``), as for the keyspace: an element present for the whole iteration is always
  returned, and elements sharing a hash are returned by the same call. The sorted (hash,
  element) list is rebuilt when an iteration starts (cursor 0) and cached for the next calls.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import OrderedDict

from .commands import NOT_INT, SYNTAX, WRONGTYPE, parse_int

_FLOAT_RE = re.compile(rb"[+-]?(?:inf|infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)",
                       re.IGNORECASE)
NOT_FLOAT = b"-ERR value is not a valid float\r\n"
OUT_OF_RANGE = b"-ERR value is out of range\r\n"
# SRANDMEMBER / ZRANDMEMBER / HRANDFIELD with a negative count return that many picks (repeats
# allowed). Redis only refuses LLONG_MIN; a count of -2**62 would make it build a reply until
# memory runs out. Here a count beyond this bound is refused, so one command cannot stall the
# server: a deliberate difference.
MAX_RANDOM_PICKS = 10_000_000


def parse_random_count(argv, with_word: bytes):
    """HRANDFIELD/ZRANDMEMBER's ``key [count [WITHVALUES|WITHSCORES]]``: (count or None, error).

    Redis refuses a count whose doubled reply length would overflow when the word is given, and
    this server refuses more than :data:`MAX_RANDOM_PICKS` repeated picks, so one command cannot
    stall the loop."""
    if len(argv) > 4 or len(argv) == 4 and argv[3].upper() != with_word:
        return None, SYNTAX
    if len(argv) < 3:
        return None, None
    count = parse_int(argv[2])
    if count is None:
        return None, NOT_INT
    if len(argv) == 4 and not -(1 << 61) < count < (1 << 61) or count < -MAX_RANDOM_PICKS:
        return None, OUT_OF_RANGE
    return count, None


def parse_float(b: bytes) -> float | None:
    """A double in Redis's strict form, else None (NaN is refused)."""
    if len(b) > 5000 or _FLOAT_RE.fullmatch(b) is None:
        return None
    return float(b)


def fmt_score(x: float) -> bytes:
    """A score as Redis 7.0 replies it in RESP2 (``%.17g``, ``inf``/``-inf``)."""
    if x == float("inf"):
        return b"inf"
    if x == float("-inf"):
        return b"-inf"
    return b"%.17g" % x


def add_long_double(cur: bytes, incr: bytes) -> bytes | None:
    """INCRBYFLOAT / HINCRBYFLOAT: ``cur + incr`` in 80-bit long double, as Redis computes it,
    formatted like its ``ld2string`` (``%.17Lf``, trailing zeros dropped); None if the result is
    NaN or infinite. Both texts must already have passed :func:`parse_float`."""
    import numpy as np
    total = np.longdouble(cur.decode()) + np.longdouble(incr.decode())
    if not np.isfinite(total):
        return None
    text = np.format_float_positional(total, precision=17, unique=False, trim="-")
    return b"0" if text == "-0" else text.encode()


def reply(obj, r3: bool = False) -> bytes:
    """Nested values as RESP2 (or RESP3 with ``r3``): int, bytes, None (a null), float (a
    score: a bulk string in RESP2, a double in RESP3), list or tuple (an array)."""
    t = type(obj)
    if t is bytes:
        return b"$%d\r\n%s\r\n" % (len(obj), obj)
    if t is int:
        return b":%d\r\n" % obj
    if obj is None:
        return b"_\r\n" if r3 else b"$-1\r\n"
    if t is float:
        s = fmt_score(obj)
        return b",%s\r\n" % s if r3 else b"$%d\r\n%s\r\n" % (len(s), s)
    return b"*%d\r\n" % len(obj) + b"".join([reply(o, r3) for o in obj])


def with_scores(pairs, r3: bool, nested: bool = True) -> bytes:
    """(member, score) pairs: flat in RESP2, ``[member, score]`` pairs in RESP3."""
    if r3 and nested:
        return reply([[m, s] for m, s in pairs], True)
    flat = []
    for m, s in pairs:
        flat.append(m)
        flat.append(s)
    return reply(flat, r3)


def typed(cl, key: bytes, kind):
    """(value, error reply): the value if it is a ``kind`` or missing, else WRONGTYPE."""
    v = cl.ks.lookup(key)
    if v is not None and type(v) is not kind:
        return None, WRONGTYPE
    return v, None


# ------------------------------------------------------------ collection SCAN

_CACHE: OrderedDict[int, tuple] = OrderedDict()
_CACHE_MAX = 64


def _index(obj, elements, fresh: bool) -> list:
    hit = _CACHE.get(id(obj))
    if hit is None or hit[0] is not obj or fresh:
        entries = sorted((zlib.crc32(e), e) for e in elements)
        hit = (obj, entries)
        _CACHE[id(obj)] = hit
        if len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return hit[1]


def scan_step(obj, elements, cursor: int, count: int):
    """One SCAN call over a collection: ``(next_cursor, elements)``; the caller filters the
    returned elements by MATCH and by what is still present."""
    if len(obj) <= count:   # small: everything in one call, like a listpack in Redis
        return 0, list(elements)
    entries = _index(obj, elements, cursor == 0)
    start = bisect.bisect_left(entries, (cursor - 1,)) if cursor else 0
    end = min(start + count, len(entries))
    while end < len(entries) and end > start and entries[end][0] == entries[end - 1][0]:
        end += 1
    nxt = entries[end - 1][0] + 2 if end < len(entries) else 0
    return nxt, [e for _h, e in entries[start:end]]


def parse_scan_args(argv, first: int):
    """(cursor, count, pattern or None, error): SCAN's ``cursor [MATCH p] [COUNT n]``."""
    from .commands import NOT_INT, SYNTAX, parse_int
    cursor = parse_int(argv[first]) if argv[first][:1] != b"-" else None
    if cursor is None:
        return 0, 0, None, b"-ERR invalid cursor\r\n"
    count, pattern = 10, None
    i = first + 1
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"COUNT" and i + 1 < len(argv):
            c = parse_int(argv[i + 1])
            if c is None:
                return 0, 0, None, NOT_INT
            if c < 1:
                return 0, 0, None, SYNTAX
            count = c
        elif opt == b"MATCH" and i + 1 < len(argv):
            pattern = argv[i + 1]
        else:
            return 0, 0, None, SYNTAX
        i += 2
    return cursor, count, pattern, None


def matcher(pattern: bytes | None):
    """A predicate for SCAN's MATCH (bounded-time glob), or None for no filter."""
    if pattern is None:
        return None
    from . import glob
    if glob.matches_all(pattern):
        return None
    return glob.compile(pattern).fullmatch
