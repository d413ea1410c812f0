"""Exercises of notebook 13: code that plugs into the ITCH and FIX parsers, checked against them.

- 13.1 a new message type: ``test_message_layout()`` returns the :class:`Layout` of a made-up
  type ``Z``; the check installs it with ``parser.extra_layouts`` and runs the encoder and the
  streaming parser on it, against bytes packed by hand from the specification below;
- 13.2 MoldUDP64 gap detection: a ``MoldReceiver`` class fed shuffled, duplicated packets of the
  committed ITCH sample must release every message once, in sequence, and name what is missing;
- 13.3 faster FIX with lazy tags: a ``LazyFixMessage`` class, checked for the same fields, the
  same ``get`` answers, the same errors and a byte-exact round trip on the committed session;
- 13.4 the ITCH book per stock in numba: a ``FastBook`` class, checked level for level against
  the deliberately simple ``itch.book.reference_l2`` at several points of the sample day.

Speeds (13.3, 13.4) are printed next to the package's own, never checked.

The ``Z`` "Test Message" (13.1), after the common 11-byte header: Stock (8, Alpha), Price
(4, Price(4)), Shares (4, Integer), Flag (1, Alpha): 28 bytes in all.
"""

from __future__ import annotations

import functools
import random
import struct
import time
from decimal import Decimal

from ..measure.paths import REPO_DIR
from ..protocols import fix
from ..protocols.itch import (
    LAYOUTS,
    MESSAGE_TYPES,
    ItchBook,
    MoldPacket,
    encode,
    encode_tuple,
    extra_layouts,
    frame,
    iter_messages,
    iter_tuples,
    message_dict,
    read_itch_file,
    reference_l2,
)
from ..protocols.itch.vector import decode
from . import Case, Property, exercise

DATA = REPO_DIR / "data" / "protocols"
Z_FIELDS = [("message_type", 0, 1, "alpha"), ("stock_locate", 1, 2, "int"),
            ("tracking_number", 3, 2, "int"), ("timestamp", 5, 6, "ts"), ("stock", 11, 8, "alpha"),
            ("price", 19, 4, "p4"), ("shares", 23, 4, "int"), ("flag", 27, 1, "alpha")]  # fmt: skip


@functools.cache
def _sample_day() -> bytes:
    return read_itch_file(DATA / "sample_day.itch")


@functools.cache
def _session() -> tuple[bytes, ...]:
    """The committed FIX session, one raw message per item (split by the stream parser)."""
    st = fix.FixStream()
    st.feed((DATA / "session.fix").read_bytes())
    out = []
    for m in st:
        assert isinstance(m, fix.FixMessage), m
        out.append(m.encode())
    return tuple(out)


# --- 13.1 -----------------------------------------------------------------------------------

def _z_by_hand(locate: int, tracking: int, ts: int, stock: str, price4: int, shares: int, flag: str) -> bytes:
    return struct.pack(">cHH", b"Z", locate, tracking) + ts.to_bytes(6, "big") + \
        stock.encode().ljust(8, b" ") + struct.pack(">II", price4, shares) + flag.encode()


def _with(layout, run):
    with extra_layouts(layout):
        return run()


@exercise("13.1", "A new message type", attr="test_message_layout")
def check_new_type(test_message_layout):
    made: list = []

    def layout():
        """The learner's layout, built on first use (so each case reports its own failure)."""
        if not made:
            made.append(test_message_layout())
        return made[0]

    ts = 34_200_123_456_789
    raw_by_hand = _z_by_hand(7, 3, ts, "ACME", 12_3400, 500, "Y")
    fields = dict(stock_locate=7, tracking_number=3, timestamp=ts, stock="ACME", price="12.34", shares=500,
                  flag="Y")  # fmt: skip
    want_tuple = ("Z", 7, 3, ts, b"ACME    ", 12_3400, 500, b"Y")
    return [
        Case("type letter and size", lambda: (layout().type, layout().size), ("Z", 28)),
        Case("fields: name, offset, length, kind",
             lambda: [(f.name, f.offset, f.length, f.kind) for f in layout().fields], Z_FIELDS),
        Case("the encoder writes the spec's bytes", lambda: _with(layout(), lambda: encode("Z", **fields)),
             raw_by_hand, input=repr(fields)),
        Case("the streaming parser reads them back",
             lambda: _with(layout(), lambda: list(iter_tuples(frame([raw_by_hand])))),
             [want_tuple], input=raw_by_hand.hex()),
        Case("decode -> encode gives the same bytes", lambda: _with(layout(), lambda: encode_tuple(want_tuple)),
             raw_by_hand),
        Case("named fields and the Price(4) as a decimal",
             lambda: _with(layout(), lambda: message_dict(next(iter_messages(frame([raw_by_hand]))))),
             {"message_type": "Z", "stock_locate": 7, "tracking_number": 3, "timestamp": ts, "stock": "ACME",
              "price": Decimal("12.3400"), "shares": 500, "flag": "Y"}),
        Case("the spec's 23 types are untouched afterwards",
             lambda: (_with(layout(), lambda: None), tuple(LAYOUTS))[1], MESSAGE_TYPES),
    ]


# --- 13.2 -----------------------------------------------------------------------------------

@functools.cache
def _packets() -> tuple[tuple[tuple, ...], tuple[MoldPacket, ...]]:
    """The sample day's first 3000 messages in packets of 1..40 messages, sequence from 1."""
    msgs = tuple(list(iter_tuples(_sample_day()))[:3000])
    rng = random.Random(132)
    packets, seq = [], 1
    while seq <= len(msgs):
        k = min(rng.randint(1, 40), len(msgs) - seq + 1)
        packets.append(MoldPacket("LAB13", seq, k, list(msgs[seq - 1 : seq - 1 + k])))
        seq += k
    return msgs, tuple(packets)


def _feed(cls, packets) -> list[tuple]:
    rx = cls(first_sequence=1)
    out: list[tuple] = []
    for p in packets:
        out += rx.accept(p)
    return out


OK_ORDER = "every message once, in sequence"


def _order_report(released: list[tuple], msgs: tuple[tuple, ...]) -> str:
    """What went wrong with a release order, in words (or :data:`OK_ORDER`)."""
    if released == list(msgs):
        return OK_ORDER
    wrong = next((i for i, (a, b) in enumerate(zip(released, msgs)) if a != b), min(len(released), len(msgs)))
    return f"{len(released)} of {len(msgs)} messages released, the first wrong one at sequence {wrong + 1}"


def _shuffled(seed: int) -> list[MoldPacket]:
    _, packets = _packets()
    rng = random.Random(seed)
    mixed = list(packets) + rng.sample(packets, len(packets) // 10)  # 10% arrive twice
    rng.shuffle(mixed)
    return mixed


def _with_gap(cls, k: int):
    """Everything but packet k, then packet k: (released before, missing, released after, missing)."""
    _, packets = _packets()
    rx = cls(first_sequence=1)
    before: list[tuple] = []
    for p in packets[:k] + packets[k + 1 :]:
        before += rx.accept(p)
    missing = rx.missing()
    after = rx.accept(packets[k])
    return len(before), missing, len(after), rx.missing()


@exercise("13.2", "MoldUDP64 gap detection", attr="MoldReceiver")
def check_mold_receiver(MoldReceiver):  # noqa: N803 - the learner's class
    msgs, packets = _packets()
    k = len(packets) // 3
    first, last = packets[k].sequence_number, packets[k].sequence_number + packets[k].message_count - 1
    heartbeat, end = MoldPacket("LAB13", 1, 0, []), MoldPacket("LAB13", 1, 0xFFFF, [])
    return [
        Case("packets in order: every message, in order", lambda: _order_report(_feed(MoldReceiver, packets), msgs),
             OK_ORDER, input=f"{len(packets)} packets"),
        Case("heartbeat and end of session release nothing", lambda: _feed(MoldReceiver, [heartbeat, end]), []),
        Case("a lost packet holds back what follows and is reported, then filled",
             lambda: _with_gap(MoldReceiver, k), (first - 1, [(first, last)], len(msgs) - first + 1, []),
             input=f"packet {k} (messages {first}..{last}) arrives last"),
        Property("shuffled, 10% duplicated: each message once, in sequence", lambda: range(12),
                 lambda seed: _order_report(_feed(MoldReceiver, _shuffled(seed)), msgs), lambda seed: OK_ORDER,
                 show=lambda seed: f"shuffle seed {seed}"),
    ]


# --- 13.3 -----------------------------------------------------------------------------------

def _speed(label: str, runs: dict) -> None:
    """Print messages per second of each candidate (median of three): information, not a check."""
    shown = []
    for name, (fn, n) in runs.items():
        took = []
        try:
            for _ in range(3):
                t0 = time.perf_counter()
                fn()
                took.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - the cases report it; here it only has no speed
            shown.append(f"{name} did not run ({type(exc).__name__})")
            continue
        shown.append(f"{name} {n / sorted(took)[1]:,.0f}/s")
    print(f"  speed ({label}, not checked): " + ", ".join(shown))


def _error_of(fn) -> str:
    try:
        fn()
    except fix.FixError as exc:
        return type(exc).__name__
    return "no error"


@exercise("13.3", "Faster FIX with lazy tags", attr="LazyFixMessage")
def check_lazy_fix(LazyFixMessage):  # noqa: N803 - the learner's class
    raws = _session()
    tags = (35, 11, 41, 55, 54, 38, 44, 150, 39, 58, 9999)
    bad_sum = raws[0][:-4] + b"%03d\x01" % ((int(raws[0][-4:-1]) + 1) % 256)
    bad_len = raws[1].replace(b"9=", b"9=1", 1)
    _speed("messages parsed, then MsgType read", {
        "fix.parse": (lambda: [fix.parse(r).msg_type for r in raws], len(raws)),
        "yours": (lambda: [LazyFixMessage(r).get(35) for r in raws], len(raws))})
    return [
        Case("same fields as fix.parse, every message", lambda: [LazyFixMessage(r).fields for r in raws],
             [fix.parse(r).fields for r in raws], input=f"session.fix, {len(raws)} messages"),
        Case("same get() answers", lambda: [[LazyFixMessage(r).get(t) for t in tags] for r in raws],
             [[fix.parse(r).get(t) for t in tags] for r in raws], input=f"tags {tags}"),
        Case("round trip: encode() gives the same bytes", lambda: [LazyFixMessage(r).encode() for r in raws],
             list(raws)),
        Case("a wrong CheckSum is still refused", lambda: _error_of(lambda: LazyFixMessage(bad_sum)),
             "ChecksumError", input=repr(bad_sum[-12:])),
        Case("a lying BodyLength is still refused", lambda: _error_of(lambda: LazyFixMessage(bad_len)),
             "BodyLengthError", input=repr(bad_len[:24])),
    ]


# --- 13.4 -----------------------------------------------------------------------------------

def _cuts(n: int = 4) -> list[int]:
    """Byte offsets of message boundaries spread over the sample day (the last is its end)."""
    data = _sample_day()
    offsets = decode(data).offsets
    return [int(offsets[len(offsets) * i // n]) - 2 for i in range(1, n)] + [len(data)]


def _books(cls, cut: int) -> dict:
    data = _sample_day()[:cut]
    book = cls()
    book.apply_buffer(data)
    return {loc: book.l2(loc) for loc in _locates()}


@functools.cache
def _locates() -> tuple[int, ...]:
    book = ItchBook()
    book.apply_buffer(_sample_day())
    return tuple(sorted(book.symbols))


def _reference_books(cut: int) -> dict:
    tuples = list(iter_tuples(_sample_day()[:cut]))
    return {loc: reference_l2(tuples, loc) for loc in _locates()}


@exercise("13.4", "The ITCH book per stock in numba", attr="FastBook")
def check_fast_book(FastBook):  # noqa: N803 - the learner's class
    data = _sample_day()
    _speed("sample days applied", {
        "ItchBook": (lambda: ItchBook().apply_buffer(data), 1),
        "yours": (lambda: FastBook().apply_buffer(data), 1)})
    cases = [Case(f"every stock's L2 after {cut:,} bytes", lambda cut=cut: _books(FastBook, cut),
                  _reference_books(cut), input=f"sample_day.itch[:{cut}]") for cut in _cuts()]
    cases.append(Case("an empty feed has empty books", lambda: _books(FastBook, 0),
                      {loc: ([], []) for loc in _locates()}))
    return cases
