"""kill -9 scenarios of the tick store: a real writer or compactor process, killed, then audited.

This is the one implementation of the crash experiments: the notebook's "Break it" section and
``tests/test_tsdb_crash.py`` both run these functions, so what the notebook demonstrates is what
the tests check.

Two child processes, started as ``python -m labsupport.tsdb.crashdemo writer|compactor DB ...``:

* **writer**: writes batches forever with ``fsync="batch"`` and prints each batch number once
  ``write`` has returned (that line is the acknowledgement). Batch ``i`` is recognisable on
  disk: each of its points has ``size == i``. :func:`kill_mid_ingest` reads some
  acknowledgements, SIGKILLs the writer wherever it is (in a write, a flush, a compaction,
  foreground or background), reopens the directory and accounts for every batch.
* **compactor**: opens a prepared directory (:func:`prepare_db`) and compacts it fully. With a
  ``mode`` it kills itself at the n-th moment of that kind: ``replace`` just before the n-th
  ``os.replace`` of a segment (output written and synced, not yet renamed into place) or
  ``unlink`` just before the n-th ``os.unlink`` of a segment (output committed, some inputs
  not yet deleted). The fault is injected by wrapping the two ``os`` functions in the child
  only, so the engine's own code path runs unchanged up to the kill.

What "nothing acknowledged is lost" means, checked by :class:`IngestCrash`: every batch up to
the last acknowledgement is present with all its points, no batch is partly present (a WAL
record is all or nothing), and at most one unacknowledged batch (the one in flight) appears.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import cli
from .db import RecoveryReport, TickDB

__all__ = ["BATCH", "SYMBOLS", "IngestCrash", "batch_counts", "kill_mid_ingest", "make_batch",
           "prepare_db", "run_compactor", "start_compactor", "start_writer"]

BATCH = 2_000
T0 = 1_700_000_000 * 10**9
SYMBOLS = ("AAPL", "MSFT", "NVDA")
_MODES = ("none", "replace", "unlink")


def make_batch(i: int, n: int = BATCH) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch ``i``: out-of-order timestamps over 10 s, three symbols, every size equal to ``i``."""
    rng = np.random.default_rng(1_000 + i)
    ts = T0 + rng.integers(0, 10 * 10**9, n)  # out of order, overlapping every other batch
    sym = rng.integers(0, len(SYMBOLS), n).astype(np.uint32)
    price = rng.integers(10_000, 20_000, n) / 100
    return ts, sym, price, np.full(n, i, dtype=np.int64)


# --- the child processes ---------------------------------------------------------------------

def _writer(args) -> None:
    with TickDB(args.db, fsync="batch", memtable_points=args.memtable_points,
                block_points=args.block_points, base_bytes=args.base_bytes, fanout=args.fanout,
                background_compaction=args.background) as db:  # fmt: skip
        for i in range(1, 10**9):
            ts, sym, price, size = make_batch(i, args.batch)
            db.write(ts, sym, symbols=SYMBOLS, price=price, size=size)
            print(i, flush=True)  # acknowledged: write() returned after the WAL fsync


def _install_kill(mode: str, n: int) -> None:
    """Wrap os.replace / os.unlink so that the n-th call of ``mode`` on a segment kills us."""
    seen = {"replace": 0, "unlink": 0}
    real = {"replace": os.replace, "unlink": os.unlink}

    def counted(kind: str):
        def call(path, *rest):
            if str(rest[0] if rest else path).endswith(".seg"):
                seen[kind] += 1
                if mode == kind and seen[kind] == n:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real[kind](path, *rest)

        return call

    os.replace = counted("replace")
    os.unlink = counted("unlink")


def _compactor(args) -> None:
    _install_kill(args.mode, args.n)
    db = TickDB(args.db, memtable_points=10**9, block_points=256, auto_compact=False)
    print("open", flush=True)  # the compaction starts now
    db.compact(full=True)
    db.close()
    print("done", flush=True)


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.tsdb.crashdemo",
                           description="Child processes of the kill -9 scenarios.")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("writer", help="write batches forever, print each acknowledged batch")
    w.add_argument("db")
    w.add_argument("--batch", type=int, default=BATCH)
    w.add_argument("--memtable-points", type=int, default=20_000)
    w.add_argument("--block-points", type=int, default=1_024)
    w.add_argument("--base-bytes", type=int, default=64 << 10)
    w.add_argument("--fanout", type=int, default=4)
    w.add_argument("--background", action="store_true", help="compact in a background thread")
    c = sub.add_parser("compactor", help="compact fully, killing itself at a chosen moment")
    c.add_argument("db")
    c.add_argument("mode", choices=_MODES)
    c.add_argument("n", type=int)
    return p


@cli.entry("python -m labsupport.tsdb.crashdemo")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    (_writer if args.cmd == "writer" else _compactor)(args)
    return 0


def _child(*argv: str, **popen) -> subprocess.Popen:
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")  # this checkout's package
    return subprocess.Popen([sys.executable, "-m", "labsupport.tsdb.crashdemo", *argv],
                            text=True, env=env, **popen)  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


# --- the audit -------------------------------------------------------------------------------

def batch_counts(path: str) -> tuple[dict[int, int], RecoveryReport]:
    """{batch: points present} over every symbol after a clean open, and what the open repaired."""
    with TickDB(path) as db:
        sizes = [db.query(s)["size"] for s in db.symbols()]
        report = db.recovery
    ids, counts = np.unique(np.concatenate(sizes) if sizes else np.zeros(0, np.int64),
                            return_counts=True)  # fmt: skip
    return dict(zip(ids.tolist(), counts.tolist())), report


@dataclass(frozen=True, slots=True)
class IngestCrash:
    """What survived a kill -9 of the writer, batch by batch."""

    killed_by: str  # "SIGKILL", or the exit status if the writer ended some other way
    acknowledged: int  # acknowledgement lines read, before and after the kill
    last_acknowledged: int
    batch: int  # points per batch
    counts: dict[int, int]  # batch -> points present after reopening
    points: int
    segments: int
    replayed_from_wal: int
    torn_tails: tuple[str, ...]

    @property
    def every_acknowledged_batch_present(self) -> bool:
        return all(self.counts.get(i) == self.batch for i in range(1, self.last_acknowledged + 1))

    @property
    def partial_batches(self) -> int:
        return sum(1 for c in self.counts.values() if c != self.batch)

    @property
    def unacknowledged_batches_present(self) -> list[int]:
        return sorted(set(self.counts) - set(range(1, self.last_acknowledged + 1)))

    @property
    def nothing_acknowledged_lost(self) -> bool:
        """All acknowledged batches whole, none partial, at most the in-flight batch extra."""
        extra = self.unacknowledged_batches_present
        return (self.every_acknowledged_batch_present and self.partial_batches == 0
                and extra in ([], [self.last_acknowledged + 1]))  # fmt: skip


def start_writer(path: str, *, batch: int = BATCH, memtable_points: int = 20_000,
                 block_points: int = 1_024, base_bytes: int = 64 << 10, fanout: int = 4,
                 background: bool = False) -> subprocess.Popen:
    """The writer child, its acknowledgements on ``proc.stdout``."""
    flags = ["--background"] if background else []
    return _child("writer", path, "--batch", str(batch), "--memtable-points", str(memtable_points),
                  "--block-points", str(block_points), "--base-bytes", str(base_bytes),
                  "--fanout", str(fanout), *flags, stdout=subprocess.PIPE)  # fmt: skip


def kill_mid_ingest(path: str, acks_before_kill: int = 30, extra_delay_s: float = 0.01,
                    **writer) -> IngestCrash:
    """Start the writer, SIGKILL it after some acknowledgements, reopen, account for every batch.

    ``writer`` takes :func:`start_writer`'s keywords (batch size, memtable, compaction mode).
    """
    proc = start_writer(path, **writer)
    acked: list[int] = []
    try:
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= acks_before_kill:
                break
        time.sleep(extra_delay_s)  # land anywhere: in a write, a flush, a compaction
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        acked += [int(x) for x in rest.split()]  # printed before the kill, not yet read
    finally:
        _stop(proc)
    counts, report = batch_counts(path)
    rc = proc.returncode
    killed_by = signal.Signals(-rc).name if rc < 0 else str(rc)
    with TickDB(path) as db:
        points, segments = db.stats()["points"], len(db.segments)
    return IngestCrash(killed_by, len(acked), max(acked, default=0),
                       writer.get("batch", BATCH), counts, points, segments,
                       report.replayed_points, tuple(map(str, report.torn_tails)))  # fmt: skip


def prepare_db(path: str, n_batches: int = 24, batch: int = BATCH
               ) -> tuple[int, dict[str, dict[str, np.ndarray]]]:
    """A directory of several segments for the compactor: (segments, {symbol: full query})."""
    with TickDB(path, memtable_points=3 * batch, block_points=256, auto_compact=False) as db:
        for i in range(1, n_batches + 1):
            ts, sym, price, size = make_batch(i, batch)
            db.write(ts, sym, symbols=SYMBOLS, price=price, size=size)
        db.flush()
        return len(db.segments), {s: db.query(s) for s in db.symbols()}


def start_compactor(path: str, mode: str = "none", n: int = 0) -> subprocess.Popen:
    """The compactor child; it prints ``open`` when the compaction starts and ``done`` at the end."""
    return _child("compactor", path, mode, str(n), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_compactor(path: str, mode: str = "none", n: int = 0, timeout_s: float = 120
                  ) -> tuple[int, str]:
    """Run the compactor to its end (or its self-inflicted kill): (returncode, stderr)."""
    proc = start_compactor(path, mode, n)
    try:
        _, err = proc.communicate(timeout=timeout_s)
    finally:
        _stop(proc)
    return proc.returncode, err


if __name__ == "__main__":
    sys.exit(main())
