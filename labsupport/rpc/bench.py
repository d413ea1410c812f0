"""Benchmark: unary echo calls/s and latency over our two transports, grpcio and grpc.aio.

Every server runs in its own process pinned to CPU 0, the client in this process on CPU 1.
The message is 32 bytes, echoed. Two measurements per candidate: ``sequential`` (one call at a
time: p50/p99 latency) and ``concurrent`` (``--callers`` calls in flight on one connection:
calls/s). Candidates:

- ``ours native``: our native frames, our asyncio client (deadline set on every call);
- ``ours gRPC wire``: our HTTP/2 server, called by grpcio's client (the same client as below);
- ``grpcio sync`` / ``grpc.aio``: grpcio's thread-pool and asyncio servers, grpcio's client;
- ``ours gRPC wire, ours client``: our HTTP/2 client and server.

- ``JSON over HTTP/1.1``: Lab 01's server running :func:`.jsonhttp.asgi_echo`, and aiohttp
  (when installed), ``--callers`` keep-alive connections (one call in flight per connection);
- ``ours native`` again for server streaming: one call, many 32-byte messages.

Every sequential latency sample is kept (``run(..., samples=d)`` fills ``d`` with one
:class:`~labsupport.measure.LatencyRecorder` per candidate) for the histograms, which the
command writes next to its JSON report; a ``targets`` section sets the measured ratios
against the lab's targets (native p50 at most 0.35x grpcio sync's, at least 5x its calls/s,
500 k streamed messages/s, our gRPC server at least 1.0x grpc.aio's calls/s) and says which
are missed. Run it under the shared CPU lock: ``flock /tmp/lab-cpu.lock python -m
labsupport.rpc.bench``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from .. import cli
from ..measure import (
    BackgroundProcess,
    BenchReport,
    LatencyRecorder,
    display_path,
    free_port,
    scaled,
)
from .errors import RpcError
from .service import server_stream, service, unary
from .threaded import run_forever, run_sync

SERVER_CPU, CLIENT_CPU = 0, 1
PATH = "/bench.Echo/Say"
MESSAGE = b"x" * 32
PROG = "python -m labsupport.rpc.bench"


@service("bench.Echo", serializer="msgpack")
class BenchEcho:
    @unary
    async def Say(self, request: bytes, ctx: Any) -> bytes:
        return request

    @server_stream
    async def Stream(self, request: int, ctx: Any) -> AsyncIterator[bytes]:
        for _ in range(request):
            yield MESSAGE


async def _serve(kind: str, port: int) -> None:
    if kind in ("native", "grpc"):
        from .grpc_server import GrpcServer
        from .native import NativeServer
        cls = NativeServer if kind == "native" else GrpcServer
        await cls(_RawEcho() if kind == "grpc" else BenchEcho(), port=port).start()
    elif kind == "aiohttp":
        from aiohttp import web

        async def echo(request: web.Request) -> web.Response:
            return web.json_response({"echo": await request.json()})
        app = web.Application()
        app.router.add_post(PATH, echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    elif kind == "sync":
        from .peers import echo_handler, start_sync_server
        keep = start_sync_server(echo_handler(), port=port)  # noqa: F841 - a dropped server stops
    else:  # grpc.aio
        import grpc

        from .peers import echo_handler
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((echo_handler(),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
    await asyncio.Event().wait()


@service("bench.Echo", serializer="proto")
class _RawEcho:
    """For grpcio's client, which sends raw bytes as application/grpc: echo them untouched."""

    @unary
    async def Say(self, request: Any, ctx: Any) -> Any:
        return request


class _Bytes:
    """A 'protobuf class' for raw bytes: what grpcio's identity serializers amount to."""

    @staticmethod
    def FromString(data: bytes) -> _BytesMsg:
        return _BytesMsg(data)


class _BytesMsg(bytes):
    def SerializeToString(self) -> bytes:
        return bytes(self)


_RawEcho.__rpc_methods__ = {k: type(v)(v.name, v.kind, _Bytes, _Bytes, v.idempotent)
                            for k, v in _RawEcho.__rpc_methods__.items()}


def _summary(lat_ns: list[int]) -> dict[str, Any]:
    a = np.asarray(lat_ns) / 1000
    return {"p50_us": round(float(np.percentile(a, 50)), 1),
            "p99_us": round(float(np.percentile(a, 99)), 1), "_lat": lat_ns}


def ours(port: int, transport: str, n: int, callers: int) -> dict[str, float]:
    from .client import Channel

    # the gRPC-wire server speaks raw bytes as application/grpc, as grpcio's client sends them
    kw: dict[str, Any] = ({"serializer": "proto", "response_type": _Bytes}
                          if transport == "grpc" else {})
    msg = _BytesMsg(MESSAGE) if transport == "grpc" else MESSAGE

    async def main() -> dict[str, float]:
        async with Channel("127.0.0.1", port, transport=transport) as ch:
            for _ in range(50):
                await ch.unary(PATH, msg, timeout=5, **kw)
            lat = []
            for _ in range(n):
                t = time.perf_counter_ns()
                await ch.unary(PATH, msg, timeout=5, **kw)
                lat.append(time.perf_counter_ns() - t)

            async def caller() -> None:
                for _ in range(n // callers):
                    await ch.unary(PATH, msg, timeout=5, **kw)
            t = time.perf_counter()
            await asyncio.gather(*[caller() for _ in range(callers)])
            rate = (n // callers) * callers / (time.perf_counter() - t)
        return {**_summary(lat), "calls_per_s": round(rate)}

    return run_sync(main())


def ours_stream(port: int, messages: int) -> dict[str, float]:
    """Server-streaming throughput: one call, ``messages`` 32-byte messages, flow control on."""
    from .client import Channel

    async def main() -> dict[str, float]:
        async with Channel("127.0.0.1", port) as ch:
            t = time.perf_counter()
            got = 0
            async for _ in await ch.server_stream("/bench.Echo/Stream", messages, timeout=600):
                got += 1
            elapsed = time.perf_counter() - t
        return {"messages": got, "messages_per_s": round(got / elapsed)}

    return run_sync(main())


def json_http(port: int, n: int, callers: int) -> dict[str, float]:
    """JSON over HTTP/1.1 to Lab 01's server: ``callers`` keep-alive connections."""
    from .jsonhttp import JsonHttpClient
    message = MESSAGE.decode()

    async def main() -> dict[str, float]:
        clients = [await JsonHttpClient("127.0.0.1", port).connect() for _ in range(callers)]
        first = clients[0]
        for _ in range(50):
            await first.call(PATH, message)
        lat = []
        for _ in range(n):
            t = time.perf_counter_ns()
            await first.call(PATH, message)
            lat.append(time.perf_counter_ns() - t)

        async def caller(client: JsonHttpClient) -> None:
            for _ in range(n // callers):
                await client.call(PATH, message)
        t = time.perf_counter()
        await asyncio.gather(*[caller(c) for c in clients])
        rate = (n // callers) * callers / (time.perf_counter() - t)
        for c in clients:
            await c.close()
        return {**_summary(lat), "calls_per_s": round(rate)}

    return run_sync(main())


def grpcio_client(port: int, n: int, callers: int) -> dict[str, float]:
    import grpc
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(PATH)
        for _ in range(50):
            call(MESSAGE, timeout=5)
        lat = []
        for _ in range(n):
            t = time.perf_counter_ns()
            call(MESSAGE, timeout=5)
            lat.append(time.perf_counter_ns() - t)

        def caller() -> None:
            for _ in range(n // callers):
                call(MESSAGE, timeout=5)
        threads = [threading.Thread(target=caller) for _ in range(callers)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        rate = (n // callers) * callers / (time.perf_counter() - t)
    return {**_summary(lat), "calls_per_s": round(rate)}


def _server(kind: str, port: int) -> BackgroundProcess:
    argv = [sys.executable, "-m", "labsupport.rpc.bench", "--serve", kind, "--port", str(port)]
    if kind == "http":
        argv = [sys.executable, "-m", "labsupport.http", "--port", str(port),
                "--app", "labsupport.rpc.jsonhttp:asgi_echo"]
    return BackgroundProcess(argv, port=port, cpu=SERVER_CPU, name=f"rpc-{kind}")


# (label, numerator row, denominator row, metric, target, at least (True) / at most (False))
TARGETS = [
    ("native p50 / grpcio sync p50", "ours native", "grpcio sync, grpcio client", "p50_us",
     0.35, False),
    ("native calls/s / grpcio sync calls/s", "ours native", "grpcio sync, grpcio client",
     "calls_per_s", 5.0, True),
    ("our gRPC server calls/s / grpc.aio's (grpcio client)", "ours gRPC wire, grpcio client",
     "grpc.aio, grpcio client", "calls_per_s", 1.0, True),
    ("native server-stream messages/s", "ours native stream", None, "messages_per_s",
     500_000, True),
]


def add_targets(report: BenchReport) -> None:
    """A ``targets`` section: each target's measured value and whether it is met."""
    rows = {(r["name"], r.get("section")): r for r in report.rows}
    by_name = {}
    for (name, section), row in rows.items():
        key = f"{name} stream" if section == "server stream 32 B" else name
        by_name[key] = row
    for label, num, den, metric, target, at_least in TARGETS:
        if num not in by_name or (den is not None and den not in by_name):
            continue
        value = by_name[num][metric] / (by_name[den][metric] if den else 1)
        met = value >= target if at_least else value <= target
        report.add(label, section="targets", target=f"{'>=' if at_least else '<='} {target:g}",
                   measured=round(value, 2), met="yes" if met else "MISSED")


def run(n: int, callers: int = 8, grpcio: bool = True, peers: bool = True,
        samples: dict[str, LatencyRecorder] | None = None) -> BenchReport:
    """Every candidate in one run; ``grpcio``/``peers`` false leave out grpcio's and aiohttp's;
    ``samples``, when given, receives each candidate's sequential latencies."""
    report = BenchReport("rpc")
    plan: list[tuple[str, str, Any]] = [
        ("ours native", "native", lambda p: ours(p, "native", n, callers)),
        ("ours gRPC wire, ours client", "grpc", lambda p: ours(p, "grpc", n, callers)),
        ("JSON over HTTP/1.1 (Lab 01 server)", "http", lambda p: json_http(p, n, callers))]
    if peers and importlib.util.find_spec("aiohttp") is not None:
        plan.append(("JSON over HTTP/1.1 (aiohttp)", "aiohttp", lambda p: json_http(p, n, callers)))
    if importlib.util.find_spec("grpc") is None:
        grpcio = False
    if grpcio:
        plan += [("ours gRPC wire, grpcio client", "grpc", lambda p: grpcio_client(p, n, callers)),
                 ("grpc.aio, grpcio client", "aio", lambda p: grpcio_client(p, n, callers)),
                 ("grpcio sync, grpcio client", "sync", lambda p: grpcio_client(p, n, callers))]
    from ..measure import procs
    procs.pin_to_cpu(CLIENT_CPU)
    for name, kind, measure in plan:
        port = free_port()
        with _server(kind, port):
            metrics = measure(port)
            lat = metrics.pop("_lat")
            if samples is not None:
                samples[name] = LatencyRecorder.from_array(name, lat)
            report.add(name, section="unary 32 B echo", n=n, callers=callers, **metrics)
            if kind == "native":
                report.add(name, section="server stream 32 B", **ours_stream(port, 100 * n))
    add_targets(report)
    return report


def save_histograms(samples: dict[str, LatencyRecorder]) -> Any:
    """Overlaid latency histograms of every candidate, as a PNG next to the JSON report."""
    import matplotlib
    matplotlib.use("Agg")
    from ..measure import build_dir
    from ..measure.plots import plot_overlay
    figure, _ = plot_overlay(list(samples.values()), title="unary 32 B echo, sequential")
    out = build_dir() / "bench" / "rpc_latency.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100, bbox_inches="tight")
    return out


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=None, help="calls per measurement")
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--no-grpcio", action="store_true", help="skip grpcio's candidates")
    parser.add_argument("--no-peers", action="store_true", help="skip aiohttp")
    parser.add_argument("--serve", choices=("native", "grpc", "aio", "sync", "aiohttp"), help=argparse_hide())
    parser.add_argument("--port", type=int, default=0, help=argparse_hide())
    return parser


def argparse_hide() -> str:
    import argparse
    return argparse.SUPPRESS


@cli.entry(PROG, input_errors=(RpcError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve:
        run_forever(_serve(args.serve, args.port))
        return 0
    n = args.calls or scaled(300, 5000, 20000)
    samples: dict[str, LatencyRecorder] = {}
    report = run(n, args.callers, grpcio=not args.no_grpcio, peers=not args.no_peers,
                 samples=samples)
    report.print()
    report.write()
    print(f"latency histograms: {display_path(save_histograms(samples))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
