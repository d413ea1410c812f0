"""A writer process to kill -9, and the check of what survived (used by the notebook).

``python -m labsupport.tsdb.crashdemo DB`` writes batches forever with ``fsync="batch"``,
printing each batch number once ``write`` has returned (the acknowledgement). Batch ``i``
is recognisable on disk: each of its points has ``size == i``. :func:`kill_mid_ingest`
starts it, reads some acknowledgements, kills it with SIGKILL at an arbitrary moment (in
a write, a flush or a compaction), reopens the directory and counts batch by batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from .db import TickDB

BATCH = 2_000
T0 = 1_700_000_000 * 10**9
SYMBOLS = ["AAPL", "MSFT", "NVDA"]


def make_batch(i: int, n: int = BATCH):
    """Batch ``i``: out-of-order timestamps over 10 s, three symbols, every size equal to i."""
    rng = np.random.default_rng(1_000 + i)
    ts = T0 + rng.integers(0, 10 * 10**9, n)
    sym = rng.integers(0, len(SYMBOLS), n).astype(np.uint32)
    price = rng.integers(10_000, 20_000, n) / 100
    return ts, sym, price, np.full(n, i, dtype=np.int64)


def writer_main(path: str) -> None:
    with TickDB(
        path, fsync="batch", memtable_points=20_000, block_points=1_024, base_bytes=64 << 10
    ) as db:
        for i in range(1, 10**9):
            ts, sym, price, size = make_batch(i)
            db.write(ts, sym, symbols=SYMBOLS, price=price, size=size)
            print(i, flush=True)


def survivors(path: str) -> tuple[dict[int, int], TickDB]:
    """{batch: points present} after opening the directory (returned open for inspection)."""
    db = TickDB(path)
    sizes = [db.query(s)["size"] for s in db.symbols()]
    ids, counts = np.unique(
        np.concatenate(sizes) if sizes else np.zeros(0, np.int64), return_counts=True
    )
    return dict(zip(ids.tolist(), counts.tolist())), db


def kill_mid_ingest(path: str, acks_before_kill: int = 30, extra_delay_s: float = 0.01) -> dict:
    """Start the writer, SIGKILL it after some acknowledgements, reopen and account for every batch."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "labsupport.tsdb.crashdemo", path],
                            stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    acked: list[int] = []
    try:
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= acks_before_kill:
                break
        time.sleep(extra_delay_s)
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        acked += [int(x) for x in rest.split()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    counts, db = survivors(path)
    try:
        last = max(acked)
        return {
            "killed_by": signal.Signals(-proc.returncode).name
            if proc.returncode < 0
            else proc.returncode,
            "acknowledged": len(acked),
            "every_acknowledged_batch_present": all(
                counts.get(i) == BATCH for i in range(1, last + 1)
            ),
            "partial_batches": sum(1 for c in counts.values() if c != BATCH),
            "unacknowledged_batches_present": sorted(set(counts) - set(range(1, last + 1))),
            "points": db.stats()["points"],
            "segments": len(db.segments),
            "replayed_from_wal": db.recovery.replayed_points,
            "torn_tails": db.recovery.torn_tails,
        }
    finally:
        db.close()


if __name__ == "__main__":
    writer_main(sys.argv[1])
