"""Benchmark: this server against real Redis, in one run, plus the cost of each fsync policy.

Every server runs in its own process pinned to CPU 0; the load generator runs pinned to CPU 1.
Workloads, as in the lab's target:

* ``redis-benchmark -t set,get -c 50 -r 10000`` unpipelined and with ``-P 16``, requests per
  second; both servers with ``appendonly yes, appendfsync everysec``. Each case runs
  ``repeats`` times with the servers interleaved inside each repeat; the table keeps the
  median and the spread (max/min) and the ratio ours/Redis.
* single-client GET latency with the lab's ``run_load`` (closed loop, one connection,
  ``RespReplyFramer``): p50/p99.
* the fsync policies: our server with ``always``, ``everysec``, ``no`` under
  ``redis-benchmark -t set -c 50`` (and Redis with ``always`` for reference), plus the
  single-client SET p50, which shows one fdatasync per acknowledged write under ``always``.

Run it under the shared CPU lock: ``flock /tmp/lab-cpu.lock python -m labsupport.kv.bench``.
redis-benchmark and redis-server are skipped with a message when absent.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from labsupport import cli
from labsupport.measure import BenchReport, RespReplyFramer, run_load, scaled

from .errors import KvError
from .launch import kv_process, redis_process
from .resp import encode_command

SERVER_CPU, LOAD_CPU = 0, 1
GET = encode_command([b"GET", b"key:000000001234"])
SET = encode_command([b"SET", b"key:000000001234", b"xxx"])


def redis_benchmark(port: int, tests: str, n: int, clients: int = 50, pipeline: int = 1,
                    cpu: int | None = LOAD_CPU) -> dict[str, float]:
    """Run redis-benchmark against ``port``; returns {test: requests per second}."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise FileNotFoundError("redis-benchmark is not installed")
    argv = [exe, "-h", "127.0.0.1", "-p", str(port), "-t", tests, "-n", str(n), "-c",
            str(clients), "-P", str(pipeline), "-r", "10000", "--csv"]

    def pin():
        if cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {cpu})

    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, preexec_fn=pin,
                         check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return {r[0].lower(): float(r[1]) for r in rows[1:] if len(r) > 1}


def _servers(workdir: str, fsync: str = "everysec"):
    """(name, BackgroundProcess) for ours and, when installed, real Redis."""
    ours_dir, redis_dir = (os.path.join(workdir, k + "-" + fsync) for k in ("ours", "redis"))
    os.makedirs(ours_dir, exist_ok=True)
    os.makedirs(redis_dir, exist_ok=True)
    out = [("ours", kv_process(ours_dir, appendonly=True, appendfsync=fsync, cpu=SERVER_CPU))]
    real = redis_process(redis_dir, appendonly=True, appendfsync=fsync, cpu=SERVER_CPU)
    if real is not None:
        out.append(("redis", real))
    return out


def _spread(xs: list[float]) -> float:
    return max(xs) / min(xs) if min(xs) > 0 else float("nan")


def throughput(n: int, repeats: int = 3, workdir: str | None = None) -> list[dict]:
    """redis-benchmark GET/SET, unpipelined and -P 16, servers interleaved; median rows."""
    workdir = workdir or tempfile.mkdtemp(prefix="kv-bench-")
    samples: dict[tuple[str, str, int], list[float]] = {}
    servers = _servers(workdir)
    with contextlib.ExitStack() as stack:
        for _, proc in servers:
            stack.enter_context(proc)
        for _ in range(repeats):
            for pipeline, count in ((1, n), (16, n * 4)):
                for name, proc in servers:
                    rps = redis_benchmark(proc.port, "set,get", count, pipeline=pipeline)
                    for test, v in rps.items():
                        samples.setdefault((name, test, pipeline), []).append(v)
    rows = []
    for (name, test, pipeline), xs in sorted(samples.items()):
        row = {"server": name, "test": test.upper(), "pipeline": pipeline,
               "rps_median": statistics.median(xs), "spread": _spread(xs), "runs": len(xs)}
        peer = samples.get(("redis", test, pipeline))
        if peer and name == "ours":
            row["ratio_vs_redis"] = row["rps_median"] / statistics.median(peer)
        rows.append(row)
    return rows


def single_client(duration_s: float, workdir: str | None = None) -> list[dict]:
    """One connection, closed loop, GET then SET: p50/p99 per server (lab's run_load)."""
    workdir = workdir or tempfile.mkdtemp(prefix="kv-bench-")
    rows = []
    for _name, proc in _servers(workdir):
        name = _name
        with proc:
            for label, req in (("GET", GET), ("SET", SET)):
                res = run_load("127.0.0.1", proc.port, request=req, framer=RespReplyFramer(),
                               connections=1, duration_s=duration_s, warmup_s=0.3, cpu=LOAD_CPU)
                s = res.summary()
                rows.append({"server": name, "test": label, "p50_us": s.p50_ns / 1000,
                             "p99_us": s.p99_ns / 1000, "rps": res.throughput_per_s})
    return rows


def latency_runs(port: int, duration_s: float, cpu: int | None = LOAD_CPU) -> list:
    """Single-connection closed-loop GET and SET, unpipelined and 16 deep: LoadResults."""
    out = []
    for label, req, depth in (("GET", GET, 1), ("SET", SET, 1), ("GET x16", GET, 16),
                              ("SET x16", SET, 16)):
        out.append(run_load("127.0.0.1", port, request=req, framer=RespReplyFramer(),
                            connections=1, pipeline=depth, duration_s=duration_s,
                            warmup_s=0.2, cpu=cpu, name=label))
    return out


def fsync_policies(n: int, duration_s: float, workdir: str | None = None) -> list[dict]:
    """SET throughput (-c 50) and single-client SET p50 for each appendfsync policy."""
    workdir = workdir or tempfile.mkdtemp(prefix="kv-bench-")
    rows = []
    for policy in ("always", "everysec", "no"):
        for name, proc in _servers(workdir, policy):
            if name == "redis" and policy != "always":
                continue
            with proc:
                rps = redis_benchmark(proc.port, "set", n)["set"]
                res = run_load("127.0.0.1", proc.port, request=SET, framer=RespReplyFramer(),
                               connections=1, duration_s=duration_s, warmup_s=0.2, cpu=LOAD_CPU)
                rows.append({"server": name, "appendfsync": policy, "set_rps_c50": rps,
                             "single_set_p50_us": res.summary().p50_ns / 1000})
    return rows


@cli.entry("python -m labsupport.kv.bench", input_errors=(KvError,))
def main(argv=None) -> int:
    p = cli.ArgumentParser(prog="python -m labsupport.kv.bench",
                           description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=scaled(ci=20_000, default=100_000,
                                                          full=500_000))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--duration", type=float, default=scaled(ci=1.0, default=2.0, full=5.0))
    a = p.parse_args(argv)
    report = BenchReport("kv")
    if shutil.which("redis-benchmark") is None:
        print("redis-benchmark not installed: throughput comparison skipped")
    else:
        for row in throughput(a.requests, a.repeats):
            report.add(f"{row['server']} {row['test']} P{row['pipeline']}", section="redis-benchmark, -c 50", **row)
    for row in single_client(a.duration):
        report.add("{} {} 1 client".format(row["server"], row["test"]), section="single client (run_load)", **row)
    if shutil.which("redis-benchmark") is not None:
        for row in fsync_policies(a.requests // 2, a.duration):
            report.add("{} SET fsync={}".format(row["server"], row["appendfsync"]), section="fsync policies", **row)
    report.print()
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
