"""The FIX 4.4 session layer of the exchange's order-entry gateway, sans-IO.

What it mirrors: the acceptor side of a FIX session as the FIX 4.4 specification (Volume 2,
"Session Protocol") defines it and venues run it: Logon (35=A, HeartBtInt 108), Heartbeat (0)
and TestRequest (1), MsgSeqNum (34) checked on every message, ResendRequest (2) when a gap is
seen, SequenceReset (4) in GapFill and Reset mode, session-level Reject (3, with 373
SessionRejectReason) and Logout (5).

Theory of operation. A :class:`FixSession` is fed the bytes of one TCP connection
(:meth:`FixSession.receive`) and the time (:meth:`FixSession.tick`); what it must send piles up
in :attr:`FixSession.outbox` and the application messages it accepts (in sequence order) are
returned to the caller. Nothing here touches a socket or a clock of its own, so every rule is
tested message by message.

- Framing is Lab 13's :class:`~labsupport.protocols.fix.FixStream`, behind a reader of the
  common case (:mod:`.fastfix`: whole valid messages straight into dicts): a message with a bad
  CheckSum or BodyLength is *garbled* and, as the spec says, dropped without consuming a
  sequence number; it is counted in :attr:`FixSession.dropped`. Each parsed message is read
  once into a :data:`Fields` dict (tag -> text, the first occurrence of a tag wins, as in
  Lab 13's ``FixMessage.get``): the session and the gateway look up some twenty tags per
  order, and a plain ``dict.get`` is the cheapest lookup Python has.
- Inbound MsgSeqNum: equal to the expected one is processed; higher means messages were lost:
  the message is parked, a ResendRequest for ``expected..0`` (0 = "to infinity") goes out once,
  and parked messages are processed as soon as the gap is filled (by resent messages or by a
  SequenceReset-GapFill); lower without PossDupFlag (43=Y) is fatal (Logout), with it the
  duplicate is ignored.
- Outbound: every message gets the next MsgSeqNum; application messages are kept in the
  :class:`SessionStore` so a ResendRequest is answered by resending them with 43=Y and 122
  OrigSendingTime, each run of administrative messages replaced by one SequenceReset-GapFill.
  A message's body is encoded once (:func:`encode_fields`, or by the caller with
  :meth:`FixSession.send_body`) and kept as bytes: a resend puts a new header in front of the
  same bytes, and a store of immutable bytes costs the garbage collector nothing to scan.
  The store outlives a connection: a client that logs on again without ResetSeqNumFlag
  (141=Y) continues its sequence numbers and can ask for what it missed.
- Heartbeats: silence on our side for HeartBtInt seconds sends a Heartbeat; silence on the
  client's side for HeartBtInt plus 20 % sends a TestRequest, and no answer within another
  interval ends the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labsupport.protocols.fix import FixMessage, FixReject, FixStream

from .fastfix import incomplete, read_frames

__all__ = ["ADMIN_TYPES", "EXCHANGE_COMP_ID", "ExchangeError", "Fields", "FixSession",
           "SessionStore", "encode_fields", "encode_message", "fields_of", "utc_timestamp"]

EXCHANGE_COMP_ID = "LABX"
ADMIN_TYPES = frozenset("012345A")
STORE_LIMIT = 200_000  # application messages kept for resend per session
Fields = dict[int, str]  # an inbound message: tag -> text
_PROCESSED: Fields = {}  # parks the number of a Logon that came after a gap


class ExchangeError(Exception):
    """Base of every error raised by :mod:`labsupport.exchange`."""


_second: list = [-1, ""]  # the last whole second formatted, and its text
_milli: list = [-1, ""]  # the last millisecond formatted, and its text


def utc_timestamp(epoch_s: float) -> str:
    """FIX UTCTimestamp with milliseconds: ``20260101-12:00:00.000``. Formatted once per
    millisecond (a busy gateway stamps many reports within one)."""
    whole = int(epoch_s)
    key = whole * 1000 + int((epoch_s - whole) * 1000)
    if key == _milli[0]:
        return _milli[1]
    if whole != _second[0]:
        _second[0], _second[1] = whole, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(whole))
    _milli[0], _milli[1] = key, f"{_second[1]}.{key - whole * 1000:03d}"
    return _milli[1]


def fields_of(msg: FixMessage) -> Fields:
    """A parsed message as tag -> text; the first occurrence of a repeated tag wins."""
    return {t: v.decode("latin-1") for t, v in reversed(msg.fields)}


def _number(text: str | None) -> int:
    """A non-negative integer field's value, -1 if absent or not a number."""
    return int(text) if text is not None and text.isdigit() else -1


def encode_fields(fields: list[tuple[int, object]]) -> bytes:
    """Body fields (values bytes, str or int) as ``tag=value<SOH>`` bytes."""
    return b"".join([b"%d=%s\x01" % (t, v if isinstance(v, bytes) else str(v).encode("latin-1"))
                     for t, v in fields])


def encode_message(msg_type: str, header: bytes, body: bytes) -> bytes:
    """A FIX 4.4 message from its encoded header fields and body fields, with BodyLength and
    CheckSum: the same bytes Lab 13's ``encode`` makes."""
    inner = b"35=%s\x01%s%s" % (msg_type.encode(), header, body)
    msg = b"8=FIX.4.4\x019=%d\x01%s" % (len(inner), inner)
    return msg + b"10=%03d\x01" % (sum(msg) & 0xFF)


@dataclass
class SessionStore:
    """What one SenderCompID's session keeps across connections."""

    next_in: int = 1
    next_out: int = 1
    sent: dict[int, tuple[str, bytes, str]] = field(default_factory=dict)  # type, body, 52

    def reset(self) -> None:
        self.next_in = self.next_out = 1
        self.sent.clear()


class FixSession:
    """One connection's FIX session (acceptor side); see the module docstring.

    ``on_logon(comp_id)`` returns the store to use for that SenderCompID, or an error text to
    refuse the logon with (e.g. the SenderCompID is logged on elsewhere). ``clock`` gives
    monotonic nanoseconds for heartbeats, ``wall`` seconds since the epoch for SendingTime.
    """

    def __init__(self, on_logon: Callable[[str], SessionStore | str], *,
                 comp_id: str = EXCHANGE_COMP_ID, clock: Callable[[], int] = time.monotonic_ns,
                 wall: Callable[[], float] = time.time, logon_timeout_s: float = 10.0) -> None:
        self.on_logon = on_logon
        self.comp_id = comp_id
        self.clock, self.wall = clock, wall
        self.stream = FixStream()
        self._cut = b""  # the start of a message the last read ended in (see .fastfix)
        self.state = "awaiting_logon"  # -> active -> closed
        self.peer: str | None = None
        self.store = SessionStore()
        self.heartbeat_ns = 30_000_000_000
        self.outbox: list[bytes] = []
        self._heads: dict[str, tuple] = {}  # msg type -> (peer, "35=..34=" bytes, length, sum)
        self.parked: dict[int, Fields] = {}
        self.resend_requested = False
        self.test_request: tuple[str, int] | None = None  # (TestReqID, sent at)
        self.close_reason = ""
        now = clock()
        self.created = self.last_in = self.last_out = now
        self.logon_deadline = now + int(logon_timeout_s * 1e9)
        self.dropped = 0  # garbled messages (CheckSum, BodyLength, framing)
        self.rejects_sent = 0
        self.resend_requests_sent = 0
        self.messages_in = 0
        self._test_ids = 0

    # ------------------------------------------------------------------ output
    def send(self, msg_type: str, fields: list[tuple[int, object]]) -> int:
        """Queue one message with the next MsgSeqNum; returns that number."""
        return self.send_body(msg_type, encode_fields(fields))

    def send_body(self, msg_type: str, body: bytes) -> int:
        """:meth:`send` with the body fields already encoded (``tag=value<SOH>`` bytes)."""
        st = self.store
        seq = st.next_out
        st.next_out += 1
        sending = utc_timestamp(self.wall())
        if msg_type not in ADMIN_TYPES:
            st.sent[seq] = (msg_type, body, sending)
            if len(st.sent) > STORE_LIMIT:
                del st.sent[next(iter(st.sent))]
        if self.state != "closed" or msg_type == "5":
            self._emit(msg_type, seq, sending, body)
        return seq

    def _emit(self, msg_type: str, seq: int, sending: str, body: bytes,
              extra: list[tuple[int, object]] | None = None) -> None:
        """Frame one message: ``35=..|49=..|56=..|34=`` is kept encoded per message type with
        its byte sum, so BodyLength and CheckSum need only the sum of what follows it."""
        head = self._heads.get(msg_type)
        if head is None or head[0] != self.peer:
            inner = b"35=%s\x0149=%s\x0156=%s\x0134=" % (
                msg_type.encode(), self.comp_id.encode(), (self.peer or "").encode())
            head = self._heads[msg_type] = (self.peer, inner, len(inner), sum(inner))
        tail = b"%d\x0152=%s\x01%s%s" % (seq, sending.encode(), encode_fields(extra) if extra
                                           else b"", body)
        begin = b"8=FIX.4.4\x019=%d\x01" % (head[2] + len(tail))
        check = (sum(begin) + head[3] + sum(tail)) & 0xFF
        self.outbox.append(b"%s%s%s10=%03d\x01" % (begin, head[1], tail, check))
        self.last_out = self.clock()

    def take_output(self) -> bytes:
        """Everything queued for the wire since the last call."""
        out = b"".join(self.outbox)
        self.outbox.clear()
        return out

    def reject(self, msg: Fields, reason: int, text: str, tag: int | None = None) -> None:
        """Session-level Reject (35=3) of ``msg``: 45 RefSeqNum, 372 RefMsgType, 373, 371, 58."""
        fields: list[tuple[int, object]] = [(45, msg.get(34, "0")), (372, msg.get(35, ""))]
        if tag is not None:
            fields.append((371, tag))
        fields += [(373, reason), (58, text)]
        self.rejects_sent += 1
        self.send("3", fields)

    def logout(self, text: str = "") -> None:
        """Send Logout and close the session (the caller closes the connection)."""
        if self.state == "closed":
            return
        if self.peer is not None:
            self.send("5", [(58, text)] if text else [])
        self.close(text or "logout")

    def close(self, reason: str) -> None:
        self.state = "closed"
        self.close_reason = self.close_reason or reason

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    # ------------------------------------------------------------------ input
    def receive(self, data: bytes) -> list[Fields]:
        """Feed bytes from the connection; returns the application messages to act on, in
        sequence order (administrative messages are answered here)."""
        app: list[Fields] = []
        if not self.stream.pending:  # the common case: whole, valid messages (see .fastfix)
            if self._cut:
                data, self._cut = self._cut + data, b""
            msgs, used = read_frames(data)
            for msg in msgs:
                if self.state == "closed":
                    return app
                self.last_in = self.clock()
                self.messages_in += 1
                self._sequenced(msg, app)
            data = data[used:] if used else data
            if not data:
                return app
            if incomplete(data):  # the read ended mid-message: read it with the next bytes
                self._cut = data
                return app
        self.stream.feed(data)
        for item in self.stream:
            if self.state == "closed":
                break
            if isinstance(item, FixReject):
                self.dropped += 1
                continue
            self.last_in = self.clock()
            self.messages_in += 1
            self._sequenced(fields_of(item), app)
        return app

    def _sequenced(self, msg: Fields, app: list[Fields]) -> None:
        seq_text = msg.get(34)
        if seq_text is None or not seq_text.isdigit():
            if self.state == "awaiting_logon":
                return self.close("first message has no valid MsgSeqNum(34)")
            return self.reject(msg, 1 if seq_text is None else 6, "MsgSeqNum(34) missing or not a number", 34)
        seq = int(seq_text)
        logon = False
        if self.state == "awaiting_logon":
            if msg.get(35) != "A":
                return self.close("first message is not a Logon")
            if not self._logon(msg):
                return
            logon = True
        mtype = msg.get(35)
        if mtype == "4" and msg.get(123) != "Y":  # SequenceReset-Reset: ignores MsgSeqNum
            return self._sequence_reset(msg, app)
        expected = self.store.next_in
        if seq > expected:
            if logon:  # the Logon is handled; the numbers before it are asked for
                self.parked[seq] = _PROCESSED
                self._ask_resend(expected)
            else:
                self.parked[seq] = msg
                if not self.resend_requested:
                    self._ask_resend(expected)
            return
        if seq < expected:
            if msg.get(43) == "Y":
                return  # a duplicate of something already processed
            return self.logout(f"MsgSeqNum too low, expecting {expected} but received {seq}")
        self.store.next_in = seq + 1
        if not logon:
            self._dispatch(msg, app)
        self._drain(app)

    def _drain(self, app: list[Fields]) -> None:
        parked = self.parked
        while parked and self.state != "closed":
            expected = self.store.next_in
            for s in [s for s in parked if s < expected]:
                del parked[s]
            msg = parked.pop(expected, None)
            if msg is None:
                break
            self.store.next_in = expected + 1
            self._dispatch(msg, app)
        if not parked:
            self.resend_requested = False

    def _ask_resend(self, begin: int) -> None:
        self.resend_requested = True
        self.resend_requests_sent += 1
        self.send("2", [(7, begin), (16, 0)])

    def _logon(self, msg: Fields) -> bool:
        peer = msg.get(49) or ""
        if msg.get(56) != self.comp_id:
            self.close(f"Logon TargetCompID(56) must be {self.comp_id}")
            return False
        hb = msg.get(108)
        if not peer or hb is None or not hb.isdigit() or int(hb) <= 0:
            self.peer = peer or "?"
            self.logout("Logon needs SenderCompID(49) and a positive HeartBtInt(108)")
            return False
        got = self.on_logon(peer)
        self.peer = peer
        if isinstance(got, str):
            self.logout(got)
            return False
        self.store = got
        if msg.get(141) == "Y":
            got.reset()
        self.heartbeat_ns = int(hb) * 1_000_000_000
        self.state = "active"
        fields: list[tuple[int, object]] = [(98, 0), (108, int(hb))]
        if msg.get(141) == "Y":
            fields.append((141, "Y"))
        self.send("A", fields)
        return True

    def _check_comp_ids(self, msg: Fields) -> bool:
        if msg.get(49) != self.peer or msg.get(56) != self.comp_id:
            self.reject(msg, 9, "CompID problem: 49 or 56 does not match the session", 49)
            self.logout("CompID problem")
            return False
        return True

    def _dispatch(self, msg: Fields, app: list[Fields]) -> None:
        mtype = msg.get(35) or ""
        if msg is _PROCESSED:
            return
        if not self._check_comp_ids(msg):
            return
        if mtype == "0":
            if self.test_request is not None and msg.get(112) == self.test_request[0]:
                self.test_request = None
        elif mtype == "1":
            self.send("0", [(112, msg.get(112, ""))])
        elif mtype == "2":
            self._resend(msg)
        elif mtype == "3":
            pass  # the client rejected one of ours; nothing to undo
        elif mtype == "4":
            self._gap_fill(msg)
        elif mtype == "5":
            self.logout()
        elif mtype == "A":
            self.reject(msg, 5, "already logged on", 35)
        else:
            app.append(msg)

    def _gap_fill(self, msg: Fields) -> None:
        new = msg.get(36)
        if new is None or not new.isdigit():
            return self.reject(msg, 1 if new is None else 6, "SequenceReset needs NewSeqNo(36)", 36)
        if int(new) < self.store.next_in:
            return self.reject(msg, 5, "NewSeqNo(36) would lower the expected MsgSeqNum", 36)
        self.store.next_in = int(new)

    def _sequence_reset(self, msg: Fields, app: list[Fields]) -> None:
        new = msg.get(36)
        if new is None or not new.isdigit() or int(new) < self.store.next_in:
            return self.reject(msg, 5, "SequenceReset-Reset NewSeqNo(36) missing or too low", 36)
        self.store.next_in = int(new)
        self._drain(app)

    def _resend(self, msg: Fields) -> None:
        begin, end = _number(msg.get(7)), _number(msg.get(16, "0"))
        last = self.store.next_out - 1
        if begin < 1 or (end and end < begin):
            return self.reject(msg, 5, "ResendRequest range is not valid", 7)
        end = last if end == 0 or end > last else end
        gap_from = None
        for s in range(begin, end + 1):
            kept = self.store.sent.get(s)
            if kept is None:
                if gap_from is None:
                    gap_from = s
                continue
            if gap_from is not None:
                self._emit("4", gap_from, utc_timestamp(self.wall()),
                           encode_fields([(123, "Y"), (36, s)]), [(43, "Y")])
                gap_from = None
            mtype, body, sending = kept
            self._emit(mtype, s, utc_timestamp(self.wall()), body, [(43, "Y"), (122, sending)])
        if gap_from is not None:
            self._emit("4", gap_from, utc_timestamp(self.wall()),
                       encode_fields([(123, "Y"), (36, end + 1)]), [(43, "Y")])

    # ------------------------------------------------------------------ time
    def tick(self) -> None:
        """Heartbeats, TestRequests and the logon deadline; call about once a second."""
        now = self.clock()
        if self.state == "awaiting_logon":
            if now > self.logon_deadline:
                self.close("no Logon in time")
            return
        if self.state != "active":
            return
        hb = self.heartbeat_ns
        if now - self.last_out >= hb:
            self.send("0", [])
        if self.test_request is None:
            if now - self.last_in >= hb + hb // 5:
                self._test_ids += 1
                tid = f"TEST{self._test_ids}"
                self.test_request = (tid, now)
                self.send("1", [(112, tid)])
        elif now - self.test_request[1] >= hb:
            self.logout("no answer to TestRequest: heartbeat timeout")
