"""Lab 09 sources: each yields exactly what its reader reads; a damaged file stops at the damage;
a replay into Lab 13's book gives exactly Lab 13's book."""

from __future__ import annotations

import pytest

from labsupport.marketdata import generate_ticks, write_parquet
from labsupport.measure.paths import REPO_DIR
from labsupport.protocols.itch import ItchBook, TruncatedMessage, frame, iter_tuples, reference_l2
from labsupport.replay import (
    FakeClock,
    ItchSource,
    Replayer,
    SourceError,
    TickFrameSource,
    TickStoreSource,
    itch_book_sink,
    open_source,
    ordered,
)
from labsupport.tsdb import TickDB

SAMPLE = REPO_DIR / "data" / "protocols" / "sample_day.itch"


def test_itch_source_yields_the_parsers_messages_with_their_timestamps() -> None:
    data = SAMPLE.read_bytes()
    want = list(iter_tuples(data))
    got = list(ItchSource(SAMPLE))
    assert [m for _, m in got] == want and [t for t, _ in got] == [m[3] for m in want]
    raw = list(ItchSource(SAMPLE, raw=True))
    assert frame(m for _, m in raw) == data and [t for t, _ in raw] == [m[3] for m in want]


@pytest.mark.parametrize("cut", [1, 7, 30])
def test_a_truncated_file_yields_what_precedes_the_damage_then_names_the_offset(tmp_path, cut) -> None:
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.itch"
    path.write_bytes(data[:-cut])
    with pytest.raises(TruncatedMessage) as parser_err:
        list(iter_tuples(data[:-cut]))
    got = []
    with pytest.raises(SourceError) as err:
        for ev in ItchSource(path):
            got.append(ev[1])
    offset = parser_err.value.offset
    assert got == list(iter_tuples(data[:offset])) and len(got) >= len(list(iter_tuples(data))) - 4
    assert err.value.offset == parser_err.value.offset and err.value.delivered == len(got)
    assert str(path) in str(err.value) and f"offset {parser_err.value.offset}" in str(err.value)


def test_tick_frame_source_reads_dataframes_parquet_and_csv_alike(tmp_path) -> None:
    frame_ = generate_ticks(500, n_symbols=3, seed=4)
    want = list(zip(frame_["ts_ns"].tolist(), zip(frame_["symbol"].astype(str), frame_["price"], frame_["size"])))
    assert list(TickFrameSource(frame_)) == want
    write_parquet(frame_, tmp_path / "t.parquet")
    frame_.to_csv(tmp_path / "t.csv", index=False)
    assert list(open_source(tmp_path / "t.parquet")) == want
    assert list(open_source(tmp_path / "t.csv")) == want
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="lacks column"):
        TickFrameSource(tmp_path / "bad.csv")


def test_tick_store_source_merges_the_stores_queries_in_time_order(tmp_path) -> None:
    ticks = generate_ticks(2_000, n_symbols=3, seed=5)
    with TickDB(str(tmp_path / "db")) as db:
        db.write(ticks["ts_ns"].to_numpy(), ticks["symbol"], price=ticks["price"].to_numpy(),
                 size=ticks["size"].to_numpy())
        db.flush()
        syms = db.symbols()
        got = list(TickStoreSource(db, syms))
        want = []
        for s in syms:
            q = db.query(s)
            want += [(t, (s, *(q[c][i].item() for c in db.column_names))) for i, t in enumerate(q["ts"].tolist())]
        assert sorted(got, key=lambda e: (e[0], e[1][0])) == sorted(want, key=lambda e: (e[0], e[1][0]))
        assert [t for t, _ in got] == sorted(t for t, _ in got) and len(got) == 2_000
        lo, hi = int(ticks["ts_ns"].iloc[100]), int(ticks["ts_ns"].iloc[900])
        part = list(TickStoreSource(db, syms, lo, hi))
        assert part and all(lo <= t < hi for t, _ in part)


@pytest.mark.parametrize("speed", [0, 1e6])
def test_replay_into_the_book_gives_lab13s_book(speed) -> None:
    data = SAMPLE.read_bytes()
    clock = FakeClock(read_cost_ns=1_000)
    sink = itch_book_sink(clock=clock)
    Replayer(ordered(ItchSource(data), "clamp"), sink, speed=speed, clock=clock, freeze_gc=False).run()
    ref = ItchBook()
    ref.apply_buffer(data)
    assert sink.book.symbols == ref.symbols and sink.book.orders == ref.orders
    for loc in ref.symbols:
        assert sink.book.l2(loc) == ref.l2(loc)
        bids, asks = reference_l2(iter_tuples(data), loc)
        assert [(lv.price_ticks, lv.qty, lv.orders) for lv in sink.book.l2(loc).bids] == bids
        assert [(lv.price_ticks, lv.qty, lv.orders) for lv in sink.book.l2(loc).asks] == asks


def test_flow_source_replayed_into_lab02s_engine_gives_the_engines_own_book() -> None:
    from labsupport.marketdata import OrderFlowConfig, generate_order_flow
    from labsupport.orderbook import MatchingEngine
    from labsupport.replay import EngineSink, FlowSource

    flow = generate_order_flow(OrderFlowConfig(n_events=3_000, n_symbols=3, seed=11))
    got = list(FlowSource(flow))
    assert [t for t, _ in got] == flow.events["ts_ns"].tolist() and len(got) == 3_000
    clock = FakeClock(read_cost_ns=1_000)
    sink = EngineSink(clock=clock)
    Replayer(got, sink, speed=1e3, clock=clock, freeze_gc=False).run()
    ref = MatchingEngine()
    ref.process_array(flow.events, flow.symbols)
    for sym in flow.symbols:
        assert sink.engine.l2_snapshot(sym, depth=None) == ref.l2_snapshot(sym, depth=None)
