"""The gateway's hot-path FIX reader: whole, valid FIX 4.4 messages straight into tag dicts.

What it mirrors: the inbound parser of a FIX engine tuned for the common case (QuickFIX and
the commercial engines read a well-formed message in one pass and keep the careful path for
everything else). Lab 13's :class:`~labsupport.protocols.fix.FixStream` frames, validates and
resynchronises any byte stream; it builds a :class:`~labsupport.protocols.fix.FixMessage`
(a list of ``(tag, bytes)``) that the session then turns into a :data:`.session.Fields` dict,
two passes and two objects per field.

Theory of operation. :func:`read_frames` walks the buffer while it holds complete messages
that are provably what Lab 13 accepts: ``8=FIX.4.4``, a numeric BodyLength ending exactly at
``10=ddd<SOH>``, a CheckSum equal to the byte sum (one ``sum`` over the frame), ``35`` first in
the body, every field ``digits=value``. Each one becomes a dict in one pass over the decoded
text (tags through a small cache of their ``int``). At the first byte it cannot vouch for (a
partial message, garbage, a bad length or checksum, an odd tag) it stops and returns where:
the session hands the rest to Lab 13's stream, which rejects, counts and resynchronises as
before, unless :func:`incomplete` says the rest is only the start of a message (a TCP read
under load ends mid-message almost every time): the session keeps those bytes and reads
them again in front of the next read, so one cut message does not send every later read
down the careful path. Both paths give the same dict for the same message (the tests check it).
"""

from __future__ import annotations

__all__ = ["incomplete", "read_frames"]

_BEGIN = b"8=FIX.4.4\x019="
_B = len(_BEGIN)
_MAX_BODY = 1 << 16  # longer declared bodies take the careful path


class _Tags(dict):
    """Tag text -> int for the tags seen (bounded); a tag that is not plain ASCII digits is
    a KeyError, so the message takes the careful path."""

    def __missing__(self, text: str) -> int:
        if not (text.isascii() and text.isdigit()) or len(self) > 4096:
            raise KeyError(text)
        self[text] = tag = int(text)
        return tag


_TAGS = _Tags()


def read_frames(data: bytes) -> tuple[list[dict[int, str]], int]:
    """The leading valid messages of ``data`` as tag -> text dicts (first occurrence of a
    repeated tag wins, 8, 9 and 10 included), and the offset where reading stopped."""
    out: list[dict[int, str]] = []
    pos, n, tags = 0, len(data), _TAGS
    while data.startswith(_BEGIN, pos):
        soh = data.find(b"\x01", pos + _B, pos + _B + 8)
        length = data[pos + _B:soh]
        if soh < 0 or not length.isdigit() or int(length) > _MAX_BODY:
            break
        end = soh + 1 + int(length)  # where "10=" must start
        if end + 7 > n or data[end:end + 3] != b"10=" or data[end + 6] != 1:
            break
        cs = data[end + 3:end + 6]
        if not cs.isdigit() or int(cs) != sum(data[pos:end]) & 0xFF:
            break
        body = data[soh + 1:end].decode("latin-1")
        if not body.startswith("35="):
            break
        items = body.split("\x01")
        items.pop()  # after the last SOH
        try:
            msg = {tags[t]: v for t, v in reversed([p.split("=", 1) for p in items])}
        except (KeyError, ValueError):  # a field without "=", or a tag that is not digits
            break
        msg[8], msg[9] = "FIX.4.4", length.decode()
        msg.setdefault(10, cs.decode())  # a 10 inside the body came first
        out.append(msg)
        pos = end + 7
    return out, pos


def incomplete(rest: bytes) -> bool:
    """True if ``rest`` (where :func:`read_frames` stopped) is only the beginning of a message
    it would read once more bytes arrive: a prefix of ``8=FIX.4.4|9=``, or that and a plausible
    BodyLength whose frame is not all there, with no other ``8=FIX`` inside (Lab 13's stream
    rejects such a cut-short message at once, so it goes there)."""
    if len(rest) <= _B:
        return _BEGIN.startswith(rest)
    if not rest.startswith(_BEGIN) or rest.find(b"8=FIX", 1) >= 0:
        return False
    soh = rest.find(b"\x01", _B, _B + 8)
    if soh < 0:
        digits = rest[_B:]
        return len(rest) < _B + 8 and (not digits or digits.isdigit())
    length = rest[_B:soh]
    return length.isdigit() and int(length) <= _MAX_BODY and soh + 1 + int(length) + 7 > len(rest)
