"""kill -9 of a real writer process, mid-ingest and mid-compaction: nothing acknowledged is lost.

The scenarios are the package's own (``labsupport.tsdb.crashdemo``), the ones the notebook runs.
"""

import signal
import time

import numpy as np
import pytest

from labsupport.tsdb import TickDB
from labsupport.tsdb.crashdemo import (
    IngestCrash,
    batch_counts,
    kill_mid_ingest,
    prepare_db,
    run_compactor,
    start_compactor,
)

BATCH = 500


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "mode"), [(0, "fg"), (1, "fg"), (2, "bg"), (3, "bg")])
def test_kill9_mid_ingest_loses_nothing_acknowledged(tmp_path, seed, mode):
    print("seed", seed)
    rng = np.random.default_rng(seed)
    crash = kill_mid_ingest(str(tmp_path / "db"), acks_before_kill=int(rng.integers(8, 40)),
                            extra_delay_s=float(rng.uniform(0, 0.05)), batch=BATCH,
                            memtable_points=int(rng.integers(700, 3000)), block_points=256,
                            base_bytes=8192, fanout=3, background=mode == "bg")  # fmt: skip
    assert crash.killed_by == "SIGKILL"
    assert crash.every_acknowledged_batch_present, "an acknowledged batch is missing"
    assert crash.unacknowledged_batches_present in ([], [crash.last_acknowledged + 1]), \
        "a batch appeared that was never written"
    assert crash.partial_batches == 0, "a batch is partly present"
    assert crash.nothing_acknowledged_lost
    assert crash.points == sum(crash.counts.values())
    for msg in crash.torn_tails:  # a cut is allowed only after the last acknowledged record
        assert "torn tail" in msg


def test_the_audit_sees_a_lost_batch(tmp_path):
    """The audit itself can fail: a directory missing an acknowledged batch is reported."""
    path = str(tmp_path / "db")
    prepare_db(path, n_batches=3, batch=BATCH)
    counts, _ = batch_counts(path)
    assert counts == {1: BATCH, 2: BATCH, 3: BATCH}
    lost = IngestCrash("SIGKILL", 4, 4, BATCH, counts, 3 * BATCH, 1, 0, ())
    assert not lost.every_acknowledged_batch_present and not lost.nothing_acknowledged_lost
    partial = IngestCrash("SIGKILL", 3, 3, BATCH, {**counts, 4: 7}, 0, 1, 0, ())
    assert partial.partial_batches == 1 and not partial.nothing_acknowledged_lost


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "n"), [("replace", 1), ("unlink", 1), ("unlink", 3), ("none", 0)])
def test_kill9_mid_compaction_keeps_every_point_once(tmp_path, mode, n):
    path = str(tmp_path / "db")
    segs, want = prepare_db(path, batch=BATCH)
    assert segs >= 4
    rc, err = run_compactor(path, mode, n)
    assert (rc == -signal.SIGKILL) == (mode != "none"), err
    counts, report = batch_counts(path)
    assert counts == {i: BATCH for i in range(1, 25)}
    with TickDB(path) as db:
        for s, q in want.items():
            got = db.query(s)
            assert np.array_equal(got["ts"], q["ts"]) and np.array_equal(got["size"], q["size"])
        if mode == "replace":  # the unfinished output was removed, inputs intact
            assert len(report.removed_tmp) == 1 and len(db.segments) == segs
        elif mode == "unlink":  # the committed output wins; leftover inputs removed
            assert len(report.removed_obsolete) == segs - (n - 1) and len(db.segments) == 1


@pytest.mark.slow
def test_kill9_at_random_moments_of_compaction(tmp_path):
    path = str(tmp_path / "db")
    prepare_db(path, n_batches=60, batch=BATCH)
    seed = 9
    print("seed", seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        proc = start_compactor(path)
        try:
            assert proc.stdout.readline() == "open\n"  # the compaction starts now
            time.sleep(float(rng.uniform(0, 0.3)))
            proc.kill()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        counts, _ = batch_counts(path)
        assert counts == {i: BATCH for i in range(1, 61)}
