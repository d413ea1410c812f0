"""Redis glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET) matched in polynomial time.

Mirrors ``stringmatchlen`` in Redis's ``util.c``: ``*`` any run of bytes, ``?`` one byte,
``[abc]`` ``[a-z]`` ``[^...]`` a class (ranges may be written backwards, ``\\`` escapes inside),
``\\x`` the literal ``x``; matching is on bytes, case-sensitive. Parsing follows Redis's quirks
exactly: ``[]`` matches nothing and ``[^]`` any byte, an unterminated class ends with the
pattern, ``[a-]`` is the range ``a``..``]`` (so the class goes on to the next ``]``), a lone
trailing backslash is a literal, and a non-empty pattern never matches the empty string (KEYS
and SCAN special-case the pattern ``*`` alone, as Redis does: see :func:`matches_all`).

Why a glob can be exponential
-----------------------------
The textbook matcher tries, at each ``*``, every length for it and recurses on the rest
(:func:`match_backtracking`). ``a*a*a*...*b`` against ``aaaa...a`` has no match, and the
matcher proves it by trying every way of placing 20 stars in 40 bytes: C(40, 20) ~ 1.4e11
paths. Python's ``re`` does the same for the translated regex ``a.*a.*...b``. That is how one
KEYS command held a server at full CPU: no other client was served, and SIGTERM, which asyncio
handles between turns of the loop, waited for a turn that never ended.

Theory of operation
-------------------
The fix is the observation behind Redis 7.0.9's ``skipLongerMatches`` and the greedy
two-pointer glob matcher: the pattern is ``S0 * S1 * ... * Sk`` where every segment ``Si`` is a
fixed-length run of byte tests. ``S0`` must match at the start and ``Sk`` at the end; each middle
segment can take its *leftmost* match after the previous one, because a later match would leave
a shorter rest of the string, which can only match less. So no choice is ever undone: one
backtrack point (the last star) in :func:`match_linear`, O(len(string) x len(pattern)) in the
worst case, no exponent.

:func:`compile` (what the commands use) is the same algorithm run by ``re`` in C: middle
segments become atomic groups ``(?>.*?Si)`` (leftmost match, never revisited), the last one
``.*Sk`` anchored by ``fullmatch``. Compiled patterns are cached. The result is an ordinary
``re.Pattern``, so callers write ``rx.fullmatch(key)``; a pattern of more than 256 tokens, whose
regex would take longer to compile than to run, gets a :class:`LongGlob` with the same method,
the Python algorithm over its parsed segments.

Known difference: Redis gives up (no match) past 1000 nested stars; this matcher has no limit
because it needs none.
"""

from __future__ import annotations

import re

__all__ = ["compile", "match", "matches_all", "parse", "match_linear", "match_backtracking",
           "LongGlob", "STAR"]

STAR = None   # a token: ``*``; every other token is the frozenset of bytes it accepts
Token = frozenset | None

_ALL = frozenset(range(256))
_CACHE: dict[bytes, re.Pattern] = {}
_CLASSES: dict[tuple[bool, frozenset], frozenset] = {}
_CACHE_MAX = 1000           # patterns kept compiled (PSUBSCRIBE patterns are matched per PUBLISH)
_CACHE_PATTERN_MAX = 4096   # longer patterns are compiled each time rather than kept
_RE_TOKENS_MAX = 256        # past this, re.compile costs more than it saves (~0.1 ms a token)


def parse(pattern: bytes) -> list[Token]:
    """The pattern as tokens: :data:`STAR`, or the set of byte values one position accepts.

    Consecutive stars collapse into one (they match the same strings).
    """
    out: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 42:                                   # *
            if not out or out[-1] is not STAR:
                out.append(STAR)
        elif c == 63:                                 # ?
            out.append(_ALL)
        elif c == 91:                                 # [
            i, accepted = _parse_class(pattern, i + 1)
            out.append(accepted)
        else:
            if c == 92 and i + 1 < n:                 # \x: the literal x
                i += 1
            out.append(frozenset((pattern[i],)))
        i += 1
    return out


def _parse_class(p: bytes, i: int) -> tuple[int, frozenset]:
    """Parse a class starting after ``[``; returns (index of its last byte, accepted bytes)."""
    n = len(p)
    negate = i < n and p[i] == 94                      # ^
    if negate:
        i += 1
    accepted: set[int] = set()
    while True:
        if i < n - 1 and p[i] == 92:                   # \x inside a class
            i += 1
            accepted.add(p[i])
        elif i < n and p[i] == 93:                     # ]
            break
        elif i >= n:                                   # unterminated: ends with the pattern
            i = n - 1
            break
        elif i + 2 < n and p[i + 1] == 45:             # a-z (Redis: needs 3 bytes left)
            lo, hi = sorted((p[i], p[i + 2]))
            accepted.update(range(lo, hi + 1))
            i += 2
        else:
            accepted.add(p[i])
        i += 1
    key = (negate, frozenset(accepted))
    cls = _CLASSES.get(key)
    if cls is None:                                    # one set per distinct class
        cls = _CLASSES[key] = _ALL - key[1] if negate else key[1]
        if len(_CLASSES) > 4096:
            _CLASSES.clear()
    return i, cls


def _segments(tokens: list[Token]) -> list[list[frozenset]]:
    """``S0 * S1 * ... * Sk``: the runs of non-star tokens (``k`` = the number of stars)."""
    segs: list[list[frozenset]] = [[]]
    for t in tokens:
        if t is STAR:
            segs.append([])
        else:
            segs[-1].append(t)
    return segs


def _fits(seg: list[frozenset], s: bytes, at: int) -> bool:
    if at + len(seg) > len(s):
        return False
    return all(s[at + j] in accepted for j, accepted in enumerate(seg))


def _match_segments(segs: list[list[frozenset]], s: bytes) -> bool:
    """The greedy algorithm: ``S0`` at the start, each middle segment at its leftmost fit after
    the previous one (never revisited), the last one at the end. ``s`` is not empty."""
    first, last = segs[0], segs[-1]
    if len(segs) == 1:                                # no star: one segment, whole string
        return len(first) == len(s) and _fits(first, s, 0)
    if not _fits(first, s, 0):
        return False
    pos = len(first)
    for seg in segs[1:-1]:
        while not _fits(seg, s, pos):                 # leftmost fit; never revisited
            pos += 1
            if pos + len(seg) > len(s):
                return False
        pos += len(seg)
    return len(s) - len(last) >= pos and _fits(last, s, len(s) - len(last))


def match_linear(pattern: bytes, s: bytes) -> bool:
    """The greedy algorithm in plain Python (what :func:`compile` runs in C, via ``re``)."""
    if not s:
        return not pattern
    return _match_segments(_segments(parse(pattern)), s)


class LongGlob:
    """A pattern too long to hand to ``re`` (compiling costs about 0.1 ms per token): the same
    greedy algorithm in Python over the parsed segments, with ``re.Pattern``'s ``fullmatch``."""

    __slots__ = ("pattern", "_segs")

    def __init__(self, pattern: bytes, tokens: list[Token]) -> None:
        self.pattern = pattern
        self._segs = _segments(tokens)

    def fullmatch(self, s: bytes) -> bool:
        if not s:
            return not self.pattern
        return _match_segments(self._segs, s)


def match_backtracking(pattern: bytes, s: bytes) -> bool:
    """The textbook recursive matcher: correct, and exponential in the number of stars.

    Kept to show (and measure) the failure; never used by the server.
    """
    tokens = parse(pattern)
    if not s:
        return not pattern

    def rec(t: int, i: int) -> bool:
        if t == len(tokens):
            return i == len(s)
        tok = tokens[t]
        if tok is STAR:
            return any(rec(t + 1, j) for j in range(i, len(s) + 1))
        return i < len(s) and s[i] in tok and rec(t + 1, i + 1)

    return rec(0, 0)


def _ranges(values: frozenset) -> bytes:
    """``\\x61-\\x7a`` style ranges of a set of bytes (short source, fast to compile)."""
    out, run = [], []
    for c in sorted(values):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append((run[0], run[-1]))
        run = [c]
    if run:
        out.append((run[0], run[-1]))
    return b"".join(b"\\x%02x" % lo if lo == hi else b"\\x%02x-\\x%02x" % (lo, hi)
                    for lo, hi in out)


def _cls(accepted: frozenset) -> bytes:
    if accepted == _ALL:
        return b"."
    if not accepted:
        return b"(?!)"                                # a class that accepts nothing
    if len(accepted) == 1:
        return re.escape(bytes(accepted))
    positive, negative = _ranges(accepted), _ranges(_ALL - accepted)
    return b"[%s]" % positive if len(positive) <= len(negative) else b"[^%s]" % negative


def compile(pattern: bytes) -> re.Pattern | LongGlob:
    """The pattern as a regex whose ``fullmatch`` is Redis's glob match, in polynomial time
    (a :class:`LongGlob` past 256 tokens, where compiling the regex would cost more)."""
    rx = _CACHE.get(pattern)
    if rx is not None:
        return rx
    tokens = parse(pattern)
    if len(tokens) > _RE_TOKENS_MAX:
        rx = LongGlob(pattern, tokens)
        _remember(pattern, rx)
        return rx
    segs = [b"".join(map(_cls, seg)) for seg in _segments(tokens)]
    if len(segs) == 1:
        source = segs[0]
    else:
        source = (segs[0] + b"".join(b"(?>.*?%s)" % seg for seg in segs[1:-1])
                  + b".*" + segs[-1])
        if not any(segs):          # only stars: Redis still wants one byte at least
            source = b"(?=.)" + source
    rx = re.compile(source, re.DOTALL)
    _remember(pattern, rx)
    return rx


def _remember(pattern: bytes, rx) -> None:
    if len(pattern) <= _CACHE_PATTERN_MAX:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[pattern] = rx


def match(pattern: bytes, s: bytes) -> bool:
    """Does ``s`` match the glob ``pattern`` (Redis's ``stringmatchlen``)?"""
    return bool(compile(pattern).fullmatch(s))


def matches_all(pattern: bytes) -> bool:
    """KEYS and SCAN skip matching for the pattern ``*`` (so it also returns the key ``""``)."""
    return pattern == b"*"

