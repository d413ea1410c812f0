"""Views and files of the synthetic market data: DataFrames, the event CSV, Parquet, plots."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from labsupport.marketdata import (
    ADD,
    CANCEL,
    CSV_HEADER,
    MARKET,
    MODIFY,
    OrderFlowConfig,
    generate_order_flow,
    read_parquet,
    write_events_csv,
    write_parquet,
)
from labsupport.marketdata.io import format_price
from labsupport.marketdata.stats import flow_statistics, plot_flow

matplotlib.use("Agg")

CFG = OrderFlowConfig(n_events=20_000, n_symbols=3, seed=99)

ROW_PATTERNS = {
    "add": re.compile(r"^\d+,[A-Z]{4},add,\d+,(buy|sell),(limit|ioc|fok),\d+\.\d\d,\d+,\d+$"),
    "add-market": re.compile(r"^\d+,[A-Z]{4},add,\d+,(buy|sell),market,,\d+,\d+$"),
    "cancel": re.compile(r"^\d+,[A-Z]{4},cancel,\d+,,,,,$"),
    "modify": re.compile(r"^\d+,[A-Z]{4},modify,\d+,,,\d+\.\d\d,\d+,$"),
}


@pytest.fixture(scope="module")
def flow():
    return generate_order_flow(CFG)


@pytest.fixture(scope="module")
def csv_path(flow, tmp_path_factory):
    path = tmp_path_factory.mktemp("md") / "events.csv"
    assert write_events_csv(flow, path) == CFG.n_events
    return path


def expected_row(flow, i: int) -> str:
    """The CSV row of event i, built the slow obvious way."""
    e = flow.events[i]
    sym = flow.symbols[e["symbol"]]
    base = f"{e['seq']},{sym},{('add', 'cancel', 'modify')[e['action']]},{e['order_id']}"
    if e["action"] == CANCEL:
        return base + ",,,,,"
    price = "" if e["price_ticks"] == 0 else f"{e['price_ticks'] // 100}.{e['price_ticks'] % 100:02d}"
    if e["action"] == MODIFY:
        return base + f",,,{price},{e['qty']},"
    side = "buy" if e["side"] == 1 else "sell"
    kind = ("limit", "market", "ioc", "fok")[e["type"]]
    return base + f",{side},{kind},{price},{e['qty']},{e['account']}"


def test_csv_header_and_every_row_format(flow, csv_path):
    lines = csv_path.read_text(encoding="ascii").split("\n")
    assert lines[0] == CSV_HEADER == "seq,symbol,action,order_id,side,type,price,qty,account"
    assert lines[-1] == "" and len(lines) == CFG.n_events + 2  # newline-terminated
    rows = lines[1:-1]
    ev = flow.events
    kinds = np.where(ev["action"] == CANCEL, "cancel", np.where(ev["action"] == MODIFY, "modify",
                     np.where(ev["type"] == MARKET, "add-market", "add")))  # fmt: skip
    for kind, pattern in ROW_PATTERNS.items():
        idx = np.flatnonzero(kinds == kind)
        assert len(idx) > 10, kind
        bad = [rows[i] for i in idx if not pattern.match(rows[i])]
        assert not bad, (kind, bad[:3])
    for i in range(0, CFG.n_events, 97):
        assert rows[i] == expected_row(flow, i)


def test_price_formatting_is_exact_integer_arithmetic():
    got = format_price(np.array([1, 10, 99, 100, 101, 18742, 4999999, 123456789]))
    assert got == ["0.01", "0.10", "0.99", "1.00", "1.01", "187.42", "49999.99",
                            "1234567.89"]  # fmt: skip


def test_csv_round_trips_through_pandas(flow, csv_path):
    df = pd.read_csv(csv_path)
    assert list(df.columns) == CSV_HEADER.split(",")
    ev = flow.events
    assert np.array_equal(df["seq"].to_numpy(), ev["seq"])
    assert np.array_equal(df["order_id"].to_numpy(), ev["order_id"])
    assert df["symbol"].tolist() == [flow.symbols[s] for s in ev["symbol"]]
    has_price = ev["price_ticks"] != 0
    assert np.array_equal(df["price"].isna().to_numpy(), ~has_price)
    assert np.array_equal(np.rint(df["price"].to_numpy()[has_price] * 100), ev["price_ticks"][has_price])
    qty = ev["action"] != CANCEL
    assert np.array_equal(df["qty"].to_numpy()[qty], ev["qty"][qty])
    add = ev["action"] == ADD
    assert df["account"].isna().to_numpy().tolist() == (~add).tolist()
    assert np.array_equal(df["account"].to_numpy()[add], ev["account"][add])
    frame = flow.events_frame()
    assert df["action"].tolist() == frame["action"].astype(str).tolist()
    assert df["side"][add].tolist() == frame["side"][add].astype(str).tolist()
    assert df["type"][add].tolist() == frame["type"][add].astype(str).tolist()


def test_engine_reader_recovers_the_events_except_time(flow, csv_path):
    # The file is read back by the reader the matching engine's command line uses.
    from labsupport.orderbook.csvio import read_events

    with open(csv_path, newline="") as f:
        back = list(read_events(f))
    ev = flow.events
    assert len(back) == len(ev)
    assert [e.seq for e in back] == ev["seq"].tolist()
    assert [e.symbol for e in back] == [flow.symbols[i] for i in ev["symbol"]]
    assert [e.action for e in back] == ev["action"].tolist()
    assert [e.order_id for e in back] == ev["order_id"].tolist()
    keep = ev["action"] != CANCEL
    assert [e.price_ticks for e, k in zip(back, keep) if k] == ev["price_ticks"][keep].tolist()
    assert [e.qty for e, k in zip(back, keep) if k] == ev["qty"][keep].tolist()
    add = ev["action"] == ADD
    for name in ("side", "type", "account"):
        assert [getattr(e, name) for e, a in zip(back, add) if a] == ev[name][add].tolist(), name


def test_events_frame_columns_and_values(flow):
    df = flow.events_frame()
    assert list(df.columns) == ["seq", "ts_ns", "symbol", "action", "order_id", "side", "type",
                                "price", "price_ticks", "qty", "account"]  # fmt: skip
    assert len(df) == CFG.n_events
    assert list(df["action"].cat.categories) == ["add", "cancel", "modify"]
    assert list(df["side"].cat.categories) == ["buy", "sell"]
    assert list(df["type"].cat.categories) == ["limit", "market", "ioc", "fok"]
    assert list(df["symbol"].cat.categories) == list(flow.symbols)
    priced = df["price_ticks"] != 0
    assert np.allclose(df.loc[priced, "price"] * 100, df.loc[priced, "price_ticks"])
    assert df.loc[~priced, "price"].isna().all()
    assert (df.loc[df["action"] == "cancel", "qty"] == 0).all()


@pytest.mark.parametrize("view", ["events_frame", "trades_frame", "quotes_frame", "ticks_frame"])
def test_parquet_round_trip(flow, tmp_path, view):
    frame = getattr(flow, view)()
    assert len(frame) > 0
    path = tmp_path / f"{view}.parquet"
    write_parquet(frame, path)
    pd.testing.assert_frame_equal(read_parquet(path), frame)


def test_trades_quotes_ticks_frames(flow):
    tr, q, ticks = flow.trades_frame(), flow.quotes_frame(), flow.ticks_frame()
    assert list(tr.columns) == ["ts_ns", "symbol", "price", "price_ticks", "qty", "side"]
    assert list(q.columns) == ["ts_ns", "symbol", "bid", "ask", "bid_ticks", "ask_ticks", "bid_qty", "ask_qty"]
    assert list(ticks.columns) == ["ts_ns", "symbol", "price", "size"]
    assert len(ticks) == len(tr) == len(flow.trades)
    assert (q["ask"] > q["bid"]).all()
    assert np.array_equal(ticks["size"].to_numpy(), flow.trades["qty"])


def test_flow_statistics_table(flow):
    t = flow_statistics(flow)
    assert list(t.index) == [*flow.symbols, "ALL"]
    assert t.loc["ALL", "events"] == CFG.n_events
    assert t.loc[list(flow.symbols), "events"].sum() == CFG.n_events
    assert t.loc[list(flow.symbols), "trades"].sum() == t.loc["ALL", "trades"] == len(flow.trades)
    mix = t[["frac_add", "frac_cancel", "frac_modify"]].sum(axis=1)
    assert np.allclose(mix, 1.0)
    assert (t["touch_p50_ticks"] <= t["touch_p90_ticks"]).all()
    assert (t["touch_p90_ticks"] <= t["touch_p99_ticks"]).all()
    assert (t["peak_rate_per_s"] > t["rate_per_s"]).all()
    assert (t["round_lot_frac"] > 0.8).all()


def test_plot_flow_has_titled_labelled_panels(flow):
    import matplotlib.pyplot as plt

    fig = plot_flow(flow, symbol=1)
    try:
        axes = fig.get_axes()
        assert len(axes) == 3
        for ax in axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert "BOLT" in axes[0].get_title()
        assert "($)" in axes[0].get_ylabel() and "(s)" in axes[0].get_xlabel()
        assert "ticks" in axes[1].get_xlabel() and axes[1].get_yscale() == "log"
        assert "per second" in axes[2].get_ylabel()
    finally:
        plt.close(fig)


def test_command_line_writes_files_and_reports_bad_input(tmp_path):
    import subprocess
    import sys

    csv, ticks = tmp_path / "e.csv", tmp_path / "t.parquet"
    cmd = [sys.executable, "-m", "labsupport.marketdata", "--events", "3000", "--symbols", "2",
           "--seed", "5", "--csv", str(csv), "--ticks", str(ticks), "--stats"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "frac_cancel" in out.stdout and "ACME" in out.stdout
    flow = generate_order_flow(OrderFlowConfig(n_events=3000, n_symbols=2, seed=5))
    expected = tmp_path / "expected.csv"
    write_events_csv(flow, expected)
    assert csv.read_bytes() == expected.read_bytes()
    pd.testing.assert_frame_equal(read_parquet(ticks), flow.ticks_frame())
    bad = subprocess.run([sys.executable, "-m", "labsupport.marketdata", "--symbols", "0"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "python -m labsupport.marketdata: error: OrderFlowConfig.n_symbols=0: must be in 1..65535"]


def test_statistics_and_plot_of_a_tiny_flow_with_silent_symbols():
    import warnings

    import matplotlib.pyplot as plt

    tiny = generate_order_flow(OrderFlowConfig(n_events=10, n_symbols=30, seed=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = flow_statistics(tiny)
        fig = plot_flow(tiny, symbol=29)  # a symbol without any event
        plt.close(fig)
    assert table.loc["ALL", "events"] == 10
    assert (table["events"].iloc[:-1] == 0).sum() >= 20
    assert np.isnan(table.loc["ZEST", "frac_add"])
    with pytest.raises(ValueError, match="symbols 0..29"):
        plot_flow(tiny, symbol=30)
