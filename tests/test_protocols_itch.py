"""Lab 13, ITCH 5.0: layout table, encoder, streaming and vectorised parsers, framing, book, CLI."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labsupport.protocols.itch import (
    LAYOUTS,
    MESSAGE_TYPES,
    SPEC_SIZES,
    ItchBook,
    ItchError,
    ItchStream,
    LengthMismatch,
    MoldUDP64Error,
    TruncatedMessage,
    UnknownMessageType,
    decode,
    encode,
    encode_moldudp64,
    encode_tuple,
    frame,
    iter_messages,
    iter_tuples,
    message_dict,
    parse_moldudp64,
    reference_l2,
    scan,
    to_frame,
)
from labsupport.protocols.itch.vector import HAVE_NUMBA

SCANNERS = [pytest.param(False, id="python-scan")] + (
    [pytest.param(True, id="numba-scan")] if HAVE_NUMBA else []
)


def sample_tuple(letter: str, salt: int = 0) -> tuple:
    """A message of type ``letter`` whose every field uses its full width (catches offset slips)."""
    vals: list = [letter]
    for i, f in enumerate(LAYOUTS[letter].fields[1:], 1):
        if f.kind == "alpha":
            vals.append(bytes(65 + (i + salt + k) % 26 for k in range(f.length)))
        elif f.kind == "ts":
            vals.append(0x1234_5678_9ABC - salt)
        else:
            vals.append((1 << (8 * f.length - 1)) + 0x0102 * i + salt)
    return tuple(vals)


# --- the table --------------------------------------------------------------------------------


def test_all_23_types_and_sizes_match_the_spec():
    assert "".join(MESSAGE_TYPES) == "SRHYLVWKJhAFECXDUPQBINO"
    for t, lay in LAYOUTS.items():
        assert lay.size == SPEC_SIZES[t], t
        off = 0
        for f in lay.fields:  # contiguous, no gaps, no overlaps
            assert f.offset == off, (t, f.name)
            off += f.length
        assert lay.names[:4] == ("message_type", "stock_locate", "tracking_number", "timestamp")


def test_add_order_bytes_written_by_hand():
    """An independent check of the A layout: bytes packed field by field from the spec's table."""
    raw = (
        b"A" + (7).to_bytes(2, "big") + (3).to_bytes(2, "big") + (34_200_000_000_001).to_bytes(6, "big")
        + (123456789).to_bytes(8, "big") + b"S" + (300).to_bytes(4, "big") + b"ZVZZT   "
        + (1_234_500).to_bytes(4, "big")
    )  # fmt: skip
    assert len(raw) == 36
    (msg,) = list(iter_messages(len(raw).to_bytes(2, "big") + raw))
    assert msg.stock_locate == 7 and msg.tracking_number == 3 and msg.timestamp == 34_200_000_000_001
    assert (msg.order_reference_number, msg.buy_sell_indicator, msg.shares) == (123456789, "S", 300)
    assert msg.stock == "ZVZZT" and msg.price == 1_234_500
    assert str(message_dict(msg)["price"]) == "123.4500"
    assert encode("A", stock_locate=7, tracking_number=3, timestamp=34_200_000_000_001,
                  order_reference_number=123456789, buy_sell_indicator="S", shares=300,
                  stock="ZVZZT", price="123.45") == raw  # fmt: skip


@pytest.mark.parametrize("letter", MESSAGE_TYPES)
def test_encode_then_decode_every_type(letter):
    t = sample_tuple(letter)
    raw = encode_tuple(t)
    assert len(raw) == SPEC_SIZES[letter] and raw[:1] == letter.encode()
    (back,) = list(iter_tuples(frame([raw])))
    assert back == t
    arr = decode(frame([raw])).arrays[letter]
    assert tuple(arr[0].tolist()) == t[1:]


@pytest.mark.parametrize("letter", MESSAGE_TYPES)
def test_decode_then_encode_every_type(letter):
    rng = np.random.default_rng(ord(letter))
    raw = bytes([ord(letter)]) + rng.integers(32, 127, SPEC_SIZES[letter] - 1, dtype=np.uint8).tobytes()
    (t,) = list(iter_tuples(frame([raw])))
    assert encode_tuple(t) == raw


def test_alpha_fields_are_space_padded_and_stripped():
    raw = encode("R", stock="AB", issue_sub_type="Z")
    assert raw[11:19] == b"AB      " and raw[27:29] == b"Z "
    (m,) = list(iter_messages(frame([raw])))
    assert m.stock == "AB" and m.issue_sub_type == "Z"


# --- errors ---------------------------------------------------------------------------------

GOOD = encode_tuple(sample_tuple("D"))
BAD_CASES = [
    (frame([GOOD]) + b"\x00", TruncatedMessage, 21),
    (frame([GOOD]) + b"\x00\x13D", TruncatedMessage, 21),
    (frame([GOOD]) + b"\x00\x01Z", UnknownMessageType, 21),
    (frame([GOOD]) + b"\x00\x05Dxxxx", LengthMismatch, 21),
    (frame([GOOD]) + b"\x00\x00", LengthMismatch, 21),
]


@pytest.mark.parametrize("data,error,offset", BAD_CASES)
def test_errors_name_the_offset_in_both_parsers(data, error, offset):
    with pytest.raises(error) as exc:
        list(iter_tuples(data))
    assert exc.value.offset == offset and f"offset {offset}" in str(exc.value)
    for use_numba in (False, True):
        with pytest.raises(error) as exc:
            decode(data, use_numba=use_numba)
        assert exc.value.offset == offset


def test_streaming_can_skip_and_count_unknown_types():
    data = frame([GOOD, b"Zjunk", GOOD])
    counts: dict = {}
    assert len(list(iter_tuples(data, skip_unknown=True, counts=counts))) == 2
    assert counts == {"unknown": 1}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_documented_errors(data):
    try:
        streamed = list(iter_tuples(data))
    except ItchError as exc:
        streamed = exc
    for use_numba in (False, True):
        try:
            n = len(decode(data, use_numba=use_numba))
        except ItchError as exc:
            assert type(exc) is type(streamed) and exc.offset == streamed.offset
        else:
            assert n == len(streamed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(MESSAGE_TYPES), max_size=20), st.binary(max_size=8))
def test_valid_messages_then_garbage(letters, tail):
    msgs = [encode_tuple(sample_tuple(t, i)) for i, t in enumerate(letters)]
    data = frame(msgs) + tail
    try:
        got = list(iter_tuples(data))
    except ItchError as exc:
        assert exc.offset >= len(frame(msgs))
    else:
        assert got[: len(msgs)] == [sample_tuple(t, i) for i, t in enumerate(letters)]


# --- the two parsers agree on a generated day ------------------------------------------------


@pytest.fixture(scope="module")
def day():
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow
    from labsupport.protocols.itch.gen import generate_itch_day

    flow = generate_order_flow(OrderFlowConfig(n_events=6000, n_symbols=3, seed=11))
    return flow, generate_itch_day(flow, seed=3)


def test_generated_day_has_every_type(day):
    _, d = day
    assert set(decode(d.data).counts()) == set(MESSAGE_TYPES)


@pytest.mark.parametrize("use_numba", SCANNERS)
def test_streaming_and_vectorised_agree(day, use_numba):
    _, d = day
    tuples = list(iter_tuples(d.data))
    dec = decode(d.data, use_numba=use_numba)
    assert len(dec) == len(tuples) == d.n_messages
    assert "".join(chr(c) for c in dec.types) == "".join(t[0] for t in tuples)
    for letter, arr in dec.arrays.items():
        mine = [t[1:] for t in tuples if t[0] == letter]
        assert [tuple(r) for r in arr.tolist()] == mine, letter
    off, _ = scan(d.data, use_numba=use_numba)
    assert np.array_equal(off, dec.offsets)


def test_stream_fed_in_odd_chunks_equals_whole(day):
    _, d = day
    s = ItchStream()
    got = []
    for i in range(0, len(d.data), 997):
        s.feed(d.data[i : i + 997])
        got.extend(s)
    s.close()
    assert got == list(iter_tuples(d.data)) and s.pending == 0


def test_stream_close_reports_a_partial_tail():
    s = ItchStream()
    s.feed(frame([GOOD])[:-3])
    assert list(s) == []
    with pytest.raises(TruncatedMessage) as exc:
        s.close()
    assert exc.value.offset == 0


def test_to_frame_gives_decimals_and_strings(day):
    _, d = day
    df = to_frame(decode(d.data).arrays["A"], "A")
    assert df["stock"].iloc[0] in d.symbols and df["price"].dtype == float
    assert set(df["buy_sell_indicator"]) <= {"B", "S"}


# --- MoldUDP64 ---------------------------------------------------------------------------------


def test_moldudp64_roundtrip_heartbeat_and_end():
    msgs = [encode_tuple(sample_tuple(t, i)) for i, t in enumerate("AEXDU")]
    pkt = encode_moldudp64("SESSION01", 1001, msgs)
    assert pkt[:20] == b"SESSION01 " + (1001).to_bytes(8, "big") + (5).to_bytes(2, "big")
    p = parse_moldudp64(pkt)
    assert (p.session, p.sequence_number, p.message_count) == ("SESSION01", 1001, 5)
    assert p.messages == [sample_tuple(t, i) for i, t in enumerate("AEXDU")]
    hb = parse_moldudp64(encode_moldudp64("SESSION01", 1006, []))
    assert hb.message_count == 0 and hb.messages == [] and not hb.end_of_session
    end = parse_moldudp64(struct.pack(">10sQH", b"SESSION01 ", 1006, 0xFFFF))
    assert end.end_of_session


def test_moldudp64_errors():
    msgs = [encode_tuple(sample_tuple("A"))]
    pkt = encode_moldudp64("S", 1, msgs)
    with pytest.raises(MoldUDP64Error):
        parse_moldudp64(pkt[:15])
    with pytest.raises(MoldUDP64Error, match="says 2 messages"):
        parse_moldudp64(pkt[:18] + (2).to_bytes(2, "big") + pkt[20:])
    with pytest.raises(TruncatedMessage) as exc:
        parse_moldudp64(pkt[:-1], base_offset=1000)
    assert exc.value.offset == 1020


def test_moldudp64_packets_carry_the_file_messages(day):
    """Split the day into packets: the concatenated packet messages equal the file's."""
    _, d = day
    tuples = list(iter_tuples(d.data))
    raws = [encode_tuple(t) for t in tuples]
    got, seq = [], 1
    for i in range(0, len(raws), 40):
        p = parse_moldudp64(encode_moldudp64("DAY", seq, raws[i : i + 40]))
        assert p.sequence_number == seq
        seq += p.message_count
        got.extend(p.messages)
    assert got == tuples


# --- the book -------------------------------------------------------------------------------


def test_book_against_reference_at_several_times(day):
    flow, d = day
    tuples = list(iter_tuples(d.data))
    for cut in (len(tuples) // 5, len(tuples) // 2, len(tuples)):
        book = ItchBook()
        book.apply_many(tuples[:cut])
        fast = ItchBook()
        fast.apply_buffer(frame([encode_tuple(t) for t in tuples[:cut]]))
        for loc in range(1, len(d.symbols) + 1):
            bids, asks = reference_l2(tuples[:cut], loc)
            for b in (book, fast):
                snap = b.l2(loc)
                assert [(lv.price_ticks, lv.qty, lv.orders) for lv in snap.bids] == bids
                assert [(lv.price_ticks, lv.qty, lv.orders) for lv in snap.asks] == asks
        assert book.unknown_refs == fast.unknown_refs == 0 and book.anomalies == 0


def test_book_equals_lab02_engine_book(day):
    """The ITCH feed written from Lab 02's engine rebuilds that engine's final book exactly."""
    from labsupport.orderbook import MatchingEngine

    flow, d = day
    eng = MatchingEngine(pnl=False)
    eng.process_array(flow.events)
    book = ItchBook()
    book.apply_buffer(d.data)
    for s in range(len(d.symbols)):
        ref = eng.l2_snapshot(s, depth=None)
        got = book.l2(s + 1)
        assert [(lv.price_ticks * 100, lv.qty, lv.orders) for lv in ref.bids] == [(x.price_ticks, x.qty, x.orders) for x in got.bids]
        assert [(lv.price_ticks * 100, lv.qty, lv.orders) for lv in ref.asks] == [(x.price_ticks, x.qty, x.orders) for x in got.asks]


def test_book_replace_inherits_side_and_stock():
    msgs = [
        encode("A", stock_locate=2, order_reference_number=1, buy_sell_indicator="S", shares=100, stock="X", price=10_0000),
        encode("U", stock_locate=2, original_order_reference_number=1, new_order_reference_number=9, shares=50, price=11_0000),
        encode("E", stock_locate=2, order_reference_number=9, executed_shares=20, match_number=1),
        encode("X", stock_locate=2, order_reference_number=9, cancelled_shares=5),
        encode("D", stock_locate=2, order_reference_number=42),
    ]  # fmt: skip
    book = ItchBook()
    book.apply_many(iter_tuples(frame(msgs)))
    snap = book.l2(2)
    assert snap.bids == () and [(lv.price_ticks, lv.qty, lv.orders) for lv in snap.asks] == [(11_0000, 25, 1)]
    assert 1 not in book.orders and book.orders[9] == [2, -1, 11_0000, 25] and book.unknown_refs == 1


# --- command line ------------------------------------------------------------------------------


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "labsupport.protocols.itch", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_cli_dump_stats_book(day, tmp_path):
    flow, d = day
    path = tmp_path / "day.itch"
    d.write(path)
    r = run_cli("dump", str(path), "--limit", "3")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 3 and lines[0]["message_type"] == "S" and lines[0]["event_code"] == "O"
    assert set(lines[1]) == {"message_type", "stock_locate", "tracking_number", "timestamp", "level_1", "level_2", "level_3"}
    r = run_cli("dump", str(path))
    first_add = next(json.loads(x) for x in r.stdout.splitlines() if '"message_type": "A"' in x)
    assert isinstance(first_add["price"], float) and first_add["stock"] in d.symbols
    r = run_cli("stats", str(path))
    assert json.loads(r.stdout) == decode(d.data).counts()
    r = run_cli("book", str(path), "--stock", d.symbols[0], "--depth", "2")
    rows = r.stdout.splitlines()
    assert rows[0] == "side,price,shares,orders" and len(rows) == 5 and rows[1].startswith("B,")


ITCH_ERROR = "python -m labsupport.protocols.itch: error: "


def test_cli_error_is_one_line_with_offset(tmp_path):
    path = tmp_path / "bad.itch"
    path.write_bytes(frame([GOOD]) + b"\x00\x05Dxxxx")
    r = run_cli("dump", str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [f"{ITCH_ERROR}{path}: type 'D' is 19 bytes but its length prefix says 5 at byte offset 21"]
    assert len(r.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "status", "stderr"),
    [
        (["dump", "{dir}/missing.itch"], 2, ITCH_ERROR + "{dir}/missing.itch: No such file or directory"),
        (["book", "{dir}/ok.itch", "--stock", "NOPE"], 2,
         ITCH_ERROR + "{dir}/ok.itch: stock 'NOPE' has no Stock Directory (R) message in this feed"),
        (["dump", "{dir}/bad.itch.gz"], 2, ITCH_ERROR + "{dir}/bad.itch.gz: not a complete gzip file ("),
        (["dump", "{dir}/ok.itch", "--limit", "0"], 2,
         "python -m labsupport.protocols.itch dump: error: argument --limit: '0' is not a positive integer"),
        (["book", "{dir}/ok.itch"], 2,
         "python -m labsupport.protocols.itch book: error: the following arguments are required: --stock"),
        (["frobnicate", "x"], 2, "python -m labsupport.protocols.itch: error: argument command: invalid choice"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_naming_it(tmp_path, capsys, argv, status, stderr):
    from labsupport.protocols.itch.cli import main

    (tmp_path / "ok.itch").write_bytes(frame([GOOD]))
    (tmp_path / "bad.itch.gz").write_bytes(gzip.compress(frame([GOOD]))[:-9])  # cut short
    try:
        rc = main([a.format(dir=tmp_path) for a in argv])
    except SystemExit as stop:  # argparse's usage errors leave through SystemExit
        rc = stop.code
    out, err = capsys.readouterr()
    assert rc == status and out == "" and err.count("\n") == 1, err
    assert err.startswith(stderr.format(dir=tmp_path)), err


def test_cli_bug_keeps_its_traceback(tmp_path, monkeypatch):
    """Only the lab's own errors become one line: a bug in a command propagates (exit 1)."""
    from labsupport.protocols.itch import cli

    def broken(data, out):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_stats", broken)
    path = tmp_path / "ok.itch"
    path.write_bytes(frame([GOOD]))
    with pytest.raises(ZeroDivisionError):
        cli.main(["stats", str(path)])


def test_every_error_of_the_lab_is_a_protocol_error_with_a_docstring():
    from labsupport.protocols import ProtocolError, fix, itch

    assert issubclass(itch.ItchError, ProtocolError) and issubclass(fix.FixError, ProtocolError)
    causes = [itch.UnknownMessageType, itch.LengthMismatch, itch.TruncatedMessage,
               itch.MoldUDP64Error, itch.UnknownStockError, itch.EncodeError, fix.FramingError, fix.BodyLengthError, fix.ChecksumError, fix.GroupError,
               fix.RejectedSpansError]  # fmt: skip
    for cls in causes:  # each cause says when it is raised
        assert issubclass(cls, ProtocolError) and cls.__doc__.startswith("Raised "), cls
    with pytest.raises(ProtocolError, match="at byte offset 0"):
        list(iter_tuples(b"\x00\x03Zxy"))


def test_moldudp64_capture_with_duplicates_and_a_gap(day, tmp_path):
    """A capture with a retransmitted packet and a lost one: each message once, the gap named."""
    from labsupport.protocols.itch import MoldSequencer, iter_moldudp64_capture

    _, d = day
    tuples = list(iter_tuples(d.data))[:200]
    raws = [encode_tuple(t) for t in tuples]
    packets = [encode_moldudp64("DAY", 1 + i, raws[i : i + 20]) for i in range(0, 200, 20)]
    capture = frame(packets[:3] + packets[2:3] + packets[4:])  # packet 3 twice, packet 4 lost
    seq = MoldSequencer()
    got = [m for p in iter_moldudp64_capture(capture) for m in seq.accept(p)]
    assert got == tuples[:60] + tuples[80:]
    assert seq.gaps == [(61, 80)] and seq.duplicates == 20
    path = tmp_path / "feed.mold"
    path.write_bytes(capture)
    r = run_cli("stats", str(path), "--moldudp64")
    assert r.returncode == 0 and sum(json.loads(r.stdout).values()) == 180
    assert "sequence gap 61..80 (20 messages missing)" in r.stderr


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=30))
def test_stream_any_chunking_gives_the_same_messages(cuts):
    msgs = [encode_tuple(sample_tuple(t, i)) for i, t in enumerate(MESSAGE_TYPES)]
    data = frame(msgs)
    s, got, pos = ItchStream(), [], 0
    for c in cuts:
        s.feed(data[pos : pos + c])
        pos += c
        got.extend(s)
    s.feed(data[pos:])
    got.extend(s)
    s.close()
    assert got == [sample_tuple(t, i) for i, t in enumerate(MESSAGE_TYPES)]


# --- the generated numba gather ---------------------------------------------------------------


def test_generated_gather_kernel_matches_the_layout_table():
    from labsupport.protocols.itch import kernelgen

    assert kernelgen.main(["--check"]) == 0


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (fast extra) is not installed")
@pytest.mark.parametrize("types", [None, "AFEXDU", "S", "Z"])
def test_numba_and_numpy_gathers_agree_with_a_type_filter(day, types):
    _, d = day
    fast = decode(d.data, types=types, use_numba=True).arrays
    slow = decode(d.data, types=types, use_numba=False).arrays
    assert list(fast) == list(slow)
    for letter, arr in slow.items():
        assert fast[letter].dtype == arr.dtype and fast[letter].tobytes() == arr.tobytes(), letter


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NUMBA, reason="numba (fast extra) is not installed")
def test_gather_compiled_from_source_text_agrees(day):
    from labsupport.protocols.itch import kernelgen, vector

    _, d = day
    kernel, order = vector._compile_gather(kernelgen.source(cache=False))
    raw = np.frombuffer(d.data, dtype=np.uint8)
    offsets, codes = scan(raw)
    counts = np.bincount(codes, minlength=256)
    outs = {t: np.empty(int(counts[ord(t)]), dtype=vector.NATIVE_DTYPES[t]) for t in order}
    wanted = np.ones(256, dtype=np.bool_)
    kernel(raw, offsets, codes, wanted, *[outs[t].view(vector._KERNEL_DTYPES[t]) for t in order])
    for letter, arr in decode(d.data).arrays.items():
        assert outs[letter].tobytes() == arr.tobytes(), letter


def test_extra_layouts_teach_the_parser_and_encoder_one_more_row_then_forget_it():
    from labsupport.protocols.itch import (
        LAYOUTS,
        MESSAGE_TYPES,
        build_layout,
        encode,
        extra_layouts,
    )

    z = build_layout("Z", "Test Message", (("stock", 8, "alpha"), ("value", 4, "int")))
    assert z.size == 23 and z.fields[-1].offset == 19
    with extra_layouts(z):
        raw = encode("Z", stock_locate=2, timestamp=5, stock="ACME", value=7)
        assert list(iter_tuples(frame([raw]))) == [("Z", 2, 0, 5, b"ACME    ", 7)]
    assert tuple(LAYOUTS) == MESSAGE_TYPES
    with pytest.raises(UnknownMessageType):
        list(iter_tuples(frame([raw])))
    with pytest.raises(ValueError, match="already exist"), extra_layouts(build_layout("A", "Clash", ())):
        pass
    assert LAYOUTS["A"].title.startswith("Add Order")
