"""The replay command line: CSV formats, text and int ids, round trips, malformed rows naming
file, line and field, and the one CLI convention (exit 2 with one line for bad input)."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.orderbook import (
    BUY,
    LIMIT,
    SELL,
    EventFormatError,
    MatchingEngine,
    Recorder,
    ReferenceEngine,
)
from labsupport.orderbook.__main__ import main
from labsupport.orderbook.csvio import (
    EVENT_HEADER,
    format_money,
    format_price,
    parse_id,
    parse_price,
    read_events,
    write_events,
)
from labsupport.orderbook.scenarios import random_stream

HEADER = EVENT_HEADER + "\n"


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("text, ticks", [("187.42", 18742), ("187.4", 18740), ("187", 18700),
                                         ("0.01", 1), ("-1.50", -150), ("0", 0)])
def test_parse_price(text, ticks):
    assert parse_price(text) == ticks


@pytest.mark.parametrize("text, msg", [("1.234", "finer than the 0.01 tick"),
                                       ("abc", "not a decimal"), ("1e3", "not a decimal"),
                                       ("", "not a decimal")])
def test_parse_price_errors(text, msg):
    with pytest.raises(ValueError, match=msg):
        parse_price(text)


def test_format_money_rounds_half_even_exactly():
    assert format_price(18742) == "187.42" and format_price(-5) == "-0.05"
    assert format_money(Fraction(302, 3)) == "1.006667"
    assert format_money(-250) == "-2.500000"


def test_event_csv_round_trip(tmp_path):
    events = [e for e in random_stream(3, 300) if e.symbol is not None and e.side != 0
              and e.type in (0, 1, 2, 3) and (e.type == 1) == (e.price_ticks == 0)]
    path = tmp_path / "events.csv"
    with open(path, "w", newline="") as f:
        write_events(events, f)
    with open(path, newline="") as f:
        back = list(read_events(f))
    assert back == events


def test_replay_matches_reference(tmp_path):
    events = [e for e in random_stream(5, 500) if e.symbol is not None and e.side != 0
              and e.type in (0, 1, 2, 3) and (e.type == 1) == (e.price_ticks == 0)]
    src = tmp_path / "events.csv"
    with open(src, "w", newline="") as f:
        write_events(events, f)
    assert main(["replay", str(src), "--out", str(tmp_path / "out")]) == 0
    ref = ReferenceEngine()
    for e in events:
        ref.process(e)
    got = rows(tmp_path / "out" / "trades.csv")
    assert got[0] == ["seq", "symbol", "price", "qty", "aggressor_id", "resting_id", "aggressor_side"]
    assert got[1:] == [[str(t.seq), t.symbol, format_price(t.price_ticks), str(t.qty),
                        str(t.aggressor_id), str(t.resting_id),
                        "buy" if t.aggressor_side > 0 else "sell"] for t in ref.trades]
    rej = rows(tmp_path / "out" / "rejects.csv")
    assert rej[0] == ["seq", "order_id", "reason"]
    assert rej[1:] == [[str(r.seq), str(r.order_id), r.reason] for r in ref.rejects]
    depth = rows(tmp_path / "out" / "depth.csv")
    assert depth[0] == ["symbol", "side", "level", "price", "qty", "orders"]
    want = []
    for s in dict.fromkeys(e.symbol for e in events if e.action == 0):
        for side, name in ((1, "buy"), (-1, "sell")):
            for i, lv in enumerate(ref.depth(s, side), 1):
                want.append([s, name, str(i), format_price(lv.price_ticks), str(lv.qty),
                             str(lv.orders)])
    assert sorted(depth[1:]) == sorted(want)
    pnl = rows(tmp_path / "out" / "pnl.csv")
    assert pnl[0] == ["account", "symbol", "position", "avg_price", "realized_pnl", "unrealized_pnl", "mark"]
    assert [(r[0], r[1], r[2], r[4]) for r in pnl[1:]] == [
        (str(v.account), v.symbol, str(v.position), format_money(v.realized_pnl_ticks))
        for v in ref.pnl()]


def test_replay_of_generated_flow_equals_direct_engine(tmp_path):
    md = pytest.importorskip("labsupport.marketdata")
    flow = md.generate_order_flow(md.OrderFlowConfig(n_events=5000, n_symbols=2, seed=3))
    md.write_events_csv(flow, tmp_path / "ev.csv")
    assert main(["replay", str(tmp_path / "ev.csv"), "--out", str(tmp_path / "o")]) == 0
    rec = Recorder()
    eng = MatchingEngine(listener=rec)
    eng.process_array(flow.events, symbols=flow.symbols)
    assert len(rows(tmp_path / "o" / "trades.csv")) - 1 == len(rec.trades) > 0
    assert len(rows(tmp_path / "o" / "rejects.csv")) - 1 == len(rec.rejects)
    depth = rows(tmp_path / "o" / "depth.csv")[1:]
    assert sum(int(r[4]) for r in depth) == sum(o.qty for s in eng.symbols for o in eng.l3(s))


GOOD = "1,X,add,1,buy,limit,10.00,5,1\n"
PROG = "python -m labsupport.orderbook: error: "


@pytest.mark.parametrize("bad, field, msg", [
    ("2,X,add,2,buy,limit,10.00,5\n", None, "expected 9 fields, found 8"),
    ("2,X,add,2,buy,limit,10.001,5,1\n", "price", "finer than the 0.01 tick"),
    ("2,X,add,2,buy,limit,ten,5,1\n", "price", "is not a decimal number"),
    ("2,X,add,2,up,limit,10.00,5,1\n", "side", "side 'up' is not buy or sell"),
    ("2,X,add,2,buy,stop,10.00,5,1\n", "type", "type 'stop' is not limit, market, ioc or fok"),
    ("2,X,delete,2,,,,,\n", "action", "action 'delete' is not add, cancel or modify"),
    ("x,X,add,2,buy,limit,10.00,5,1\n", "seq", "seq 'x' is not an integer"),
    ("2,X,add,2,buy,limit,10.00,5.5,1\n", "qty", "qty '5.5' is not an integer"),
    ("2,X,add,2,buy,market,10.00,5,1\n", "price", "a market order has no price"),
    ("2,X,add,2,buy,ioc,,5,1\n", "price", "price is required for ioc orders"),
    ("2,X,modify,1,,,,5,\n", "price", "modify needs the new price and the new quantity"),
    ("2,,cancel,1,,,,,\n", "symbol", "symbol is empty"),
    ("2,X,cancel,,,,,,\n", "order_id", "order_id is empty"),
    ('2,X,cancel,"o,1",,,,,\n', "order_id", "order_id 'o,1' is not a token"),
    ('2,X,add,"o 2",buy,limit,10.00,5,1\n', "order_id", "order_id 'o 2' is not a token"),
    ("2,X,add,o2,buy,limit,10.00,5,a\x01\n", "account", "account 'a\\x01' is not a token"),
    ('2,X,add,o2,buy,limit,10.00,5,"acc 3"\n', "account", "account 'acc 3' is not a token"),
])
def test_malformed_row_stops_naming_file_line_and_field(tmp_path, capsys, bad, field, msg):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + GOOD + bad + GOOD.replace("1,X", "3,X", 1))
    out = tmp_path / "out"
    assert main(["replay", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    where = f"e.csv, line 3, field {field}: " if field else "e.csv, line 3: "
    assert err.startswith(PROG) and where in err and msg in err and err.count("\n") == 1, err
    assert not out.exists()  # nothing half-written


def test_bytes_that_are_not_utf8_are_reported_with_their_line(tmp_path, capsys):
    src = tmp_path / "e.csv"
    src.write_bytes((HEADER + GOOD).encode() + b"2,X,add,o\xff,buy,limit,10.00,5,1\n")
    assert main(["replay", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "e.csv, line 3: byte 10 of the line is not UTF-8" in err and err.count("\n") == 1


def test_bad_header_missing_file_and_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    src = tmp_path / "e.csv"
    src.write_text("seq,symbol,action\n" + GOOD)
    assert main(["replay", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "e.csv, line 1: header must be" in err and err.count("\n") == 1
    assert main(["replay", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == f"{PROG}{tmp_path / 'nope.csv'}: No such file or directory\n"
    src.write_text(HEADER + GOOD)
    for argv, what in ((["--fee-per-share", "abc"], "'abc' is not a decimal number"),
                       (["--fee-per-share", "-0.01"], "'-0.01' is negative"),
                       (["--ladder", "btree"], "invalid choice: 'btree'")):
        with pytest.raises(SystemExit) as exc:
            main(["replay", str(src), "--out", str(tmp_path / "o"), *argv])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert what in err and err.count("\n") == 1 and "--help" in err, err
    assert not (tmp_path / "o").exists()


# --- text ids: FIX ClOrdIDs and account codes are strings ----------------------------------
def textual(events):
    """The same events with every order id and account as text (``o17``, ``acc3``)."""
    return [replace(e, order_id=f"o{e.order_id}",
                    account=f"acc{e.account}" if e.action == 0 else 0) for e in events]


def clean_stream(seed, n):
    """A random stream whose every event can be written to (and read back from) the CSV."""
    return [e for e in random_stream(seed, n) if e.symbol is not None and e.side != 0
            and e.type in (0, 1, 2, 3) and (e.type == 1) == (e.price_ticks == 0)]


def test_parse_id_keeps_ints_fast_and_text_as_given():
    assert parse_id("12") == 12 and parse_id("0") == 0
    for token in ("o1", "007", "-3", "ABC-20260101-7", "acc3", "+1", "ÄÖ"):
        assert parse_id(token) == token
    for bad in ("", "a,b", "a b", 'a"b', "a\tb", "a\x00"):
        with pytest.raises(ValueError):
            parse_id(bad)


def test_event_csv_round_trip_with_text_ids(tmp_path):
    events = textual(clean_stream(3, 300))
    events[0] = replace(events[0], order_id="ABC-20260101-7")  # an id with dashes and digits
    path = tmp_path / "events.csv"
    with open(path, "w", newline="") as f:
        write_events(events, f)
    with open(path, newline="") as f:
        back = list(read_events(f))
    assert back == events
    assert all(isinstance(e.order_id, str) for e in back)


def test_cli_replay_of_text_ids_echoes_them(tmp_path):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + "1,X,add,o1,buy,limit,10.00,5,acc3\n"
                   "2,X,add,007,sell,limit,10.00,3,desk-A\n"
                   "3,X,cancel,o9,,,,,\n"
                   "4,X,add,12,sell,limit,10.00,1,4\n"
                   "5,X,cancel,o1,,,,,\n"
                   "6,X,cancel,o1,,,,,\n")
    r = subprocess.run([sys.executable, "-m", "labsupport.orderbook", "replay", str(src),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "events=6 trades=2 rejects=2 live_orders=0"
    assert rows(tmp_path / "o" / "trades.csv")[1:] == [
        ["2", "X", "10.00", "3", "007", "o1", "sell"], ["4", "X", "10.00", "1", "12", "o1", "sell"]]
    assert rows(tmp_path / "o" / "rejects.csv")[1:] == [
        ["3", "o9", "unknown order id"], ["6", "o1", "order not live"]]
    assert [r[:3] for r in rows(tmp_path / "o" / "pnl.csv")[1:]] == [
        ["4", "X", "-1"], ["acc3", "X", "4"], ["desk-A", "X", "-3"]]  # int codes first


@pytest.mark.parametrize("seed", range(3))
def test_text_ids_replay_like_the_reference_and_like_int_ids(tmp_path, seed):
    """Differential: the CLI on a text-id file against the reference fed the same text events,
    and the same flow with int ids gives the same trades with ``o`` prefixed to every id."""
    ints = clean_stream(seed, 500)
    events = textual(ints)
    src = tmp_path / "events.csv"
    with open(src, "w", newline="") as f:
        write_events(events, f)
    assert main(["replay", str(src), "--out", str(tmp_path / "out"), "--fee-per-share",
                 "0.01"]) == 0
    ref = ReferenceEngine(fee_per_share_ticks=1)
    for e in events:
        ref.process(e)
    assert ref.trades
    got = rows(tmp_path / "out" / "trades.csv")[1:]
    assert got == [[str(t.seq), t.symbol, format_price(t.price_ticks), str(t.qty),
                    t.aggressor_id, t.resting_id, "buy" if t.aggressor_side > 0 else "sell"]
                   for t in ref.trades]
    assert rows(tmp_path / "out" / "rejects.csv")[1:] == [[str(r.seq), r.order_id, r.reason]
                                                         for r in ref.rejects]
    assert [(r[0], r[1], r[2], r[4]) for r in rows(tmp_path / "out" / "pnl.csv")[1:]] == [
        (v.account, v.symbol, str(v.position), format_money(v.realized_pnl_ticks))
        for v in ref.pnl()]
    rec = Recorder()
    eng = MatchingEngine(listener=rec, fee_per_share_ticks=1)
    for e in ints:
        eng.process(e)
    assert [f"o{t.aggressor_id} o{t.resting_id} {t.qty}@{t.price_ticks}" for t in rec.trades] \
        == [f"{t.aggressor_id} {t.resting_id} {t.qty}@{t.price_ticks}" for t in ref.trades]


def test_outputs_of_a_text_id_replay_read_back_and_replay_identically(tmp_path):
    """Round trip of the outputs: trades.csv parsed back names the orders of the input, and a
    second replay of the same file writes the same bytes."""
    events = textual(clean_stream(4, 400))
    src = tmp_path / "events.csv"
    with open(src, "w", newline="") as f:
        write_events(events, f)
    for out in ("a", "b"):
        assert main(["replay", str(src), "--out", str(tmp_path / out)]) == 0
    ids = {e.order_id for e in events}
    trades = rows(tmp_path / "a" / "trades.csv")[1:]
    assert trades and all(t[4] in ids and t[5] in ids for t in trades)
    accounts = {e.account for e in events if e.action == 0}
    assert {r[0] for r in rows(tmp_path / "a" / "pnl.csv")[1:]} <= accounts
    for name in ("trades", "rejects", "depth", "pnl"):
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == \
            (tmp_path / "b" / f"{name}.csv").read_bytes()


def test_engine_api_takes_text_and_int_ids_side_by_side():
    rec = Recorder()
    eng = MatchingEngine(listener=rec)
    assert eng.add("X", "o1", SELL, LIMIT, 100, 5, account="acc1") == 5
    assert eng.add("X", 1, SELL, LIMIT, 100, 5, account=2) == 5  # 1 and "o1" are two orders
    assert eng.add("X", "o1", BUY, LIMIT, 90, 1) == -1  # duplicate, even though dead later
    assert eng.add("X", "b7", BUY, LIMIT, 100, 7, account="acc9") == 0
    assert [(t.resting_id, t.qty) for t in rec.trades] == [("o1", 5), (1, 2)]
    assert eng.modify(1, 100, 1) == 1 and eng.cancel(1) and not eng.cancel("o1")
    assert [(r.order_id, r.reason) for r in rec.rejects] == [
        ("o1", "duplicate order id"), ("o1", "order not live")]
    assert [(v.account, v.position) for v in eng.pnl()] == [(2, -2), ("acc1", -5), ("acc9", 7)]
    assert eng.best_bid_ask("X") == (None, None) and eng.best_bid_ask("nope") == (None, None)


def test_business_rejects_are_not_errors(tmp_path):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + GOOD + "2,X,add,2,buy,limit,0.00,5,1\n3,X,cancel,77,,,,,\n"
                   "4,X,add,3,sell,limit,10.00,0,1\n")
    assert main(["replay", str(src), "--out", str(tmp_path / "o")]) == 0
    assert rows(tmp_path / "o" / "rejects.csv")[1:] == [
        ["2", "2", "invalid price"], ["3", "77", "unknown order id"], ["4", "3", "invalid quantity"]]


def test_cli_as_a_process(tmp_path):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + GOOD + "2,X,add,2,sell,market,,3,2\n")
    r = subprocess.run([sys.executable, "-m", "labsupport.orderbook", "replay", str(src),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "events=2 trades=1 rejects=0 live_orders=1"
    assert rows(tmp_path / "o" / "trades.csv")[1] == ["2", "X", "10.00", "3", "2", "1", "sell"]
    assert rows(tmp_path / "o" / "pnl.csv")[1:] == [
        ["1", "X", "3", "10.000000", "0.000000", "0.000000", "10.00"],
        ["2", "X", "-3", "10.000000", "0.000000", "0.000000", "10.00"]]
    h = subprocess.run([sys.executable, "-m", "labsupport.orderbook", "replay", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert h.returncode == 0 and "--out" in h.stdout


def test_committed_sample_is_the_scripted_scenario(tmp_path):
    from pathlib import Path

    from labsupport.orderbook.scenarios import SCRIPT

    sample = Path(__file__).resolve().parent.parent / "data" / "orderbook" / "scenario_events.csv"
    with open(sample, newline="") as f:
        assert list(read_events(f)) == [e for e, _ in SCRIPT]
    assert main(["replay", str(sample), "--out", str(tmp_path)]) == 0
    assert len(rows(tmp_path / "trades.csv")) == 7 and len(rows(tmp_path / "rejects.csv")) == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.sampled_from(
    ["1", "o1", "", "buy", "add", "cancel", "modify", "limit", "market", "10.00", "x", '"', ",",
     "\n", "\r", "\x00", "é", " "]), max_size=30))
def test_the_reader_raises_only_its_own_error_on_arbitrary_input(raw, tokens):
    """Whatever follows a valid header (random bytes, or fragments of rows), read_events either
    parses it or raises EventFormatError with a line number; nothing else escapes."""
    import io

    for body in (raw, ",".join(tokens).encode()):
        try:
            for e in read_events(io.BytesIO(HEADER.encode() + body)):
                assert isinstance(e.order_id, int | str) and e.order_id != ""
        except EventFormatError as exc:
            assert exc.line >= 2 and str(exc).startswith(f"line {exc.line}")


@pytest.mark.parametrize("engine", ["numba", "cython"])
def test_replay_with_a_compiled_engine_writes_the_same_four_files(tmp_path, engine):
    """``--engine numba|cython``: Lab 11's compiled engines write byte-identical files, on the
    committed scenario (text accounts) and on a stream with text ids and every kind of reject."""
    from pathlib import Path

    from labsupport.orderbook.scenarios import with_text_ids

    sample = Path(__file__).resolve().parent.parent / "data" / "orderbook" / "scenario_events.csv"
    events = [e for e in random_stream(8, 800) if e.symbol is not None and e.side != 0
              and e.type in (0, 1, 2, 3) and (e.type == 1) == (e.price_ticks == 0)]
    text = tmp_path / "text.csv"
    with open(text, "w", newline="") as f:
        write_events(with_text_ids(events, prefix="T-"), f)
    for src in (sample, text):
        out = {}
        for kind in ("python", engine):
            d = tmp_path / f"{src.stem}-{kind}"
            args = ["replay", str(src), "--out", str(d), "--fee-per-share", "0.01"]
            assert main(args + ["--engine", kind]) == 0
            out[kind] = {n: (d / n).read_bytes() for n in ("trades.csv", "rejects.csv",
                                                           "depth.csv", "pnl.csv")}
        assert out[engine] == out["python"]
        assert out["python"]["trades.csv"].count(b"\n") > 1


def test_replay_engine_choice_is_checked(capsys, tmp_path):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + GOOD)
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(src), "--out", str(tmp_path / "o"), "--engine", "rust"])
    assert exc.value.code == 2 and "--engine" in capsys.readouterr().err


def test_replay_says_how_to_build_a_missing_extension(capsys, tmp_path, monkeypatch):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + GOOD)
    monkeypatch.setitem(sys.modules, "labsupport.fastbook._cyengine", None)  # import fails
    assert main(["replay", str(src), "--out", str(tmp_path / "o"), "--engine", "cython"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e ." in err
