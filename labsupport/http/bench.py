"""Benchmark: this server against uvicorn, FastAPI, Flask and aiohttp, in one run.

Every server runs in its own process pinned to CPU 0; the load runs pinned to CPU 1
(``taskset``/``sched_setaffinity``), so the two do not steal each other's core. Workloads:
``hello`` (GET /hello, 13 bytes of text) and ``static`` (GET of a 64 KiB file). Tools:
``wrk`` (``-t1 -c64``, when on the PATH), the lab's ``run_load`` in closed loop (as fast as
replies come back) and in open loop (a fixed offered rate, latency measured from the
intended send time). Each (server, workload, tool) is run ``repeats`` times, the servers
interleaved inside each repeat; the table reports the median and the spread, and ratios
against uvicorn (running a raw ASGI app for ``hello``; FastAPI's StaticFiles for ``static``,
since a raw ASGI app has no file serving). ``cpu_us_per_req`` is the server process's CPU time
(user + system, from /proc) over the requests it served in that run: on a shared machine a
neighbour changes req/s a lot and CPU per request much less, so it is the steadier figure.
Servers that close the connection after every response (Flask's own server) are measured with
wrk only: ``run_load`` keeps its connections open.

Run it under the shared CPU lock: ``flock /tmp/lab-cpu.lock python -m labsupport.http.bench``.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from labsupport import cli
from labsupport.measure import (
    BackgroundProcess,
    BenchReport,
    HttpResponseFramer,
    build_dir,
    find_peer,
    free_port,
    run_load,
    scaled,
)

SERVER_CPU, LOAD_CPU = 0, 1
STATIC_NAME = "64k.bin"
BASELINE = "uvicorn raw ASGI"
# The uvicorn row each workload's ratios are taken against (raw ASGI cannot serve files).
BASELINES = {"hello": BASELINE, "static": "uvicorn FastAPI"}


@dataclass(frozen=True)
class Server:
    """How to start one candidate: argv for a port and a root, and what it can serve."""

    name: str
    argv: Callable[[int, str], list[str]]
    needs: str | None = None  # module that must be importable
    workloads: tuple[str, ...] = ("hello", "static")
    env: tuple[tuple[str, str], ...] = ()
    keeps_alive: bool = True  # False: closes after every response (run_load cannot drive it)


PY = sys.executable
SERVERS = [
    Server("ours native", lambda p, r: [PY, "-m", "labsupport.http", "--port", str(p), "--root", r,
                                        "--no-middleware"]),
    Server("ours ASGI raw", lambda p, r: [PY, "-m", "labsupport.http", "--port", str(p),
                                          "--app", "labsupport.http.app:asgi_hello"],
           workloads=("hello",)),
    Server("ours ASGI FastAPI", lambda p, r: [PY, "-m", "labsupport.http", "--port", str(p),
                                              "--app", "labsupport.http.fastapi_app:app"],
           needs="fastapi"),
    Server(BASELINE, lambda p, r: [PY, "-m", "uvicorn", "labsupport.http.app:asgi_hello", "--port", str(p),
                                   "--log-level", "warning", "--no-access-log"],
           needs="uvicorn", workloads=("hello",)),
    Server("uvicorn FastAPI", lambda p, r: [PY, "-m", "uvicorn", "labsupport.http.fastapi_app:app",
                                            "--port", str(p), "--log-level", "warning", "--no-access-log"],
           needs="fastapi"),
    Server("Flask dev server", lambda p, r: [PY, "-m", "labsupport.http.peers", "flask", "--port", str(p),
                                             "--root", r], needs="flask", keeps_alive=False),
    Server("minimal Protocol (ceiling)", lambda p, r: [PY, "-m", "labsupport.http.minimal", "protocol",
                                                       "--port", str(p)], workloads=("hello",)),
    Server("aiohttp", lambda p, r: [PY, "-m", "labsupport.http.peers", "aiohttp", "--port", str(p),
                                    "--root", r], needs="aiohttp"),
]


def make_root() -> str:
    """A directory holding the 64 KiB file of the static workload (seeded bytes)."""
    import numpy as np

    root = build_dir() / "http" / "www"
    root.mkdir(parents=True, exist_ok=True)
    path = root / STATIC_NAME
    data = np.random.default_rng(1).integers(0, 256, 65536, dtype=np.uint8).tobytes()
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return str(root)


def request_for(workload: str) -> tuple[str, bytes]:
    path = "/hello" if workload == "hello" else f"/static/{STATIC_NAME}"
    return path, b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode()


_UNITS = {"us": 1e3, "ms": 1e6, "s": 1e9}


def _wrk_latency_us(text: str, pct: str) -> float | None:
    m = re.search(rf"^\s+{pct}%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * _UNITS[m.group(2)] / 1e3 if m else None


def run_wrk(port: int, path: str, duration_s: float, connections: int = 64) -> dict[str, float]:
    """wrk -t1 -cN on the load CPU; requests/s and p50/p99 in µs from its --latency table."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency",
            f"http://127.0.0.1:{port}{path}"]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", str(LOAD_CPU), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 30).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"req_per_s": float(m.group(1)) if m else 0.0,
            "p50_us": _wrk_latency_us(out, "50"), "p99_us": _wrk_latency_us(out, "99"),
            "errors": int(errors.group(1)) if errors else 0,
            "socket_errors": sock_err.group(1) if sock_err else ""}


def run_tool(tool: str, port: int, workload: str, duration_s: float, rate: float) -> dict[str, float]:
    path, raw = request_for(workload)
    if tool == "wrk":
        return run_wrk(port, path, duration_s)
    kw = dict(connections=16, mode="closed") if tool == "closed" else \
        dict(connections=16, mode="open", rate_per_s=rate)
    res = run_load("127.0.0.1", port, request=raw, framer=HttpResponseFramer(), duration_s=duration_s,
                   warmup_s=min(0.5, duration_s / 2), cpu=LOAD_CPU, **kw)
    m = res.metrics()
    return {"req_per_s": m["req_per_s"], "p50_us": m.get("p50_us"), "p99_us": m.get("p99_us"),
            "errors": m["errors"]}


def available(names: list[str] | None = None) -> tuple[list[Server], list[str]]:
    """The candidates that can run here, and a message for each one skipped."""
    chosen, skipped = [], []
    for s in SERVERS:
        if names and s.name not in names:
            continue
        if s.needs and find_peer(s.needs) is None:
            skipped.append(f"{s.name}: skipped, {s.needs} is not installed")
            continue
        chosen.append(s)
    return chosen, skipped


def compare(workloads: list[str], tools: list[str], *, repeats: int, duration_s: float,
            open_rate: float, servers: list[str] | None = None,
            progress: Callable[[str], None] | None = None) -> tuple[BenchReport, list[str]]:
    """Run the comparison; returns the report (one row per server/workload/tool) and notes."""
    chosen, notes = available(servers)
    if "wrk" in tools and shutil.which("wrk") is None:
        tools = [t for t in tools if t != "wrk"]
        notes.append("wrk: skipped, not on the PATH")
    measured = []  # start only the servers some (workload, tool) of this run will measure
    for s in chosen:
        if not any(w in s.workloads for w in workloads):
            continue
        if not s.keeps_alive and "wrk" not in tools:
            notes.append(f"{s.name}: skipped, it closes the connection after every response and "
                         "only wrk reconnects (wrk is not in this run)")
            continue
        measured.append(s)
    chosen = measured
    root = make_root()
    samples: dict[tuple[str, str, str], list[dict]] = {}
    procs: dict[str, BackgroundProcess] = {}
    try:
        for s in chosen:
            port = free_port()
            env = {"LAB_HTTP_ROOT": root, **dict(s.env)}
            procs[s.name] = BackgroundProcess(s.argv(port, root), port=port, cpu=SERVER_CPU, env=env,
                                              name="bench-" + s.name.replace(" ", "-")
                                              ).start(wait_ready=False)
        for proc in procs.values():  # started together: the imports overlap
            proc.wait_ready()
        for rep in range(repeats):
            for workload in workloads:
                for tool in tools:
                    for s in chosen:  # interleaved: every server once per repeat
                        if workload not in s.workloads:
                            continue
                        if tool != "wrk" and not s.keeps_alive:
                            note = (f"{s.name}: {tool}-loop run_load skipped, the server closes the "
                                    "connection after every response and run_load does not reconnect")
                            if note not in notes:
                                notes.append(note)
                            continue
                        before = procs[s.name].cpu_seconds()
                        row = run_tool(tool, procs[s.name].port, workload, duration_s, open_rate)
                        after = procs[s.name].cpu_seconds()
                        # Server CPU per request: robust to a noisy neighbour, unlike req/s.
                        # (It includes the warm-up, so it is measured over all requests sent.)
                        row["cpu_us_per_req"] = None
                        if before is not None and after is not None and row["req_per_s"]:
                            total = row["req_per_s"] * (duration_s + (0 if tool == "wrk" else
                                                                      min(0.5, duration_s / 2)))
                            row["cpu_us_per_req"] = (after - before) / total * 1e6
                        samples.setdefault((s.name, workload, tool), []).append(row)
                        if progress:
                            progress(f"[{rep + 1}/{repeats}] {workload} {tool} {s.name}: "
                                     f"{row['req_per_s']:,.0f} req/s")
    finally:
        for p in procs.values():
            p.stop()
    report = BenchReport("http")
    for (name, workload, tool), rows in samples.items():
        rates = [r["req_per_s"] for r in rows]

        def med(k: str, rows: list[dict] = rows) -> float:
            return statistics.median([r[k] for r in rows if r.get(k) is not None] or [float("nan")])
        base = samples.get((BASELINES[workload], workload, tool))
        ratio = med("req_per_s") / statistics.median(r["req_per_s"] for r in base) if base else None
        errors = sum(r["errors"] for r in rows)
        if errors:
            notes.append(f"{name} {workload} {tool}: {errors} error replies (non-2xx or timeouts); "
                         "its numbers do not measure the intended work and get no ratio")
            ratio = None
        report.add(f"{name} | {workload} | {tool}", server=name, workload=workload, tool=tool,
                   req_per_s=round(med("req_per_s")), spread=f"{min(rates):,.0f}-{max(rates):,.0f}",
                   p50_us=round(med("p50_us"), 1), p99_us=round(med("p99_us"), 1),
                   cpu_us_per_req=round(med("cpu_us_per_req"), 1),
                   errors=errors,
                   vs_uvicorn=round(ratio, 2) if ratio else None)
    return report, notes


@cli.entry("python -m labsupport.http.bench")
def main(argv: list[str] | None = None) -> int:
    p = cli.ArgumentParser(prog="python -m labsupport.http.bench", description=__doc__.split("\n")[0])
    p.add_argument("--workload", nargs="+", default=["hello", "static"], choices=["hello", "static"])
    p.add_argument("--tool", nargs="+", default=["wrk", "closed", "open"], choices=["wrk", "closed", "open"])
    p.add_argument("--server", nargs="+", default=None, choices=[s.name for s in SERVERS])
    p.add_argument("--repeats", type=int, default=scaled(ci=1, default=3, full=5))
    p.add_argument("--duration", type=float, default=scaled(ci=1.0, default=2.0, full=5.0))
    p.add_argument("--open-rate", type=float, default=scaled(ci=1000, default=3000, full=5000),
                   help="offered requests/s of the open-loop run")
    p.add_argument("--out", default=None, help="JSON path (default build/bench/http.json)")
    args = p.parse_args(argv)
    report, notes = compare(args.workload, args.tool, repeats=args.repeats, duration_s=args.duration,
                            open_rate=args.open_rate, servers=args.server,
                            progress=lambda m: print(m, file=sys.stderr, flush=True))
    for n in notes:
        print(n)
    report.print()
    print("written:", os.path.relpath(report.write(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
