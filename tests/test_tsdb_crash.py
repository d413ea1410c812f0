"""kill -9 of a real writer process, mid-ingest and mid-compaction: nothing acknowledged is lost."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from labsupport.tsdb import TickDB

BATCH = 500
T0 = 1_700_000_000 * 10**9

# Batch i is recognisable on disk: every point has size == i.
BATCH_SRC = textwrap.dedent(
    """
    import numpy as np
    def make_batch(i, n=%d):
        rng = np.random.default_rng(1000 + i)
        ts = %d + rng.integers(0, 10**10, n)  # out of order, overlapping other batches
        sym = rng.integers(0, 3, n).astype(np.uint32)
        price = rng.integers(1, 100_000, n) / 100
        return ts, sym, price, np.full(n, i, dtype=np.int64)
    """.replace("%d", str(BATCH), 1).replace("%d", str(T0), 1)
)

WRITER = BATCH_SRC + textwrap.dedent(
    """
    import sys
    from labsupport.tsdb import TickDB
    db = TickDB(sys.argv[1], fsync="batch", memtable_points=int(sys.argv[2]), block_points=256,
                base_bytes=8192, fanout=3, background_compaction=sys.argv[3] == "bg")
    for i in range(1, 10**6):
        ts, sym, price, size = make_batch(i)
        db.write(ts, sym, symbols=["A", "B", "C"], price=price, size=size)
        print(i, flush=True)  # acknowledged: write() returned after fsync
    """
)

COMPACTOR = textwrap.dedent(
    """
    import os, signal, sys
    from labsupport.tsdb import TickDB, db as dbmod, segment as segmod
    mode, n = sys.argv[2], int(sys.argv[3])
    real_replace, real_unlink = os.replace, os.unlink
    seen = {"replace": 0, "unlink": 0}
    def die():
        os.kill(os.getpid(), signal.SIGKILL)
    def replace(src, dst):
        if dst.endswith(".seg"):
            seen["replace"] += 1
            if mode == "replace" and seen["replace"] == n:
                die()  # output fully written and synced, not yet renamed
        real_replace(src, dst)
    def unlink(p):
        if p.endswith(".seg"):
            seen["unlink"] += 1
            if mode == "unlink" and seen["unlink"] == n:
                die()  # output committed, some inputs not yet deleted
        real_unlink(p)
    segmod.os.replace = replace
    dbmod.os.unlink = unlink
    db = TickDB(sys.argv[1], memtable_points=10**9, block_points=256, auto_compact=False)
    print("open", flush=True)
    db.compact(full=True)
    print("done", flush=True)
    """
)


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.getcwd() + os.pathsep + e.get("PYTHONPATH", "")
    return e


def batch_counts(path):
    """{batch id: points found} over all symbols, after a clean open."""
    with TickDB(path) as db:
        sizes = np.concatenate(
            [db.query(s)["size"] for s in db.symbols()] or [np.zeros(0, np.int64)]
        )
        report = db.recovery
    ids, counts = np.unique(sizes, return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist())), report


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "mode"), [(0, "fg"), (1, "fg"), (2, "bg"), (3, "bg")])
def test_kill9_mid_ingest_loses_nothing_acknowledged(tmp_path, seed, mode):
    rng = np.random.default_rng(seed)
    target = int(rng.integers(8, 40))
    path = str(tmp_path / "db")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, path, str(int(rng.integers(700, 3000))), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    try:
        acked = []
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= target:
                break
        time.sleep(float(rng.uniform(0, 0.05)))  # land anywhere: in a write, a flush, a compaction
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    acked += [int(x) for x in out.split()]  # acks printed before the kill but not yet read
    counts, report = batch_counts(path)
    last = max(acked)
    assert set(range(1, last + 1)) <= set(counts), "an acknowledged batch is missing"
    assert set(counts) <= set(range(1, last + 2)), "a batch appeared that was never written"
    assert all(c == BATCH for c in counts.values()), "a batch is partly present"
    for msg in report.torn_tails:  # a cut is allowed only after the last acknowledged record
        assert "torn tail" in msg


def prepared_db(path, n_batches=24):
    ns = {}
    exec(BATCH_SRC, ns)
    with TickDB(path, memtable_points=1_500, block_points=256, auto_compact=False) as db:
        for i in range(1, n_batches + 1):
            ts, sym, price, size = ns["make_batch"](i)
            db.write(ts, sym, symbols=["A", "B", "C"], price=price, size=size)
        db.flush()
        segs = len(db.segments)
        want = {s: db.query(s) for s in db.symbols()}
    return segs, want


def run_compactor(path, mode, n):
    return subprocess.run(
        [sys.executable, "-c", COMPACTOR, path, mode, str(n)],
        capture_output=True, text=True, env=env(), timeout=120,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "n"), [("replace", 1), ("unlink", 1), ("unlink", 3), ("none", 0)])
def test_kill9_mid_compaction_keeps_every_point_once(tmp_path, mode, n):
    path = str(tmp_path / "db")
    segs, want = prepared_db(path)
    assert segs >= 4
    r = run_compactor(path, mode, n)
    killed = r.returncode == -signal.SIGKILL
    assert killed == (mode != "none"), r.stderr
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
    prepared_db(path, n_batches=60)
    rng = np.random.default_rng(9)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", COMPACTOR, path, "none", "0"],
                                stdout=subprocess.PIPE, text=True, env=env())  # fmt: skip
        try:
            proc.stdout.readline()  # "open": the compaction starts now
            time.sleep(float(rng.uniform(0, 0.3)))
            proc.kill()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        counts, _ = batch_counts(path)
        assert counts == {i: BATCH for i in range(1, 61)}
