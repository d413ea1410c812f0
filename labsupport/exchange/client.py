"""A FIX 4.4 trading client built on simplefix, an independent FIX implementation.

What it mirrors: the initiator side a trading firm runs against a venue. The codec is
simplefix's (not the exchange's own), so every test that trades through this client checks
the gateway against someone else's reading of the FIX wire format.

The client is blocking and small: :meth:`FixClient.logon` (141=Y, so each run starts at
MsgSeqNum 1), :meth:`new_order`, :meth:`cancel`, :meth:`replace`, :meth:`recv` (the next
application or session message; TestRequests are answered and ResendRequests served on the
way), :meth:`reports` (the next N ExecutionReports), :meth:`logout`. ``skip_seq()`` and
:meth:`send_raw` exist to break the protocol on purpose in tests and in the notebook.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import simplefix

from .session import EXCHANGE_COMP_ID, ExchangeError, utc_timestamp

__all__ = ["FixClient", "FixClientError", "as_dict"]


class FixClientError(ExchangeError):
    """The venue did not answer as expected (timeout, logon refused, connection closed)."""


def as_dict(msg: simplefix.FixMessage) -> dict[int, str]:
    """A simplefix message as ``{tag: value}`` (first occurrence of each tag)."""
    out: dict[int, str] = {}
    for tag, value in msg.pairs:
        out.setdefault(int(tag), value.decode("latin-1"))
    return out


class FixClient:
    """One FIX session to the venue at ``host:port`` as SenderCompID ``sender``."""

    def __init__(self, host: str, port: int, sender: str, *, heartbeat_s: int = 30,
                 timeout_s: float = 5.0, target: str = EXCHANGE_COMP_ID) -> None:
        self.sender, self.target = sender, target
        self.heartbeat_s = heartbeat_s
        self.timeout_s = timeout_s
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.parser = simplefix.FixParser()
        self.next_seq = 1
        self.sent: dict[int, simplefix.FixMessage] = {}
        self.closed = False
        self.session_messages: list[dict[int, str]] = []  # Logon, Reject, Logout, ... seen

    # ------------------------------------------------------------------ output
    def _message(self, msg_type: str, fields: list[tuple[int, object]], seq: int,
                 extra: list[tuple[int, object]] = ()) -> simplefix.FixMessage:
        m = simplefix.FixMessage()
        m.append_pair(8, "FIX.4.4", header=True)
        m.append_pair(35, msg_type, header=True)
        m.append_pair(49, self.sender, header=True)
        m.append_pair(56, self.target, header=True)
        m.append_pair(34, seq, header=True)
        m.append_pair(52, utc_timestamp(time.time()), header=True)
        for tag, value in extra:
            m.append_pair(tag, value, header=True)
        for tag, value in fields:
            m.append_pair(tag, value)
        return m

    def send(self, msg_type: str, fields: list[tuple[int, object]]) -> int:
        seq = self.next_seq
        self.next_seq += 1
        m = self._message(msg_type, fields, seq)
        self.sent[seq] = m
        self.sock.sendall(m.encode())
        return seq

    def skip_seq(self, n: int = 1) -> None:
        """Lose the next ``n`` messages on purpose: numbers are used but nothing is sent
        (they are still kept, so the venue's ResendRequest gets them)."""
        for _ in range(n):
            seq = self.next_seq
            self.next_seq += 1
            self.sent[seq] = self._message("0", [], seq)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def logon(self, reset: bool = True) -> dict[int, str]:
        fields: list[tuple[int, object]] = [(98, 0), (108, self.heartbeat_s)]
        if reset:
            fields.append((141, "Y"))
        self.send("A", fields)
        reply = self.recv(admin=True)
        if reply.get(35) != "A":
            raise FixClientError(f"logon refused: {reply.get(58, reply)}")
        return reply

    def new_order(self, clordid: str, symbol: str, side: str, qty: int, price: str | None = None,
                  *, tif: str = "0", account: str | None = None) -> int:
        fields: list[tuple[int, object]] = [(11, clordid)]
        if account is not None:
            fields.append((1, account))
        fields += [(55, symbol), (54, side), (60, utc_timestamp(time.time())), (38, qty),
                   (40, "1" if price is None else "2")]
        if price is not None:
            fields.append((44, price))
        fields.append((59, tif))
        return self.send("D", fields)

    def cancel(self, clordid: str, orig: str, symbol: str, side: str) -> int:
        return self.send("F", [(41, orig), (11, clordid), (55, symbol), (54, side),
                               (60, utc_timestamp(time.time()))])

    def replace(self, clordid: str, orig: str, symbol: str, side: str, qty: int, price: str
                ) -> int:
        return self.send("G", [(41, orig), (11, clordid), (55, symbol), (54, side),
                               (60, utc_timestamp(time.time())), (38, qty), (40, "2"),
                               (44, price)])

    def logout(self) -> None:
        if not self.closed:
            self.send("5", [])
            with contextlib.suppress(FixClientError, OSError):
                self.recv(admin=True, until=lambda m: m.get(35) == "5")
        self.close()

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    # ------------------------------------------------------------------ input
    def _read(self, deadline: float) -> simplefix.FixMessage:
        while True:
            m = self.parser.get_message()
            if m is not None:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise FixClientError(f"{self.sender}: no message within {self.timeout_s} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.closed = True
                raise FixClientError(f"{self.sender}: the venue closed the connection")
            self.parser.append_buffer(data)

    def _resend(self, msg: dict[int, str]) -> None:
        begin, end = int(msg.get(7, "1")), int(msg.get(16, "0"))
        end = self.next_seq - 1 if end == 0 else end
        for seq in range(begin, end + 1):
            kept = self.sent.get(seq)
            if kept is None:
                continue
            raw = as_dict(kept)
            body = [(int(t), v) for t, v in kept.pairs if int(t) not in (8, 9, 10, 34, 35, 49, 52, 56)]
            self.sock.sendall(self._message(raw[35], body, seq, [(43, "Y")]).encode())

    def recv(self, *, admin: bool = False, until: Callable[[dict[int, str]], bool] | None = None,
             timeout_s: float | None = None) -> dict[int, str]:
        """The next message as a dict; session messages (Heartbeat, TestRequest,
        ResendRequest, SequenceReset) are handled here and skipped unless ``admin``."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            msg = as_dict(self._read(deadline))
            mtype = msg.get(35)
            if mtype == "1":
                self.send("0", [(112, msg.get(112, ""))])
            elif mtype == "2":
                self._resend(msg)
            if mtype in ("0", "1", "2", "4", "A", "3", "5"):
                self.session_messages.append(msg)
                if mtype == "5":
                    self.closed = True
                if not admin and mtype not in ("3", "5"):
                    continue
            if until is None or until(msg):
                return msg

    def reports(self, n: int, timeout_s: float | None = None) -> list[dict[int, str]]:
        """The next ``n`` ExecutionReports or OrderCancelRejects."""
        return [self.recv(until=lambda m: m.get(35) in ("8", "9"), timeout_s=timeout_s)
                for _ in range(n)]

    def __enter__(self) -> FixClient:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.closed:
            self.close()
