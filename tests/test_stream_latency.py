"""Lab 03's time bounds: batches closed by size or linger, one clean call per wake-up, group commit.

The paced source cuts each partition's ticks at the end of every ``linger_ns`` window (or when
a batch is full), so no tick waits longer than the linger for its batch; a worker cleans all
the messages of one wake-up in one call with exactly the verdicts of one call per message, and
the cleaned batch crosses to the coordinator as raw column bytes; the group committer prepares
the next group while this one finishes, finishes them in order and hands back what the sink raised; a group prepared but never finished (the process died between
its dead letters and its WAL record) is cut off when the store is opened again; a paced run
stores exactly the reference, with per-stage timestamps in order and lag per partition.
"""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labsupport.stream import (
    PARTITIONS,
    StreamSink,
    TickSource,
    clean_batch,
    partition_of,
    run_pipeline,
    verify,
    wire,
)
from labsupport.stream.fastparse import partitions_of
from labsupport.stream.gen import make_ticks, write_ticks
from labsupport.stream.groupcommit import Group, GroupCommitter
from labsupport.stream.pipeline import STAGES
from labsupport.stream.sink import Delivery
from labsupport.stream.worker import clean_messages

LINGER = 1_000_000


@pytest.fixture(scope="module")
def paced_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("paced") / "ticks.csv"
    return Path(write_ticks(path, 1500, dirt=0.05, seed=9, step_ns=50_000))  # 20 k ticks/s


def test_the_source_clock_reads_nineteen_digit_timestamps(paced_src: Path) -> None:
    src = TickSource(paced_src)
    ts = np.array([int(r.split(b",")[1]) if r.count(b",") == 4 and r.split(b",")[1].isdigit()
                   else 0 for r in src.raws])
    assert src.newest_ns().tolist() == np.maximum.accumulate(ts).tolist()
    assert src.newest_ns()[-1] > 10**18  # nanoseconds since 1970: 19 digits


def test_linger_closes_every_chunk_within_its_window(paced_src: Path) -> None:
    src = TickSource(paced_src, batch=10, linger_ns=LINGER)
    clock = src.newest_ns()
    seen = np.zeros(len(src), dtype=int)
    last_line = np.zeros(PARTITIONS, dtype=np.int64)
    for k, c in enumerate(src.chunks):
        assert c.size <= 10 and set(src.parts[c.idx].tolist()) == {c.partition}
        assert src.body(k) == b"\n".join(src.raws[i] for i in c.idx)  # a slice of the layout
        assert 0 <= c.wait_ns <= LINGER  # the oldest tick waited at most the linger
        assert c.due >= clock[c.idx[-1]]  # closed no earlier than its last tick
        assert c.prev_line == last_line[c.partition]  # each partition's chunks in order
        last_line[c.partition] = src.lines[c.idx[-1]]
        seen[c.idx] += 1
    assert (seen == 1).all()
    dues = src.due_ns()
    assert (np.diff(dues) >= 0).all()  # the replay's schedule is in time order
    assert len(set(dues.tolist())) < len(src.chunks)  # partitions close together


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_one_clean_call_for_several_messages_equals_one_per_message(seed: int,
                                                                    cuts: list[int]) -> None:
    lines = make_ticks(sum(cuts), symbols=5, dirt=0.1, seed=seed)
    p_of = partitions_of(lines)
    msgs, a = [], 0
    for n in cuts:  # consecutive lines, grouped into one message per partition
        for p in sorted(set(p_of[a:a + n].tolist())):
            idx = np.flatnonzero(p_of[a:a + n] == p) + a
            msgs.append(wire.decode(wire.encode(p, 0, 1, idx + 2, [lines[i] for i in idx])))
        a += n
    one_by_one: dict = {}
    want_acc, want_rej = [], []
    for m in msgs:
        b = clean_batch(m.lines, m.raws, one_by_one)
        want_acc += list(zip(b.line.tolist(), b.symbol, b.price.tolist()))
        want_rej += b.rejected
    together: dict = {}
    got = clean_messages([(m, np.ones(m.lines.size, bool)) for m in msgs], together, None)
    assert sorted({d.partition for d in got}) == sorted({m.partition for m in msgs})
    got_acc = sorted(t for d in got for t in zip(d.batch.line.tolist(), d.batch.symbol,
                                                  d.batch.price.tolist()))
    assert got_acc == sorted(want_acc)
    assert sorted((r for d in got for r in d.batch.rejected), key=lambda r: r.line) == \
        sorted(want_rej, key=lambda r: r.line)
    for d in got:  # each delivery holds its own partition's lines only
        assert set(p_of[d.batch.line - 2].tolist()) <= {d.partition}


class _Sink:
    """A two-step sink whose ``finish`` can be held, to see the stages overlap."""

    def __init__(self, fail: bool = False) -> None:
        self.log: list[tuple[str, int]] = []
        self.fail, self.hold = fail, threading.Event()
        self.hold.set()

    def prepare(self, deliveries):
        if self.fail:
            raise OSError("disk full")
        self.log.append(("prepare", len(deliveries)))
        return len(deliveries)

    def finish(self, n):
        self.hold.wait(10)
        self.log.append(("finish", n))
        return n, 0


def test_group_committer_overlaps_the_next_prepare_with_this_finish() -> None:
    sink = _Sink()
    sink.hold.clear()  # the first group's finish waits
    gc = GroupCommitter(sink)
    try:
        first, second = Group(), Group()
        first.add(["a", "b"], 5)
        second.add(["c"], 6)
        gc.submit(first)
        deadline = time.monotonic() + 10
        while not gc.ready and time.monotonic() < deadline:
            time.sleep(0.001)
        gc.submit(second)  # while the first is still in its finish
        with pytest.raises(RuntimeError, match="already"):
            gc.submit(Group())  # two in flight: no third
        while len(sink.log) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert sink.log == [("prepare", 2), ("prepare", 1)] and gc.collect() == []
        sink.hold.set()
        done = gc.collect(block=True)
        assert done == [first, second] and [g.accepted for g in done] == [2, 1]
        assert done[0].arrived == [5, 5] and done[0].durable_ns <= done[1].durable_ns
        assert sink.log[2:] == [("finish", 2), ("finish", 1)] and not gc.busy
    finally:
        gc.close()
    bad = GroupCommitter(_Sink(fail=True))
    try:
        bad.submit(Group())
        with pytest.raises(OSError, match="disk full"):
            bad.collect(block=True)
    finally:
        bad.close()


def test_a_group_prepared_but_not_finished_is_cut_off_on_reopen(tmp_path: Path) -> None:
    lines = [b"1,100,AB,10.0,1", b"2,200,AB,10.0,0", b"3,300,AB,10.5,2", b"4,400,AB,10.0,-1"]
    p = partition_of(lines[0])
    states: dict = {}
    one = clean_batch([2, 3], lines[:2], states)
    two = clean_batch([4, 5], lines[2:], states)
    with StreamSink(tmp_path / "db") as s:
        st1 = s.prepare([Delivery(p, 3, one)])
        st2 = s.prepare([Delivery(p, 5, two)])  # staged on top of the first, not finished
        assert s.prepare([Delivery(p, 5, two)]) is None  # already staged: nothing new
        assert s.finish(st1) == (1, 1)
        committed = s.dl_len
        del st2  # the process dies before the second WAL record
    with StreamSink(tmp_path / "db") as s:
        assert int(s.hwm[p]) == 3 and s.dl_len == committed and s.truncated > 0
    acc, dead = verify.stored(tmp_path / "db")
    assert acc["line"].tolist() == [2] and dead["raw"].tolist() == ["2,200,AB,10.0,0"]


@pytest.mark.timeout(60)
def test_paced_run_stores_the_reference_with_stamps_in_order(paced_src: Path,
                                                             tmp_path: Path) -> None:
    r = run_pipeline(paced_src, tmp_path / "db", workers=2, batch=100, paced=True)
    assert verify.same(verify.stored(tmp_path / "db"), verify.expected(paced_src))
    stamps = np.array(r.stamps)
    assert len(stamps) and (np.diff(stamps[:, :-1], axis=1) >= 0).all()  # sent <= ... <= durable
    assert stamps[:, -1].sum() == r.accepted
    table = r.stage_table()
    assert list(table.index) == [*STAGES, "end to end"]
    assert all(len(lag) == PARTITIONS for _, lag in r.lag)
    assert r.startup_s > 0 and r.latencies().size == r.accepted


def test_a_cleaned_batch_pickles_as_column_bytes_and_comes_back_equal() -> None:
    lines = make_ticks(300, symbols=5, dirt=0.1, seed=4)
    b = clean_batch(np.arange(2, 302), lines, {})
    assert b.rejected and len(b)  # both kinds present
    data = pickle.dumps(b, protocol=5)
    assert b"numpy" not in data  # raw column bytes, not numpy's reduce per array
    got = pickle.loads(data)
    for name in ("line", "seq", "ts_ns", "price", "size", "codes"):
        want = getattr(b, name)
        assert getattr(got, name).dtype == want.dtype
        assert getattr(got, name).tolist() == want.tolist()
        assert getattr(got, name).flags.writeable
    assert got.names == b.names and got.rejected == b.rejected and got.symbol == b.symbol
    empty = pickle.loads(pickle.dumps(b.take(np.zeros(len(b), bool), [])))
    assert len(empty) == 0 and empty.codes.dtype == b.codes.dtype
