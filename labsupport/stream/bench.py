"""Benchmark of Lab 03: raw transport ceilings, the pipeline per transport, bytewax, open-loop p99.

    python -m labsupport.stream.bench [--ticks N] [--transports zmq,redis,rabbitmq] [--json PATH]

One run, one table, in sections:

- ``ceiling``: what each transport alone moves, 100-byte messages over loopback: pyzmq
  PUSH/PULL to another process, Redis XADD pipelined, RabbitMQ publishes with confirms (pika);
- ``clean``: the rules alone on one core: the per-tick reference, the batch loop, the numpy
  passes, the compiled kernel;
- ``disk``: what one fdatasync of an appended 4 kB costs on the disk the stores live on (every
  commit pays one for the dead letters and one for the WAL record);
- ``pipeline``: source to durable in the tick store, per transport and worker count (closed
  loop: as fast as it goes, bounded by the in-flight window), with the worst consumer lag of
  any partition;
- ``peer``: the same rules as a bytewax dataflow (skipped with the reason if not installed) and,
  quoted as published, LinkedIn's Kafka benchmark (2 M writes/s on three machines, 2014);
- ``open loop``: ticks offered at a fixed rate by the paced source (Lab 09's absolute schedule)
  over ZeroMQ, batches closed by size or 1 ms linger, latency from the intended time of each
  batch's oldest tick to durable (no coordinated omission), then the p99 of each stage.

Numbers on a shared 2-core machine are noise in absolute terms; the ratios are the point.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections.abc import Sequence

import numpy as np

from ..measure import BenchReport, scaled
from .brokers import running_broker
from .clean import clean_reference
from .gen import make_ticks, write_ticks
from .peers import bytewax_available, bytewax_clean
from .pipeline import RunResult, run_pipeline
from .vector import METHODS, clean_batch

__all__ = ["main", "zmq_ceiling", "redis_ceiling", "rabbit_ceiling", "clean_rates",
           "fsync_cost", "worst_lag", "pipeline_rate", "pipeline_run", "open_loop"]

PAYLOAD = b"x" * 100


def _pull(addr: str, n: int) -> None:
    import zmq

    s = zmq.Context().socket(zmq.PULL)
    s.connect(addr)
    for _ in range(n):
        s.recv()
    s.close()


def zmq_ceiling(n: int = 200_000) -> float:
    """PUSH/PULL messages/s of 100 bytes to another process over loopback TCP."""
    import zmq

    s = zmq.Context.instance().socket(zmq.PUSH)
    s.bind("tcp://127.0.0.1:*")
    proc = mp.get_context("fork").Process(target=_pull,
                                          args=(s.getsockopt_string(zmq.LAST_ENDPOINT), n))
    proc.start()
    t0 = time.perf_counter()
    for _ in range(n):
        s.send(PAYLOAD)
    proc.join()
    rate = n / (time.perf_counter() - t0)
    s.close()
    return rate


def redis_ceiling(url: str, n: int = 50_000, pipe: int = 100) -> float:
    import redis

    r = redis.Redis.from_url(url)
    r.delete("bench")
    t0 = time.perf_counter()
    for a in range(0, n, pipe):
        p = r.pipeline(transaction=False)
        for _ in range(min(pipe, n - a)):
            p.xadd("bench", {"d": PAYLOAD})
        p.execute()
    rate = n / (time.perf_counter() - t0)
    r.delete("bench")
    return rate


def rabbit_ceiling(url: str, n: int = 5_000) -> float:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.queue_declare("bench", durable=True)
    ch.confirm_delivery()
    t0 = time.perf_counter()
    for _ in range(n):
        ch.basic_publish("", "bench", PAYLOAD, pika.BasicProperties(delivery_mode=2))
    rate = n / (time.perf_counter() - t0)
    ch.queue_delete("bench")
    conn.close()
    return rate


def clean_rates(n: int) -> dict[str, float]:
    """Ticks/s of the rules alone on one core: the reference and each batch method."""
    lines = make_ticks(n, seed=5)
    numbered = list(enumerate(lines, 2))
    clean_batch([2], lines[:1], {})  # load the compiled kernels before the clock starts
    t0 = time.perf_counter()
    clean_reference(numbered)
    out = {"reference": n / (time.perf_counter() - t0)}
    for method in METHODS:
        states: dict = {}
        t0 = time.perf_counter()
        for a in range(0, n, 1000):
            part = numbered[a:a + 1000]
            clean_batch([i for i, _ in part], [r for _, r in part], states, method=method)
        out[method] = n / (time.perf_counter() - t0)
    return out


def fsync_cost(where: str | None = None, n: int = 200) -> dict[str, float]:
    """p50/p99 (ms) of one fdatasync after appending 4 kB to a file in ``where``."""
    fd, path = tempfile.mkstemp(prefix="fsync-", dir=where)
    try:
        ts = []
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter_ns()
            os.fdatasync(fd)
            ts.append(time.perf_counter_ns() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    p50, p99 = np.percentile(ts, [50, 99]) / 1e6
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}


def worst_lag(r: RunResult) -> tuple[int, int]:
    """(lines, partition) of the largest consumer lag any partition had during the run."""
    lag = r.lag_frame()
    if lag.empty:
        return 0, -1
    col = lag.max().idxmax()
    return int(lag[col].max()), int(col[1:])


def pipeline_rate(src: str, transport: str, url: str, workers: int, batch: int = 2000
                  ) -> tuple[float, float]:
    """(ticks/s, p99 latency ms) of one closed-loop run into a fresh store."""
    r = pipeline_run(src, transport, url, workers, batch)
    lat = r.latencies()
    return r.rate, float(np.percentile(lat, 99)) / 1e6 if lat.size else float("nan")


def pipeline_run(src: str, transport: str, url: str, workers: int, batch: int = 2000
                 ) -> RunResult:
    """One closed-loop run into a fresh store (removed after)."""
    db = tempfile.mkdtemp(prefix="stream-bench-")
    try:
        return run_pipeline(src, db, transport=transport, url=url, workers=workers, batch=batch)
    finally:
        shutil.rmtree(db, ignore_errors=True)


def open_loop(rate: int, n: int) -> tuple[dict[str, float], RunResult]:
    """Offer ``n`` ticks at ``rate``/s over ZeroMQ: latency percentiles in ms, and the run."""
    tmp = tempfile.mkdtemp(prefix="stream-open-")
    try:
        src = write_ticks(os.path.join(tmp, "t.csv"), n, dirt=0.02, seed=7,
                          step_ns=max(1, 10**9 // rate))
        r = run_pipeline(src, os.path.join(tmp, "db"), workers=2, batch=1000, paced=True)
        lat = r.latencies() / 1e6
        p = np.percentile(lat, [50, 99, 99.9]) if lat.size else [float("nan")] * 3
        return {"offered_per_s": rate, "p50_ms": p[0], "p99_ms": p[1], "p99.9_ms": p[2],
                "max_ms": float(lat.max()) if lat.size else float("nan")}, r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labsupport.stream.bench", description=__doc__)
    ap.add_argument("--ticks", type=int, default=scaled(20_000, 200_000, 1_000_000))
    ap.add_argument("--transports", default="zmq,redis,rabbitmq")
    ap.add_argument("--json", default=None, help="where to write the JSON report")
    args = ap.parse_args(argv)
    rep = BenchReport("stream")
    n = args.ticks
    rep.add("pyzmq PUSH/PULL", section="ceiling", msgs_per_s=round(zmq_ceiling(max(n, 20_000))))
    rep.add("fdatasync of 4 kB appended", section="disk", **fsync_cost())
    rates = clean_rates(min(n, 50_000))
    for name, rate in rates.items():
        rep.add(f"rules: {name}", section="clean", ticks_per_s=round(rate),
                vs_reference=round(rate / rates["reference"], 2))
    tmp = tempfile.mkdtemp(prefix="stream-bench-src-")
    try:
        src = write_ticks(os.path.join(tmp, "ticks.csv"), n, dirt=0.02, seed=1)
        ours = {}
        for kind in args.transports.split(","):
            with running_broker(kind, None) as url:
                if kind == "redis":
                    rep.add("Redis XADD, pipelined", section="ceiling",
                            msgs_per_s=round(redis_ceiling(url)))
                elif kind == "rabbitmq":
                    rep.add("RabbitMQ publish + confirm (pika)", section="ceiling",
                            msgs_per_s=round(rabbit_ceiling(url)))
                for workers in (1, 2):
                    r = pipeline_run(src, kind, url, workers)
                    lat = r.latencies()
                    lag, part = worst_lag(r)
                    ours[(kind, workers)] = r.rate
                    rep.add(f"ours over {kind}, {workers} worker(s)", section="pipeline",
                            ticks_per_s=round(r.rate),
                            p99_ms=round(float(np.percentile(lat, 99)) / 1e6, 2),
                            max_lag_lines=lag, of_partition=part)
        why = bytewax_available()
        if why is None:
            raws = make_ticks(min(n, 50_000), seed=1, dirt=0.02)
            t0 = time.perf_counter()
            bytewax_clean(raws)
            bw = len(raws) / (time.perf_counter() - t0)
            best = max(ours.values()) if ours else float("nan")
            rep.add("bytewax, same rules", section="peer", ticks_per_s=round(bw),
                    ours_vs_peer=round(best / bw, 2))
        else:
            print(f"skipped bytewax: {why}")
        rep.add("Kafka, LinkedIn 2014 (published, 3 machines)", section="peer",
                ticks_per_s=2_000_000)
        stats, r = open_loop(100_000, scaled(5_000, 50_000, 200_000))
        lag, part = worst_lag(r)
        rep.add("open loop over zmq", section="open loop", max_lag_lines=lag,
                **{k: round(v, 3) for k, v in stats.items()})
        for stage, row in r.stage_table().iterrows():
            rep.add(f"  stage: {stage}", section="open loop", p50_ms=round(row.p50_ms, 3),
                    p99_ms=round(row.p99_ms, 3))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rep.print()
    print(f"wrote {rep.write(args.json)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
