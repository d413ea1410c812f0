"""The replay command line: CSV formats, round trips, malformed rows with line numbers."""

from __future__ import annotations

import csv
import subprocess
import sys
from fractions import Fraction

import pytest

from labsupport.orderbook import MatchingEngine, Recorder, ReferenceEngine
from labsupport.orderbook.__main__ import main
from labsupport.orderbook.csvio import (
    EVENT_HEADER,
    format_money,
    format_price,
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


@pytest.mark.parametrize("bad, msg", [
    ("2,X,add,2,buy,limit,10.00,5\n", "expected 9 fields, found 8"),
    ("2,X,add,2,buy,limit,10.001,5,1\n", "finer than the 0.01 tick"),
    ("2,X,add,2,buy,limit,ten,5,1\n", "is not a decimal number"),
    ("2,X,add,2,up,limit,10.00,5,1\n", "side 'up' is not buy or sell"),
    ("2,X,add,2,buy,stop,10.00,5,1\n", "type 'stop' is not limit, market, ioc or fok"),
    ("2,X,delete,2,,,,,\n", "action 'delete' is not add, cancel or modify"),
    ("x,X,add,2,buy,limit,10.00,5,1\n", "seq 'x' is not an integer"),
    ("2,X,add,2,buy,limit,10.00,5.5,1\n", "qty '5.5' is not an integer"),
    ("2,X,add,2,buy,market,10.00,5,1\n", "a market order has no price"),
    ("2,X,add,2,buy,ioc,,5,1\n", "price is required for ioc orders"),
    ("2,X,modify,1,,,,5,\n", "modify needs the new price and the new quantity"),
    ("2,,cancel,1,,,,,\n", "symbol is empty"),
])
def test_malformed_row_stops_with_line_number(tmp_path, capsys, bad, msg):
    src = tmp_path / "e.csv"
    src.write_text(HEADER + GOOD + bad + GOOD.replace("1,X", "3,X", 1))
    out = tmp_path / "out"
    assert main(["replay", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "e.csv:3: " in err and msg in err and err.count("\n") == 1
    assert not out.exists()  # nothing half-written


def test_bad_header_and_missing_file(tmp_path, capsys):
    src = tmp_path / "e.csv"
    src.write_text("seq,symbol,action\n" + GOOD)
    assert main(["replay", str(src), "--out", str(tmp_path / "o")]) == 2
    assert "e.csv:1: header must be" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "No such file" in capsys.readouterr().err


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
