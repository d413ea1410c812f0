"""Lab 13, FIX 4.4: checksum and BodyLength, groups, stream resync, simplefix, gateway, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.protocols.fix import (
    BodyLengthError,
    ChecksumError,
    FixError,
    FixMessage,
    FixReject,
    FixStream,
    FramingError,
    GroupError,
    checksum,
    encode,
    parse,
)

simplefix = pytest.importorskip("simplefix", reason="simplefix (peers extra) is not installed")

NOS = encode("D", [(49, "CLIENT"), (56, "EXCH"), (34, 7), (11, "ORD1"), (55, "ACME"), (54, 1),
                   (38, 100), (40, 2), (44, Decimal("187.42"))])  # fmt: skip


def test_body_length_and_checksum_by_hand():
    body = b"35=0\x0149=A\x0156=B\x0134=1\x01"
    msg = encode("0", [(49, "A"), (56, "B"), (34, 1)])
    assert msg.startswith(b"8=FIX.4.4\x019=%d\x01" % len(body) + body)
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    assert msg.endswith(b"10=%03d\x01" % (sum(head + body) % 256))
    assert checksum(head + body) == sum(head + body) % 256
    assert parse(msg).msg_type == "0"


def test_typed_accessors():
    m = parse(NOS)
    assert (m.msg_type, m.cl_ord_id, m.symbol, m.side, m.ord_type) == ("D", "ORD1", "ACME", "1", "2")
    assert m.order_qty == 100 and m.price == Decimal("187.42") and m.msg_seq_num == 7
    assert m.get(9999) is None and m.get_int(9999, -1) == -1 and 55 in m


@pytest.mark.parametrize(
    "mutate,error",
    [
        (lambda b: b.replace(b"ACME", b"ACMF"), ChecksumError),
        (lambda b: b.replace(b"9=", b"9=1", 1), BodyLengthError),
        (lambda b: b[:-7] + b"10=1\x01", ChecksumError),
        (lambda b: b.replace(b"\x0135=D", b"\x0149=X\x0135=D", 1), FramingError),
        (lambda b: b[:-1], FramingError),
        (lambda b: b"9" + b[1:], FramingError),
        (lambda b: b.replace(b"55=ACME", b"55ACME"), FramingError),
    ],
    ids=["checksum", "bodylength", "short-checksum", "35-not-third", "no-final-soh", "no-begin", "no-equals"],
)
def test_validation_rules(mutate, error):
    with pytest.raises(error) as exc:
        parse(mutate(NOS))
    assert isinstance(exc.value, FixError) and exc.value.offset >= 0


def test_checksum_error_names_the_trailer_offset():
    bad = NOS.replace(b"ACME", b"ACMF")
    with pytest.raises(ChecksumError) as exc:
        parse(bad, offset=1000)
    assert exc.value.offset == 1000 + bad.rindex(b"10=")


# --- repeating groups ----------------------------------------------------------------------------


def test_party_ids_with_nested_sub_ids():
    m = parse(encode("D", [(11, "A"), (453, 2), (448, "P1"), (447, "D"), (452, 1), (802, 2), (523, "S1"),
                           (803, 1), (523, "S2"), (803, 2), (448, "P2"), (447, "D"), (452, 3), (55, "X")]))  # fmt: skip
    parties = m.group(453)
    assert [p.get(448) for p in parties] == ["P1", "P2"]
    assert [s.get(523) for s in parties[0].groups[802]] == ["S1", "S2"]
    assert parties[1].groups == {} and m.symbol == "X"


def test_md_snapshot_and_incremental_groups():
    w = parse(encode("W", [(55, "ACME"), (268, 2), (269, 0), (270, "187.41"), (271, 500), (269, 1), (270, "187.43"), (271, 300)]))
    assert [(e.get(269), e.get(270), e.get(271)) for e in w.group(268)] == [("0", "187.41", "500"), ("1", "187.43", "300")]
    x = parse(encode("X", [(268, 2), (279, 0), (269, 0), (55, "ACME"), (270, "1.5"), (279, 2), (269, 1), (55, "BOLT"), (270, "2")]))
    assert [(e.get(279), e.get(55)) for e in x.group(268)] == [("0", "ACME"), ("2", "BOLT")]
    assert parse(NOS).group(453) == []


def test_group_count_mismatch_is_an_error():
    m = parse(encode("W", [(55, "ACME"), (268, 3), (269, 0), (270, "1"), (269, 1), (270, "2")]))
    with pytest.raises(GroupError, match="entry 3 of 3"):
        m.group(268)


# --- stream and resync -----------------------------------------------------------------------------


def session(n: int) -> list[bytes]:
    return [encode("D", [(49, "C"), (56, "E"), (34, i), (11, f"O{i}"), (55, "ACME"), (54, 1 + i % 2), (38, 100 + i)])
            for i in range(1, n + 1)]  # fmt: skip


def test_stream_byte_by_byte_equals_whole():
    msgs = session(20)
    s = FixStream()
    got = []
    for b in b"".join(msgs):
        s.feed(bytes([b]))
        got.extend(s)
    assert [g.encode() if isinstance(g, FixMessage) else g for g in got] == msgs
    assert s.pending == 0 and s.close() is None


@pytest.mark.parametrize("where", ["checksum", "bodylength", "garbage", "truncated"])
def test_resync_after_corruption(where):
    msgs = session(10)
    bad = {
        "checksum": msgs[4].replace(b"ACME", b"ACMX"),
        "bodylength": msgs[4].replace(b"9=", b"9=9", 1),
        "garbage": b"\x00\xffnoise" + msgs[4],
        "truncated": msgs[4][:25],
    }[where]
    data = b"".join(msgs[:4]) + bad + b"".join(msgs[5:])
    s = FixStream()
    s.feed(data)
    out = list(s)
    good = [m for m in out if isinstance(m, FixMessage)]
    rejects = [m for m in out if isinstance(m, FixReject)]
    expected = msgs[:4] + ([msgs[4]] if where == "garbage" else []) + msgs[5:]
    assert [m.encode() for m in good] == expected
    start = len(b"".join(msgs[:4]))
    assert len(rejects) == 1 and start <= rejects[0].offset < start + len(bad)
    # nothing lost: every byte is in a message or a reject
    assert sum(len(m.encode()) for m in good) + sum(len(r.raw) for r in rejects) == len(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 3))
def test_arbitrary_bytes_never_escape_the_stream(noise, pos):
    msgs = session(4)
    data = b"".join(msgs[:pos]) + noise + b"".join(msgs[pos:])
    s = FixStream()
    s.feed(data)
    out = list(s)
    tail = s.close()
    if tail:
        out.append(tail)
    total = sum(len(m.encode()) if isinstance(m, FixMessage) else len(m.raw) for m in out)
    assert total == len(data)
    assert all(m.encode() in msgs for m in out if isinstance(m, FixMessage))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_raises_only_fix_errors(data):
    try:
        m = parse(b"8=FIX.4.4\x01" + data)
    except FixError as exc:
        assert exc.offset >= 0
    else:  # accepted only if it really is a valid message
        assert m.fields[0] == (8, b"FIX.4.4") and m.fields[1][0] == 9 and m.fields[-1][0] == 10


# --- simplefix as an independent implementation ------------------------------------------------


# Length-prefixed "data" field pairs (95/96, 212/213...) follow other rules; leave them out.
_RAW_TAGS = set(simplefix.FixParser().raw_len_tags) | set(simplefix.FixParser().raw_data_tags)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(11, 9999).filter(lambda t: t not in (8, 9, 10, 35) and t not in _RAW_TAGS),
                          st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:", min_size=1, max_size=12)),
                max_size=15))  # fmt: skip
def test_roundtrip_against_simplefix(fields):
    ours = encode("D", fields)
    p = simplefix.FixParser()
    p.append_buffer(ours)
    theirs = p.get_message()
    assert [(int(t), v) for t, v in theirs.pairs] == parse(ours).fields
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.4")
    m.append_pair(35, "D")
    for t, v in fields:
        m.append_pair(t, v)
    raw = m.encode()
    assert raw == ours and parse(raw).fields[3:-1] == [(t, v.encode()) for t, v in fields]


# --- gateway: FIX order entry into Lab 02's engine ---------------------------------------------------


def _replay(n_events: int, seed: int):
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow
    from labsupport.orderbook import MatchingEngine, Recorder
    from labsupport.protocols.fix.engine import FixGateway, FlowClient

    flow = generate_order_flow(OrderFlowConfig(n_events=n_events, n_symbols=2, seed=seed))
    rows = flow.events[["seq", "symbol", "action", "order_id", "side", "type", "price_ticks", "qty", "account"]].tolist()
    rec = Recorder()
    MatchingEngine(pnl=False, listener=rec).process_rows([(r[0], flow.symbols[r[1]]) + r[2:] for r in rows])
    gw, client = FixGateway(), FlowClient(flow.symbols)
    answers = []
    for r in rows:
        for a in gw.on_message(client.to_fix(r)):
            answers.append(client.on_answer(a))
    return rec, gw, answers


@pytest.mark.parametrize("seed", [3, 7])
def test_fix_replay_gives_lab02_trades(seed):
    rec, gw, answers = _replay(4000, seed)
    root = {oid: int(o.first_cl_ord_id[1:]) for oid, o in gw.orders.items()}
    via_fix = [(t.seq, t.symbol, t.price_ticks, t.qty, root[t.aggressor_id], root[t.resting_id], t.aggressor_side)
               for t in gw.recorder.trades]  # fmt: skip
    direct = [(t.seq, t.symbol, t.price_ticks, t.qty, t.aggressor_id, t.resting_id, t.aggressor_side) for t in rec.trades]
    assert len(direct) > 50 and via_fix == direct
    fills = [m for m in answers if m.msg_type == "8" and m.get(150) == "F"]
    assert len(fills) == 2 * len(direct)  # one report per side of every trade
    assert sum(m.msg_type == "9" for m in answers) == len(rec.rejects)


def test_gateway_answers_scenario():
    from labsupport.protocols.fix.engine import FixGateway

    gw = FixGateway()
    h = [(49, "C"), (56, "EXCH")]
    sell = gw.on_message(encode("D", h + [(34, 1), (11, "S1"), (55, "X"), (54, 2), (38, 100), (40, 2), (44, "10.00")]))
    assert [(parse(a).get(150), parse(a).get(39)) for a in sell] == [("0", "0")]
    buy = [parse(a) for a in gw.on_message(encode("D", h + [(34, 2), (11, "B1"), (55, "X"), (54, 1), (38, 40), (40, 1)]))]
    assert [(m.cl_ord_id, m.get(150), m.get(39), m.get(32), m.get(31), m.get(151)) for m in buy] == [
        ("S1", "F", "1", "40", "10.00", "60"), ("B1", "F", "2", "40", "10.00", "0")]
    rep = [parse(a) for a in gw.on_message(encode("G", h + [(34, 3), (41, "S1"), (11, "S2"), (55, "X"), (54, 2), (38, 90), (40, 2), (44, "10.5")]))]
    assert [(m.get(150), m.get(151), m.get(41), m.get(14)) for m in rep] == [("5", "50", "S1", "40")]
    cxl = [parse(a) for a in gw.on_message(encode("F", h + [(34, 4), (41, "S2"), (11, "S3"), (55, "X"), (54, 2)]))]
    assert [(m.msg_type, m.get(150), m.get(39), m.cl_ord_id) for m in cxl] == [("8", "4", "4", "S3")]
    again = [parse(a) for a in gw.on_message(encode("F", h + [(34, 5), (41, "S3"), (11, "S4"), (55, "X"), (54, 2)]))]
    assert [(m.msg_type, m.get(434), m.get(58)) for m in again] == [("9", "1", "order not live")]
    unknown = [parse(a) for a in gw.on_message(encode("F", h + [(34, 6), (41, "NOPE"), (11, "S5"), (55, "X"), (54, 2)]))]
    assert unknown[0].msg_type == "9" and unknown[0].get(58) == "unknown OrigClOrdID"


# --- command line --------------------------------------------------------------------------------


def test_cli_dump_reports_and_continues(tmp_path):
    msgs = session(3)
    path = tmp_path / "s.fix"
    path.write_bytes(msgs[0] + msgs[1].replace(b"ACME", b"ACMQ") + msgs[2])
    r = subprocess.run([sys.executable, "-m", "labsupport.protocols.fix", "dump", str(path)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.returncode == 2 and len(lines) == 3
    assert lines[0]["fields"][:3] == [[8, "FIX.4.4"], [9, str(len(msgs[0]) - msgs[0].index(b"35=") - 7)], [35, "D"]]
    assert lines[1] == {"error": lines[1]["error"], "offset": len(msgs[0]) + msgs[1].rindex(b"10=")}
    assert "CheckSum" in lines[1]["error"] and lines[2]["fields"][6] == [11, "O3"]
    assert r.stderr == (f"{FIX_ERROR}{path}: 1 rejected span, the first at byte offset "
                        f"{lines[1]['offset']}: {lines[1]['error']}\n")
    r = subprocess.run([sys.executable, "-m", "labsupport.protocols.fix", "dump", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"{FIX_ERROR}{tmp_path / 'missing'}: No such file or directory\n"


FIX_ERROR = "python -m labsupport.protocols.fix: error: "


def test_cli_clean_file_exits_0_and_bad_argument_exits_2(tmp_path, capsys):
    from labsupport.protocols.fix.cli import main

    path = tmp_path / "s.fix"
    path.write_bytes(b"".join(session(2)))
    assert main(["dump", str(path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and err == ""
    with pytest.raises(SystemExit) as stop:
        main(["dump"])
    _, err = capsys.readouterr()
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err.startswith("python -m labsupport.protocols.fix dump: error: the following arguments are required: file")


def test_cli_bug_keeps_its_traceback(tmp_path, monkeypatch):
    from labsupport.protocols.fix import cli

    def broken(data, out):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "dump", broken)
    path = tmp_path / "s.fix"
    path.write_bytes(b"".join(session(1)))
    with pytest.raises(ZeroDivisionError):
        cli.main(["dump", str(path)])


def test_gateway_rejects_bad_new_orders():
    from labsupport.protocols.fix.engine import FixGateway

    gw = FixGateway()
    h = [(49, "C"), (56, "EXCH")]
    sub_cent = [parse(a) for a in gw.on_message(encode("D", h + [(34, 1), (11, "X1"), (55, "X"), (54, 1), (38, 10), (40, 2), (44, "10.001")]))]
    assert [(m.get(150), m.get(39), m.get(58)) for m in sub_cent] == [("8", "8", "invalid price or order type")]
    fok = [parse(a) for a in gw.on_message(encode("D", h + [(34, 2), (11, "X2"), (55, "X"), (54, 1), (38, 10), (40, 2), (44, "10"), (59, 4)]))]
    assert [(m.get(150), m.get(58)) for m in fok] == [("8", "fok not fillable")]
    assert gw.recorder.trades == []
    with pytest.raises(ValueError, match="without a listener"):
        from labsupport.orderbook import MatchingEngine, Recorder

        FixGateway(MatchingEngine(listener=Recorder()))
