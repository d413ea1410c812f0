"""RESP3 reply types for a client that sent ``HELLO 3``: nulls, maps and sets.

Mirrors what Redis's ``addReplyNull`` / ``addReplyMapLen`` / ``addReplySetLen`` send to a
RESP3 client (``networking.c``), for the commands whose reply type differs between versions.

Theory of operation
-------------------
Handlers build their replies in RESP2 (the hot path never pays for RESP3); the few whose RESP3
reply carries doubles (scores: ZSCORE, ZINCRBY, WITHSCORES pairs...) build that form themselves
when ``cl.resp3`` is set. For a RESP3 client the engine passes every reply through
:func:`adapt`, which keeps what is the same in both versions and retypes by command:

* ``$-1`` / ``*-1`` become the RESP3 null ``_``;
* field/value arrays (HGETALL, CONFIG GET, HELLO) become maps ``%n``;
* the member arrays of SMEMBERS, SINTER, SUNION, SDIFF become sets ``~n``.

Pub/sub messages are written as push frames (``>``) by :mod:`.pubsub` itself. A reply already
in a RESP3 form (starting with ``%``, ``~``, ``,``, ``_``, ``>``...) passes through untouched.
"""

from __future__ import annotations

from . import resp

_MAPS = {b"hgetall", b"config", b"hello"}
_SETS = {b"smembers", b"sinter", b"sunion", b"sdiff"}


def adapt(name: bytes, reply: bytes, argv=None) -> bytes:
    """The RESP3 form of one reply of command ``name`` (``argv``: its arguments, unused by
    the shapes handled here, kept so that callers need not change when more are)."""
    if reply in (resp.NULL, resp.NULL_ARRAY):
        return b"_\r\n"
    if reply[:1] != b"*":
        return reply
    n = name.lower()
    if n in _MAPS:
        nl = reply.index(b"\r\n")
        return b"%%%d" % (int(reply[1:nl]) // 2) + reply[nl:]
    if n in _SETS:
        return b"~" + reply[1:]
    return reply
