"""Reference solutions of the lab 13 exercises (the checks must pass on these)."""

from __future__ import annotations

import heapq

import numpy as np

from labsupport.protocols import fix
from labsupport.protocols.fix.message import BodyLengthError, ChecksumError, FramingError
from labsupport.protocols.itch import BOOK_TYPES, Layout, MoldPacket, build_layout, decode

try:
    from numba import njit
except ImportError:  # pragma: no cover - without the fast extra the loop runs as Python
    def njit(*args, **kwargs):
        return args[0] if args and callable(args[0]) else (lambda f: f)


def test_message_layout() -> Layout:
    return build_layout("Z", "Test Message", (("stock", 8, "alpha"), ("price", 4, "p4"),
                                              ("shares", 4, "int"), ("flag", 1, "alpha")))  # fmt: skip


class MoldReceiver:
    """Early packets wait in a heap keyed by sequence number; duplicates are trimmed away."""

    def __init__(self, first_sequence: int = 1) -> None:
        self.next_sequence = first_sequence
        self._early: list[tuple[int, int, list[tuple]]] = []  # (first seq, arrival, messages)
        self._arrivals = 0
        self._highest = first_sequence - 1

    def accept(self, packet: MoldPacket) -> list[tuple]:
        if packet.end_of_session or not packet.messages:
            return []
        last = packet.sequence_number + len(packet.messages) - 1
        self._highest = max(self._highest, last)
        if last >= self.next_sequence:
            self._arrivals += 1
            heapq.heappush(self._early, (packet.sequence_number, self._arrivals, packet.messages))
        out: list[tuple] = []
        while self._early and self._early[0][0] <= self.next_sequence:
            first, _, msgs = heapq.heappop(self._early)
            fresh = msgs[self.next_sequence - first :]  # empty when wholly a duplicate
            out += fresh
            self.next_sequence += len(fresh)
        return out

    def missing(self) -> list[tuple[int, int]]:
        gaps, at = [], self.next_sequence
        for first, _, msgs in sorted(self._early):
            if first > at:
                gaps.append((at, first - 1))
            at = max(at, first + len(msgs))
        if at <= self._highest:
            gaps.append((at, self._highest))
        return gaps


class LazyFixMessage:
    """Validated like fix.parse; fields split once, tags converted only on the way out."""

    __slots__ = ("_raw", "_parts", "_index")

    def __init__(self, raw: bytes) -> None:
        if not raw.startswith(b"8=") or not raw.endswith(b"\x01"):
            raise FramingError("message does not start with 8= and end with SOH", 0)
        parts = raw.split(b"\x01")
        parts.pop()
        if len(parts) < 4 or not parts[1].startswith(b"9=") or not parts[2].startswith(b"35=") \
                or not parts[-1].startswith(b"10="):
            raise FramingError("fields must start 8, 9, 35 and end with 10", 0)
        body_start = len(parts[0]) + len(parts[1]) + 2
        trailer_at = len(raw) - len(parts[-1]) - 1
        declared = parts[1][2:]
        if not declared.isdigit() or int(declared) != trailer_at - body_start:
            raise BodyLengthError(f"BodyLength(9)={declared!r} but the body is {trailer_at - body_start} bytes",
                                  len(parts[0]) + 1)
        cs = parts[-1][3:]
        if len(cs) != 3 or not cs.isdigit() or int(cs) != sum(memoryview(raw)[:trailer_at]) & 0xFF:
            raise ChecksumError(f"CheckSum(10)={cs!r} does not match the bytes", trailer_at)
        self._raw, self._parts, self._index = raw, parts, None

    def _lookup(self, tag: int) -> bytes | None:
        if self._index is None:  # tags stay bytes: b"35" is a dict key as good as 35
            idx: dict[bytes, bytes] = {}
            for p in self._parts:
                t, _, v = p.partition(b"=")
                idx.setdefault(t, v)
            self._index = idx
        return self._index.get(b"%d" % tag)

    @property
    def fields(self) -> list[tuple[int, bytes]]:
        out = []
        for p in self._parts:
            t, eq, v = p.partition(b"=")
            if not eq or not t.isdigit():
                raise FramingError(f"field {p[:20]!r} is not tag=value", self._raw.find(p))
            out.append((int(t), v))
        return out

    def get(self, tag: int) -> str | None:
        if tag == 35:  # MsgType is always the third field: no index needed for the commonest read
            return self._parts[2][3:].decode("latin-1")
        v = self._lookup(tag)
        return None if v is None else v.decode("latin-1")

    def encode(self) -> bytes:
        body = [(t, v) for t, v in self.fields if t not in (8, 9, 10, 35)]
        return fix.encode(self.get(35) or "", body, begin_string=self.get(8) or "FIX.4.4")


_ADD, _EXEC, _DELETE, _REPLACE = 0, 1, 2, 3


@njit
def _apply(kind, ref, loc, side, price, shares, new_ref, o_loc, o_side, o_price, o_shares):
    """One pass in wire order over dense order ids; o_shares 0 means not live."""
    for i in range(kind.size):
        k, r = kind[i], ref[i]
        if k == _ADD:
            o_loc[r], o_side[r], o_price[r], o_shares[r] = loc[i], side[i], price[i], shares[i]
        elif k == _EXEC:
            o_shares[r] = max(o_shares[r] - shares[i], 0)
        elif k == _DELETE:
            o_shares[r] = 0
        elif o_shares[r] > 0:  # replace: the new order inherits stock and side
            n = new_ref[i]
            o_loc[n], o_side[n], o_price[n], o_shares[n] = o_loc[r], o_side[r], price[i], shares[i]
            o_shares[r] = 0


class FastBook:
    """Columns from the vectorised decoder, dense ids by np.unique, one compiled loop."""

    def __init__(self) -> None:
        self._live = None

    def apply_buffer(self, data: bytes) -> None:
        dec = decode(data, types=BOOK_TYPES)
        parts = []
        for letter, arr in dec.arrays.items():
            n = len(arr)
            z = np.zeros(n, np.int64)
            off = dec.offsets[dec.types == ord(letter)]
            if letter in "AF":
                cols = (_ADD, arr["order_reference_number"], np.where(arr["buy_sell_indicator"] == b"B", 1, -1),
                        arr["price"], arr["shares"], z)
            elif letter in "ECX":
                field = "cancelled_shares" if letter == "X" else "executed_shares"
                cols = (_EXEC, arr["order_reference_number"], z, z, arr[field], z)
            elif letter == "D":
                cols = (_DELETE, arr["order_reference_number"], z, z, z, z)
            else:
                cols = (_REPLACE, arr["original_order_reference_number"], z, arr["price"], arr["shares"],
                        arr["new_order_reference_number"])
            k, r, s, p, q, nr = cols
            parts.append((off, np.full(n, k), r, arr["stock_locate"], s, p, q, nr))
        if not parts:
            self._live = None
            return
        cat = [np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(8)]
        order = np.argsort(cat[0], kind="stable")
        off, kind, ref, loc, side, price, shares, new_ref = (c[order] for c in cat)
        ids, dense = np.unique(np.concatenate([ref, new_ref[kind == _REPLACE]]), return_inverse=True)
        ref_d = dense[: ref.size]
        new_d = np.zeros_like(ref_d)
        new_d[kind == _REPLACE] = dense[ref.size :]
        m = ids.size
        o_loc, o_side, o_price, o_shares = (np.zeros(m, np.int64) for _ in range(4))
        _apply(kind, ref_d, loc, side, price, shares, new_d, o_loc, o_side, o_price, o_shares)
        live = o_shares > 0
        self._live = (o_loc[live], o_side[live], o_price[live], o_shares[live])

    def l2(self, locate: int) -> tuple[list[tuple], list[tuple]]:
        if self._live is None:
            return [], []
        o_loc, o_side, o_price, o_shares = self._live
        out = []
        for s, best_first in ((1, -1), (-1, 1)):
            m = (o_loc == locate) & (o_side == s)
            prices, inv = np.unique(o_price[m], return_inverse=True)
            qty = np.bincount(inv, weights=o_shares[m], minlength=prices.size).astype(np.int64)
            cnt = np.bincount(inv, minlength=prices.size)
            out.append([(int(p), int(q), int(c)) for p, q, c in zip(prices, qty, cnt)][::best_first])
        return out[0], out[1]
