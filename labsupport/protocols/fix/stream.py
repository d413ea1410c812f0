"""FIX stream framing with resynchronisation: bytes in, messages and rejects out (sans-IO).

A FIX session is one byte stream with no outer framing: a message's end is found from its
own BodyLength(9). That is fragile: one corrupt length and every following message is
misread. Real engines therefore resynchronise: after a bad message they search forward for
the next ``8=FIX`` (the only fixed byte pattern a message starts with) and go on from there,
reporting what they dropped. This module does exactly that.

Theory of operation, per message starting at ``pos``:

1. If the bytes at ``pos`` are not ``8=FIX``, skip to the next ``8=FIX`` and report the
   skipped garbage as a :class:`FixReject` (offset = where the garbage began).
2. Read ``8=...SOH9=<n>SOH``; wait for more data if incomplete. A non-numeric or absurd
   BodyLength is a reject; resync from ``pos + 1``.
3. The message must end exactly at ``body_start + n`` with ``10=ddd SOH``. If it does not, the
   length lied: reject and resync from ``pos + 1``.
4. Otherwise the frame is sound; :func:`~.message.parse` validates the rest (field syntax,
   35 third, CheckSum). A failure there rejects just this frame and parsing continues right
   after it (the framing is trustworthy even if the content is not).

Offsets in rejects count from the first byte ever fed. Nothing fed is silently lost: every
byte ends up in a message, in a reject, or in :attr:`FixStream.pending`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .message import FixError, FixMessage, parse

__all__ = ["FixStream", "FixReject", "RejectedSpansError", "MAX_BODY_LENGTH"]

MAX_BODY_LENGTH = 1 << 20  # a larger BodyLength is treated as corruption, not a big message
_START = b"8=FIX"


@dataclass(frozen=True, slots=True)
class FixReject:
    """Bytes the stream could not turn into a message: why, where, and the bytes themselves."""

    reason: str
    offset: int
    raw: bytes


class RejectedSpansError(FixError):
    """Raised at the end of a stream that was read through (every good message delivered) but
    had spans it rejected: how many, and the first one's offset and reason. The stream parser
    itself never raises it; it is how a reader of a whole file says the file was not clean."""

    def __init__(self, rejects: list[FixReject]) -> None:
        first = rejects[0]
        n = len(rejects)
        super().__init__(f"{n} rejected span{'s' if n > 1 else ''}, the first at byte offset "
                         f"{first.offset}: {first.reason}", first.offset)  # fmt: skip
        self.rejects = rejects


class FixStream:
    """Feed bytes with :meth:`feed`; iterate to get :class:`FixMessage` or :class:`FixReject`."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self.messages = 0
        self.rejects = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        return len(self._buf)

    def _drop(self, n: int) -> bytes:
        raw = bytes(self._buf[:n])
        del self._buf[:n]
        self._base += n
        return raw

    def __iter__(self) -> Iterator[FixMessage | FixReject]:
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def _next(self) -> FixMessage | FixReject | None:
        buf = self._buf
        if not buf:
            return None
        if not buf.startswith(_START):
            nxt = buf.find(_START, 1)
            if nxt < 0:
                # Keep a tail that might be the start of "8=FIX" split across feeds.
                keep = next((k for k in range(min(4, len(buf)), 0, -1) if _START.startswith(bytes(buf[-k:]))), 0)
                if len(buf) - keep == 0:
                    return None
                at = self._base
                return self._reject("garbage before BeginString (8=FIX)", at, len(buf) - keep)
            at = self._base
            return self._reject("garbage before BeginString (8=FIX)", at, nxt)
        # 8=...SOH 9=n SOH
        soh1 = buf.find(b"\x01")
        if soh1 < 0:
            return None
        if not buf.startswith(b"9=", soh1 + 1):
            if len(buf) < soh1 + 3:
                return None
            return self._resync("BodyLength(9) must be the second field")
        soh2 = buf.find(b"\x01", soh1 + 1)
        if soh2 < 0:
            if len(buf) - soh1 > 12:
                return self._resync("BodyLength(9) value is not terminated")
            return None
        raw_len = bytes(buf[soh1 + 3 : soh2])
        if not raw_len.isdigit() or int(raw_len) > MAX_BODY_LENGTH:
            return self._resync(f"BodyLength(9)={raw_len.decode('latin-1')!r} is not a plausible length")
        end = soh2 + 1 + int(raw_len)  # index of "10=" if the length is right
        if len(buf) < end + 7:
            # Wait for the rest, unless a new message visibly starts before the declared end.
            if buf.find(_START, 1) >= 0 and buf.find(_START, 1) < end:
                return self._resync("message cut short: next 8=FIX starts inside its declared body")
            return None
        if buf[end : end + 3] != b"10=" or buf[end + 6] != 1:
            return self._resync(f"BodyLength(9)={raw_len.decode()} does not end at a CheckSum(10) field")
        frame = self._drop(end + 7)
        try:
            msg = parse(frame, offset=self._base - len(frame))
        except FixError as exc:
            self.rejects += 1
            return FixReject(exc.reason, exc.offset, frame)
        self.messages += 1
        return msg

    def _reject(self, reason: str, at: int, n: int) -> FixReject:
        self.rejects += 1
        return FixReject(reason, at, self._drop(n))

    def _resync(self, reason: str) -> FixReject:
        """Drop bytes up to the next ``8=FIX`` after the current start and report them."""
        at = self._base
        nxt = self._buf.find(_START, 1)
        return self._reject(reason, at, nxt if nxt > 0 else len(self._buf))

    def close(self) -> FixReject | None:
        """End of stream: whatever is left is an incomplete message."""
        if not self._buf:
            return None
        return self._reject("stream ended inside a message", self._base, len(self._buf))
