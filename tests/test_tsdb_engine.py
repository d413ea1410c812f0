"""TickDB against pandas: queries, bars, WAL replay, torn tails, corruption, compaction, retention."""

import glob
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from labsupport.tsdb import (
    DatabaseLockedError,
    SchemaError,
    SegmentCorruptError,
    TickDB,
    bits,
    kernels,
)
from labsupport.tsdb.compaction import plan_size_tiered
from labsupport.tsdb.wal import WalWriter, replay

SYMS = ["AAA", "BBB", "CCC"]
T0 = 1_700_000_000 * 10**9


def random_batches(seed, n_batches=12, batch=700, span_ns=60 * 10**9):
    """Overlapping, out-of-order batches with duplicate timestamps (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        ts = T0 + rng.integers(0, span_ns, batch)
        ts[rng.random(batch) < 0.1] = T0 + 5 * 10**9  # many ticks in the same nanosecond
        out.append(
            pd.DataFrame(
                {
                    "ts": ts.astype(np.int64),
                    "symbol": rng.choice(SYMS, batch),
                    "price": rng.integers(9_000, 11_000, batch) / 100,
                    "size": rng.integers(1, 1_000, batch).astype(np.int64),
                }
            )
        )
    return out


def write_all(db, batches):
    for b in batches:
        db.write(
            b["ts"].to_numpy(),
            b["symbol"].to_numpy(),
            price=b["price"].to_numpy(),
            size=b["size"].to_numpy(),
        )


def expected(batches, symbol, start, end):
    df = pd.concat(batches, ignore_index=True)
    df = df[(df.symbol == symbol) & (df.ts >= start) & (df.ts < end)]
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def check_query(db, batches, symbol, start, end):
    want = expected(batches, symbol, start, end)
    got = db.query(symbol, start, end)
    assert np.array_equal(got["ts"], want.ts.to_numpy())
    assert np.array_equal(got["price"], want.price.to_numpy())
    assert np.array_equal(got["size"], want["size"].to_numpy())
    streamed = list(db.iter_query(symbol, start, end))
    if streamed:
        assert np.array_equal(np.concatenate([c["ts"] for c in streamed]), want.ts.to_numpy())
        assert np.array_equal(
            np.concatenate([c["size"] for c in streamed]), want["size"].to_numpy()
        )
    else:
        assert want.empty


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_queries_match_pandas_across_memtable_segments_compaction_reopen(tmp_path, seed):
    batches = random_batches(seed, n_batches=13)
    rng = np.random.default_rng(100 + seed)
    ranges = [(T0, T0 + 60 * 10**9), (T0 + 5 * 10**9, T0 + 5 * 10**9 + 1)]
    ranges += [tuple(sorted(T0 + rng.integers(-(10**9), 61 * 10**9, 2))) for _ in range(4)]
    kw = dict(memtable_points=1_500, block_points=128, auto_compact=False)
    with TickDB(str(tmp_path), **kw) as db:
        write_all(db, batches)
        assert len(db.segments) >= 4 and db.memtable.count > 0  # overlapping segments + memtable
        for s in SYMS:
            for a, b in ranges:
                check_query(db, batches, s, a, b)
        db.compact()
        for s in SYMS:
            check_query(db, batches, s, *ranges[0])
    with TickDB(str(tmp_path), **kw) as db:  # memtable rebuilt from the WAL
        assert db.recovery.replayed_points > 0
        for s in SYMS:
            for a, b in ranges:
                check_query(db, batches, s, a, b)
        db.compact(full=True)
        assert len(db.segments) == 1
        for s in SYMS:
            check_query(db, batches, s, *ranges[0])
        assert db.stats()["points"] == sum(len(b) for b in batches)


def test_query_as_frame_and_latest(tmp_path):
    batches = random_batches(7, n_batches=3)
    with TickDB(str(tmp_path), memtable_points=1_000, block_points=64) as db:
        write_all(db, batches)
        df = db.query("BBB", T0, T0 + 10**11, frame=True)
        assert list(df.columns) == ["ts", "symbol", "price", "size"]
        want = expected(batches, "BBB", T0, T0 + 10**11)
        pd.testing.assert_frame_equal(
            df.drop(columns="symbol"), want.drop(columns="symbol"), check_dtype=False
        )
        last = db.latest("BBB")
        assert last["ts"] == want.ts.iloc[-1] and last["price"] == want.price.iloc[-1]
        assert db.latest("ZZZ") is None
        empty = db.query("ZZZ")
        assert (
            empty["ts"].dtype == np.int64
            and empty["size"].dtype == np.int64
            and empty["price"].size == 0
        )


@pytest.fixture(
    params=[True, False] if kernels.HAVE_NUMBA else [False], ids=lambda p: "numba" if p else "numpy"
)
def path(request, monkeypatch):
    monkeypatch.setattr(bits, "USE_KERNELS", request.param)
    return request.param


@pytest.mark.parametrize("interval_ns", [10**9, 7 * 10**9, 60 * 10**9])
def test_bars_match_pandas_resample(tmp_path, interval_ns, path):
    batches = random_batches(11)
    with TickDB(str(tmp_path), memtable_points=2_000, block_points=100, auto_compact=False) as db:
        write_all(db, batches)
        start, end = T0 + 3 * 10**9 + 17, T0 + 59 * 10**9
        got = db.bars("CCC", start, end, interval_ns)
    want = expected(batches, "CCC", start, end)
    idx = pd.to_datetime(want.ts, unit="ns")
    r = want.set_index(idx).resample(pd.Timedelta(interval_ns, "ns"), origin="epoch")
    ref = pd.DataFrame(
        {
            "open": r.price.first(),
            "high": r.price.max(),
            "low": r.price.min(),
            "close": r.price.last(),
            "volume": r["size"].sum(),
            "count": r.price.count(),
        }
    )
    pv = (
        (want.price * want["size"])
        .groupby(idx.dt.floor(pd.Timedelta(interval_ns, "ns")).to_numpy())
        .sum()
    )
    ref = ref[ref["count"] > 0]
    assert np.array_equal(got.start.to_numpy(), ref.index.astype("int64").to_numpy())
    for c in ["open", "high", "low", "close", "volume", "count"]:
        assert np.array_equal(got[c].to_numpy(), ref[c].to_numpy()), c
    assert np.allclose(got.vwap.to_numpy(), pv.to_numpy() / ref.volume.to_numpy(), rtol=1e-12)
    assert (got.start % interval_ns == 0).all()


def test_bars_of_negative_timestamps_align_to_multiples(tmp_path, path):
    with TickDB(str(tmp_path)) as db:
        db.write(
            np.array([-15, -10, -1, 0, 9, 10]), "X", price=np.arange(6.0), size=np.ones(6, np.int64)
        )
        bars = db.bars("X", -100, 100, 10)
    assert bars.start.tolist() == [-20, -10, 0, 10]
    assert bars["count"].tolist() == [1, 2, 2, 1]
    assert bars.open.tolist() == [0.0, 1.0, 3.0, 5.0] and bars.close.tolist() == [
        0.0,
        2.0,
        4.0,
        5.0,
    ]


def test_wal_replay_restores_unflushed_points(tmp_path):
    batches = random_batches(5, n_batches=4)
    with TickDB(str(tmp_path), memtable_points=10**6) as db:
        write_all(db, batches)
        assert db.segments == []
    with TickDB(str(tmp_path)) as db:
        assert db.recovery.replayed_points == sum(len(b) for b in batches)
        assert db.recovery.torn_tails == []
        check_query(db, batches, "AAA", T0, T0 + 10**12)


@pytest.mark.parametrize("cut", [1, 7, 100])
def test_torn_wal_tail_is_truncated_and_reported(tmp_path, cut):
    batches = random_batches(6, n_batches=3)
    with TickDB(str(tmp_path)) as db:
        write_all(db, batches)
    (wal,) = glob.glob(str(tmp_path / "wal-*.log"))
    size = os.path.getsize(wal)
    with open(wal, "r+b") as f:
        f.truncate(size - cut)  # the last record loses its end
    with TickDB(str(tmp_path)) as db:
        assert db.recovery.replayed_points == sum(len(b) for b in batches[:2])
        (msg,) = db.recovery.torn_tails
        assert os.path.basename(wal) in msg and "torn tail" in msg
        check_query(db, batches[:2], "BBB", T0, T0 + 10**12)
    assert os.path.getsize(wal) < size - cut  # cut back to the last whole record


def test_corrupt_wal_record_in_the_middle_cuts_from_there(tmp_path):
    batches = random_batches(8, n_batches=3)
    with TickDB(str(tmp_path)) as db:
        write_all(db, batches)
    (wal,) = glob.glob(str(tmp_path / "wal-*.log"))
    with open(wal, "rb") as f:
        first_len = int.from_bytes(f.read(4), "little") + 8
    with open(wal, "r+b") as f:
        f.seek(first_len + 50)  # inside the second record
        f.write(b"\xff\xfe")
    with TickDB(str(tmp_path)) as db:
        assert db.recovery.replayed_points == len(batches[0])
        assert "CRC mismatch" in db.recovery.torn_tails[0]


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def test_block_crc_failure_is_reported_by_segment_name(tmp_path):
    batches = random_batches(9, n_batches=2)
    with TickDB(str(tmp_path), block_points=64) as db:
        write_all(db, batches)
        db.flush()
        seg = db.segments[0]
        off = int(seg.entries["offset"][3]) + 30
        name = seg.name
    flip_byte(str(tmp_path / name), off)
    with TickDB(str(tmp_path), block_points=64) as db:
        problems = db.verify()
        assert len(problems) == 1 and name in problems[0] and "block 3" in problems[0]
        sym = db.segments[0].symbols[int(db.segments[0].entries["sym"][3])]
        with pytest.raises(SegmentCorruptError, match=f"segment {name}: block 3 .* CRC mismatch"):
            db.query(sym)


def test_index_corruption_refuses_to_open_or_skips_when_asked(tmp_path):
    with TickDB(str(tmp_path)) as db:
        write_all(db, random_batches(10, n_batches=2))
        db.flush()
        name = db.segments[0].name
    size = os.path.getsize(tmp_path / name)
    flip_byte(str(tmp_path / name), size - 40)  # inside the index
    with pytest.raises(SegmentCorruptError, match=f"segment {name}: index CRC mismatch"):
        TickDB(str(tmp_path))
    with TickDB(str(tmp_path), on_corrupt="skip") as db:
        assert db.segments == [] and name in db.recovery.corrupt_segments[0]


def test_crash_leftovers_of_compaction_are_resolved_on_open(tmp_path):
    batches = random_batches(12)
    kw = dict(memtable_points=1_500, block_points=128, auto_compact=False)
    with TickDB(str(tmp_path), **kw) as db:
        write_all(db, batches)
        db.flush()
        old = [s.name for s in db.segments]
        keep = tmp_path / "keep"
        keep.mkdir()
        for n in old:
            shutil.copy(tmp_path / n, keep / n)
        db.compact(full=True)
        new = db.segments[0].name
    # A crash after the rename but before the inputs were deleted: put them back,
    # and an unfinished output of a later compaction too.
    for n in old:
        shutil.copy(keep / n, tmp_path / n)
    (tmp_path / (new + ".x.tmp")).write_bytes(b"half a segment")
    with TickDB(str(tmp_path), **kw) as db:
        assert sorted(db.recovery.removed_obsolete) == sorted(old)
        assert db.recovery.removed_tmp == [new + ".x.tmp"]
        assert [s.name for s in db.segments] == [new]
        for s in SYMS:
            check_query(db, batches, s, T0, T0 + 10**12)


def test_size_tiered_plan_merges_adjacent_same_tier_runs(tmp_path):
    class S:
        def __init__(self, size):
            self.size_bytes = size

    segs = [S(40 << 20), S(1 << 20), S(1 << 20), S(2 << 20), S(1 << 20), S(900 << 10), S(1 << 20)]
    run = plan_size_tiered(segs, base_bytes=1 << 20, fanout=4)
    assert (
        run == segs[1:]
    )  # the big old one is in a higher tier; the rest are tier 0 and 1 (1x..3.9x)
    assert plan_size_tiered(segs[:4], base_bytes=1 << 20, fanout=4) is None


def test_auto_compaction_keeps_segment_count_logarithmic(tmp_path):
    batches = random_batches(13, n_batches=30, batch=400)
    with TickDB(
        str(tmp_path), memtable_points=400, block_points=64, base_bytes=4096, fanout=3
    ) as db:
        write_all(db, batches)
        assert db.compactions > 0 and len(db.segments) < db.flushes / 2
        for s in SYMS:
            check_query(db, batches, s, T0, T0 + 10**12)


def test_background_compaction_runs_while_writes_and_queries_go_on(tmp_path):
    batches = random_batches(15, n_batches=40, batch=400)
    kw = dict(
        memtable_points=400, block_points=64, base_bytes=4096, fanout=3, background_compaction=True
    )
    with TickDB(str(tmp_path), **kw) as db:
        for i, b in enumerate(batches):
            write_all(db, [b])
            if i % 10 == 9:  # queries while the thread may be merging
                for s in SYMS:
                    check_query(db, batches[: i + 1], s, T0, T0 + 10**12)
        db.wait_for_compaction()
        assert db.compactions > 0 and len(db.segments) < db.flushes / 2
        for s in SYMS:
            check_query(db, batches, s, T0, T0 + 10**12)
    with TickDB(str(tmp_path)) as db:  # nothing obsolete left behind
        assert db.recovery.removed_obsolete == [] and db.recovery.removed_tmp == []
        check_query(db, batches, "AAA", T0, T0 + 10**12)


def test_retention_hides_then_removes_old_points(tmp_path):
    batches = random_batches(14)
    horizon = T0 + 30 * 10**9
    kw = dict(memtable_points=2_000, block_points=64, auto_compact=False)
    with TickDB(str(tmp_path), **kw) as db:
        write_all(db, batches)
        before = db.stats()["segment_bytes"]
        db.set_retention(horizon)
        for s in SYMS:
            check_query(db, batches, s, horizon, T0 + 10**12)
            assert db.query(s, T0, horizon)["ts"].size == 0
        assert all(s.min_ts >= horizon for s in db.segments)
        assert db.stats()["segment_bytes"] < before
    with TickDB(str(tmp_path), **kw) as db:  # horizon is durable; replayed WAL points filtered
        assert db.horizon == horizon
        for s in SYMS:
            check_query(db, batches, s, horizon, T0 + 10**12)
        db.flush()
        assert all(s.min_ts >= horizon for s in db.segments)
        want = sum((b.ts >= horizon).sum() for b in batches)
        assert db.stats()["points"] == want


def test_second_writer_is_refused(tmp_path):
    with TickDB(str(tmp_path)), pytest.raises(DatabaseLockedError):
        TickDB(str(tmp_path))


def test_schema_is_enforced(tmp_path):
    with TickDB(str(tmp_path), columns=[("bid", "float"), ("ask", "float"), ("qty", "int")]) as db:
        with pytest.raises(SchemaError, match="columns must be"):
            db.write([1], "X", price=[1.0], size=[1])
        with pytest.raises(SchemaError, match="as long as"):
            db.write([1, 2], "X", bid=[1.0], ask=[1.0, 2.0], qty=[1, 1])
        db.write([1, 2], "X", bid=[1.0, 1.5], ask=[1.25, 1.75], qty=[3, 4])
        db.flush()
        assert db.query("X")["ask"].tolist() == [1.25, 1.75]
    with pytest.raises(SchemaError, match="declares"):
        TickDB(str(tmp_path), columns=[("price", "float")])


def test_codes_with_symbol_list_and_categorical(tmp_path):
    with TickDB(str(tmp_path)) as db:
        db.write([3, 1, 2], [1, 0, 1], symbols=["A", "B"], price=[1.0, 2.0, 3.0], size=[1, 2, 3])
        db.write([4], pd.Categorical(["A"]), price=[4.0], size=[4])
        assert db.query("B")["ts"].tolist() == [2, 3]
        assert db.query("A")["size"].tolist() == [2, 4]
        with pytest.raises(SchemaError):
            db.write([1], [5], symbols=["A"], price=[1.0], size=[1])


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(("policy", "expected_syncs"), [("batch", 5), ("interval", 1), ("none", 0)])
def test_fsync_policies(tmp_path, policy, expected_syncs):
    clock = FakeClock()
    w = WalWriter(str(tmp_path / "w.log"), fsync=policy, interval_s=1.0, clock=clock)
    for t in (0.1, 0.5, 1.2, 1.5, 2.1):  # "interval" syncs at 1.2 only
        clock.now = t
        w.append(np.arange(3), np.zeros(3, np.uint32), ["X"], [np.ones(3), np.ones(3, np.int64)])
    assert w.syncs == expected_syncs
    w.close()  # a clean close is durable whatever the policy
    assert w.syncs == expected_syncs + (policy != "batch")
    batches, torn = replay(str(tmp_path / "w.log"), ["f8", "i8"])
    assert len(batches) == 5 and torn is None


def test_streamed_query_holds_about_one_block_at_a_time(tmp_path):
    rng = np.random.default_rng(4)
    ts = np.sort(rng.integers(0, 10**12, 50_000))
    with TickDB(str(tmp_path), block_points=1_000) as db:
        db.write(ts, "X", price=np.ones(ts.size), size=np.ones(ts.size, np.int64))
        db.flush()
        sizes = [c["ts"].size for c in db.iter_query("X")]
        assert sum(sizes) == ts.size and max(sizes) <= 1_000
        # two overlapping segments: the merge buffers at most the blocks that overlap
        db.write(
            ts[::7] + 1, "X", price=np.ones(ts[::7].size), size=np.ones(ts[::7].size, np.int64)
        )
        db.flush()
        chunks = list(db.iter_query("X"))
        assert sum(c["ts"].size for c in chunks) == ts.size + ts[::7].size
        assert max(c["ts"].size for c in chunks) <= 2 * 1_000
        assert all((np.diff(c["ts"]) >= 0).all() for c in chunks)


def test_repetitive_int_column_is_stored_as_xor_and_read_back_as_int(tmp_path):
    rng = np.random.default_rng(6)
    size = rng.choice([100, 100, 100, 200, 300, 57], 5_000).astype(np.int64)
    ts = np.arange(size.size, dtype=np.int64) * 1_000
    with TickDB(str(tmp_path)) as db:
        db.write(ts, "X", price=np.full(size.size, 1.5), size=size)
        db.flush()
        codecs_used = {(r["column"], r["codec"]) for r in db.segments[0].column_sizes()}
        assert ("size", "gorilla-xor") in codecs_used
        got = db.query("X")["size"]
        assert got.dtype == np.int64 and np.array_equal(got, size)


def test_a_record_with_a_good_crc_but_a_bad_payload_is_a_wal_record_error(tmp_path):
    """Errors of the WAL are tsdb errors naming file, byte offset and record number."""
    from labsupport.tsdb import ConfigError, TsdbError, WalRecordError
    from labsupport.tsdb.wal import decode_payload, encode_record

    good = b"".join(map(bytes, encode_record(np.arange(3), np.zeros(3, np.uint32), ["X"],
                                             [np.ones(3), np.ones(3, np.int64)])))  # fmt: skip
    three_cols = b"".join(map(bytes, encode_record(np.arange(2), np.zeros(2, np.uint32), ["X"],
                                                   [np.ones(2)] * 3)))  # fmt: skip
    path = tmp_path / "w.log"
    path.write_bytes(good + three_cols + good)
    batches, torn = replay(str(path), ["f8", "i8"])
    assert len(batches) == 1 and torn.offset == len(good)
    assert str(torn) == (f"w.log: torn tail at byte {len(good)} ({len(three_cols) + len(good)} "
                         "bytes dropped: malformed record 1 (record has 3 columns, table has 2))")
    with pytest.raises(WalRecordError) as info:
        decode_payload(memoryview(three_cols)[8:], ["f8", "i8"], file="w.log", offset=76, record=1)
    assert isinstance(info.value, TsdbError)
    assert str(info.value) == "w.log, byte 76, record 1: record has 3 columns, table has 2"
    with pytest.raises(WalRecordError, match="symbol code 5 out of range"):
        bad_code = encode_record(np.arange(1), np.array([5], np.uint32), ["X"], [np.ones(1)])
        decode_payload(memoryview(b"".join(map(bytes, bad_code)))[8:], ["f8"])
    with pytest.raises(ConfigError, match="fsync policy must be one of"):
        WalWriter(str(tmp_path / "x.log"), fsync="sometimes")


def test_memtable_ts_is_what_no_segment_holds_yet(tmp_path):
    with TickDB(str(tmp_path), auto_compact=False) as db:
        db.write([30, 10, 20], "X", price=[1.0, 2.0, 3.0], size=[1, 1, 1])
        assert db.memtable_ts("X").tolist() == [10, 20, 30]
        assert db.memtable_ts("NOPE").size == 0
        db.flush()
        assert db.memtable_ts("X").size == 0 and db.query("X")["ts"].tolist() == [10, 20, 30]
