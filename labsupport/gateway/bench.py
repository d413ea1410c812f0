"""Benchmark: the gateway against nginx, HAProxy and Envoy in front of the same Lab 01 backends.

``python -m labsupport.gateway.bench [--quick] [--duration S] [--connections N] [--backend
minimal|hello] [--crowd N]`` (``main(argv) -> int``), run under the shared CPU lock by whoever
runs benchmarks. Layout on a 2-core machine: each proxy in turn pinned to CPU 0 (nginx with one
worker, HAProxy with one thread, Envoy with one worker, the gateway is one process), the two Lab
01 backends and the load generator pinned to CPU 1. The proxied backends are Lab 01's cheapest
answer by default (``minimal``: ``python -m labsupport.http.minimal protocol``, the fixed hello
of the Protocol floor) so that as little as possible of CPU 1 goes to them; ``--backend hello``
uses the full Lab 01 server (``GET /hello``, parsed and routed).

Rows (``BenchReport``, section by workload):

* ``proxy``: closed loop, ``connections`` keep-alive clients, GET /hello through each proxy;
  the ``direct`` row is the load straight at one backend;
* ``open``: open loop at a fixed offered rate (a fraction of nginx's closed-loop rate), so p99
  is compared at the same offered load, from the intended send times;
* ``cache``: the gateway answering /hello from its cache (route ``cache_ttl_s``) against Lab
  01's full server answering its plain hello (the cache-hit target's yardstick) and against
  nginx, HAProxy and Envoy answering from their caches with the same TTL;
* ``limit``: one recorded bursty trace (``policies.bursty_times``) replayed open loop through
  each, all limiting the one client key with the same ``rate``/``burst`` (``policies.LIMIT``):
  429 counts side by side and against the exact reference (nginx's accounting) on the times
  each replay really sent and on the trace's planned times;
* ``crowd``: ``--crowd`` client connections held at once through the gateway, each making two
  requests: errors must be 0.

Closed-loop rows carry ``cpu_us_per_req`` (the CPU time the server process, nginx with its
workers, spent per request, read from /proc: on a crowded machine the steadier comparison),
``server_pct`` (percent of one core the server used over the measured window), ``cpu0_pct`` and
``cpu1_pct`` (each core's utilisation, other programs included) and ``limit``: which side
saturated (``server``, ``load core``, ``server core`` or ``neither``; :mod:`.cpuload`). A proxy
row whose ``limit`` is ``load core`` measured the backends and the load generator, not the
proxy: compare such proxies by ``cpu_us_per_req``.

The peers come from ``labsupport.services.httpproxies`` (round robin, keep-alive to the
backends, each with the gateway's cache and rate-limit settings in its own model); one that is
not installed is skipped with the package that provides it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from labsupport import cli
from labsupport.measure import (
    BackgroundProcess,
    BenchReport,
    HttpResponseFramer,
    free_port,
    run_load,
    scaled,
)
from labsupport.services import httpproxies
from labsupport.services.brokers import BrokerUnavailable
from labsupport.services.httpproxies import RateLimit

from . import policies
from .cpuload import CpuWatch, limit
from .lab import run_sync

PY = sys.executable
PROXY_CPU, LOAD_CPU = 0, 1
HELLO = b"GET /hello HTTP/1.1\r\nhost: bench\r\n\r\n"
CACHE_TTL_S = 60
BACKENDS = {"minimal": ["-m", "labsupport.http.minimal", "protocol", "--port"],
            "hello": ["-m", "labsupport.http", "--no-middleware", "--port"],
            "demo": ["-m", "labsupport.gateway.backend", "--port"]}
PEERS = {"nginx": httpproxies.nginx, "haproxy": httpproxies.haproxy, "envoy": httpproxies.envoy}


#: The comparison's gateway routes over one pool: plain, cached, rate limited (prefix, cache, limit).
COMPARE_ROUTES = (("/", False, None), ("/cached", True, None), ("/limited", False, policies.LIMIT))


def _gateway_config(backends: list[int], routes: Sequence[tuple[str, bool, RateLimit | None]]
                    ) -> str:
    servers = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    text = (f'[listen]\nport = 0\n[[upstream]]\nname = "hello"\nservers = [{servers}]\n'
            'max_connections = 256\nconnect_timeout_s = 5.0\n')
    for prefix, cache, rate_limit in routes:
        text += f'[[route]]\nprefix = "{prefix}"\nupstream = "hello"\n'
        text += f"cache_ttl_s = {CACHE_TTL_S}\n" if cache else ""
        if rate_limit is not None:
            text += (f"rate_limit = {{ rate_per_s = {rate_limit.rate_per_s}, "
                     f'burst = {rate_limit.burst}, key = "{rate_limit.key}" }}\n')
    return text


def _gateway(backends: list[int], workdir: Path,
             routes: Sequence[tuple[str, bool, RateLimit | None]]) -> BackgroundProcess:
    port = free_port()
    conf = workdir / "gateway.toml"
    conf.write_text(_gateway_config(backends, routes))
    return BackgroundProcess([PY, "-m", "labsupport.gateway", "--config", str(conf),
                              "--port", str(port)], port=port, cpu=PROXY_CPU, name="gateway")


def _load(port: int, connections: int, duration_s: float, rate: float | None = None,
          pid: int | None = None, path: str = "/hello") -> dict:
    """One load run's metrics; with ``pid`` also the server's ``cpu_us_per_req`` (its CPU time
    over the measured window per completed request, the cost of a request that a crowded
    machine's scheduling does not blur), the CPU shares and which side saturated."""
    warmup_s = min(0.5, duration_s / 2)
    with CpuWatch(pid) as watch:
        request = HELLO if path == "/hello" else HELLO.replace(b"/hello", path.encode(), 1)
        result = run_load("127.0.0.1", port, request=request, framer=HttpResponseFramer(),
                          mode="open" if rate else "closed", rate_per_s=rate,
                          connections=connections, duration_s=duration_s,
                          warmup_s=warmup_s, cpu=LOAD_CPU)
    row = result.metrics()
    if pid is None:
        return row
    shares = watch.window(result.elapsed_s)
    if shares["server_pct"] is not None and row["completed"]:
        row["cpu_us_per_req"] = round(1e4 * shares["server_pct"] / row["req_per_s"], 1)
    row.update(shares)
    row["limit"] = limit(shares, PROXY_CPU, LOAD_CPU)
    return row


@contextlib.contextmanager
def stack(*, cache: bool = False, demo: bool = False, n_backends: int = 2,
          rate_limit: RateLimit | None = None, backend: str = "hello",
          compare: bool = False, yardstick: bool = False) -> Iterator[dict]:
    """Backends and the gateway as processes (pinned as in the module docstring).

    Yields ``{"gateway": port, "backends": [ports], "pids": {port: pid}}``. ``backend`` is a
    key of ``BACKENDS``: Lab 01's ``hello`` server, its ``minimal`` floor, or ``demo``, the
    named demo backends (``labsupport.gateway.backend``: X-Backend on every answer), which
    ``demo=True`` also selects. The gateway has one route, ``/``, with ``cache`` and
    ``rate_limit``; with ``compare`` it has ``COMPARE_ROUTES`` instead. ``yardstick`` runs
    one more Lab 01 ``hello`` server outside its pool, the cache's yardstick (``"hello": port``).
    """
    kind = "demo" if demo else backend
    ports = [free_port() for _ in range(n_backends)]
    argv = [[PY, *BACKENDS[kind], str(p)] + (["--name", f"backend-{chr(97 + i)}"]
                                             if kind == "demo" else [])
            for i, p in enumerate(ports)]
    extra = [free_port()] if yardstick else []
    argv += [[PY, *BACKENDS["hello"], str(p)] for p in extra]
    procs = [BackgroundProcess(a, port=p, cpu=LOAD_CPU, name=f"backend{i}")
             for i, (a, p) in enumerate(zip(argv, ports + extra, strict=True))]
    routes = COMPARE_ROUTES if compare else (("/", cache, rate_limit),)
    with tempfile.TemporaryDirectory(prefix="gw-bench-") as tmp:
        started: list[BackgroundProcess] = []
        try:
            for proc in procs:
                started.append(proc.start())
            gw = _gateway(ports, Path(tmp), routes).start()
            started.append(gw)
            pids = {proc.port: proc.proc.pid for proc in started}
            yield {"gateway": gw.port, "backends": ports, "pids": pids,
                   **({"hello": extra[0]} if extra else {})}
        finally:
            for proc in reversed(started):
                proc.stop()


@contextlib.contextmanager
def peers(backends: list[int], log: Callable[[str], None], pids: dict[int, int] | None = None,
          **policy: object) -> Iterator[list[tuple[str, int]]]:
    """nginx, HAProxy and Envoy started in front of ``backends`` (ports), pinned to the proxy
    core, each with ``policy`` (the gateway's ``rate_limit``/``cache_ttl_s``); yields
    ``[(name, port)]`` of those that started, logs the absent ones, stops them all on exit.
    Each one's pid goes into ``pids`` under its port."""
    with contextlib.ExitStack() as running:
        out = []
        for name, start in PEERS.items():
            try:
                broker = start([("127.0.0.1", p) for p in backends], cpu=PROXY_CPU, **policy)
            except BrokerUnavailable as exc:
                log(f"skipped {name}: {exc}")
                continue
            running.callback(broker.stop)
            out.append((name, broker.port))
            if pids is not None:
                pids[broker.port] = broker.pid
        yield out


def run(report: BenchReport, *, connections: int, duration_s: float, open_fraction: float,
        open_loop: bool = True, cache: bool = True, limit_trace: int = 0, crowd: int = 0,
        backend: str = "minimal", log: Callable[[str], None] = print) -> None:
    """Fill ``report`` (see the module docstring); ``open_loop`` and ``cache`` add those
    sections, ``limit_trace`` (requests in the trace, 0: none) the rate-limit one, ``crowd``
    (connections, 0: none) the crowd one; ``backend`` is what the proxies forward to."""
    said: set[str] = set()

    def once(line: str) -> None:  # a skipped peer is said once, not once per section
        if line not in said:
            said.add(line)
            log(line)

    with stack(backend=backend, compare=True, yardstick=cache) as st:
        ports, pids = st["backends"], st["pids"]
        report.add("direct (one backend)", section="proxy", backend=backend,
                   **_load(ports[0], connections, duration_s, pid=pids[ports[0]]))
        with peers(ports, once, pids) as started:
            candidates = [("gateway", st["gateway"]), *started]
            rates = {}
            for name, port in candidates:
                row = _load(port, connections, duration_s, pid=pids[port])
                rates[name] = row["req_per_s"]
                report.add(name, section="proxy", **row)
            offered = open_fraction * rates.get("nginx", rates["gateway"])
            for name, port in candidates if open_loop else ():
                report.add(name, section="open", **_load(port, connections, duration_s,
                                                         rate=offered))
        if cache:
            report.add("Lab 01 server plain hello", section="cache",
                       **_load(st["hello"], connections, duration_s, pid=pids[st["hello"]]))
            report.add("gateway cache hit", section="cache",
                       **_load(st["gateway"], connections, duration_s, pid=pids[st["gateway"]],
                               path="/cached/hello"))
            with peers(ports, once, pids, cache_ttl_s=CACHE_TTL_S) as started:
                for name, port in started:
                    report.add(f"{name} cache hit", section="cache",
                               **_load(port, connections, duration_s, pid=pids[port]))
        if limit_trace:
            _limit_rows(report, limit_trace, once, st)
    if crowd:
        from .lab import crowd_run

        report.add("gateway", section="crowd", **crowd_run(crowd, requests_each=2))


def _limit_rows(report: BenchReport, n: int, log: Callable[[str], None], st: dict) -> None:
    """The rate-limit section on ``st``, a comparison stack (its ``/limited`` route)."""
    rate_limit = policies.LIMIT
    times = policies.bursty_times(n, rate_limit.rate_per_s)
    reference = policies.reference_rejections(times, rate_limit)
    with peers(st["backends"], log, rate_limit=rate_limit) as started:
        limited = functools.partial(policies.replay, path="/limited/hello")
        counts = {"gateway": run_sync(limited, st["gateway"], times)}
        counts.update((name, run_sync(policies.replay, port, times)) for name, port in started)
    nginx = counts["nginx"].statuses.get(429) if "nginx" in counts else None
    for name, (statuses, _) in counts.items():
        rejected = statuses.get(429, 0)
        report.add(name, section="limit", requests=len(times), rejected_429=rejected,
                   reference_as_sent=counts[name].reference, reference_as_planned=reference,
                   other=sum(statuses.values()) - rejected - statuses.get(200, 0),
                   vs_nginx=round(rejected / nginx, 4) if nginx else None)


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.gateway.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    p.add_argument("--connections", type=int, default=None)
    p.add_argument("--duration", type=float, default=None, help="seconds per measurement")
    p.add_argument("--backend", choices=["minimal", "hello"], default="minimal",
                   help="what the proxies forward to (Lab 01's floor or its full server)")
    p.add_argument("--crowd", type=int, default=None,
                   help="connections held at once through the gateway (0: skip)")
    p.add_argument("--json", default=None, help="where to write the report")
    return p


@cli.entry("python -m labsupport.gateway.bench")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    connections = args.connections or (8 if args.quick else scaled(ci=16, default=64, full=256))
    duration = args.duration or (0.5 if args.quick else scaled(ci=1.0, default=3.0, full=10.0))
    trace = 300 if args.quick else scaled(ci=600, default=3000, full=10_000)
    crowd = args.crowd if args.crowd is not None else (
        200 if args.quick else scaled(ci=1000, default=10_000, full=10_000))
    report = BenchReport("gateway")
    run(report, connections=connections, duration_s=duration, open_fraction=0.5,
        limit_trace=trace, crowd=crowd, backend=args.backend)
    report.print()
    print(f"wrote {report.write(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
