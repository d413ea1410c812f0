"""rpc: the command line (serve, call, interop-server), the notebook's explorer functions and a
smoke run of the benchmark."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labsupport.measure import BackgroundProcess, free_port
from labsupport.rpc import explore
from labsupport.rpc.__main__ import main
from labsupport.rpc.bench import run as bench_run

PY = [sys.executable, "-m", "labsupport.rpc"]


def rpc(*args):
    return subprocess.run([*PY, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def desk_port():
    port = free_port()
    with BackgroundProcess([*PY, "serve", "--port", str(port)], port=port, name="rpc-serve"):
        yield port


def test_call_unary_and_stream(desk_port):
    quote = rpc("call", "--port", str(desk_port), "trading.Desk/Quote", '{"symbol": "ACME"}')
    assert quote.returncode == 0, quote.stderr
    assert quote.stdout == '{"symbol": "ACME", "bid": 99.99, "ask": 100.01}\n'
    ticks = rpc("call", "--port", str(desk_port), "trading.Desk/MarketData",
                '{"symbol": "ACME", "count": 3}')
    assert [line.count('"seq"') for line in ticks.stdout.splitlines()] == [1, 1, 1]


@pytest.mark.parametrize("args,message", [
    (["trading.Desk/Quote", '{"symbol": "NOPE"}'], "NOT_FOUND: unknown symbol 'NOPE'"),
    (["trading.Desk/Quote", "{bad"], "field request, offset 1: not JSON"),
    (["trading.Desk/Nope", "{}"], "field method: unknown method trading.Desk/Nope"),
    (["trading.Desk/SubmitBatch", "{}"], "a client-streaming method takes a JSON list"),
])
def test_call_errors_are_one_line_exit_2(desk_port, args, message):
    proc = rpc("call", "--port", str(desk_port), *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith("python -m labsupport.rpc: error: ")
    assert message in proc.stderr and proc.stderr.count("\n") == 1


def test_unreachable_server_is_unavailable(capsys):
    port = free_port()
    assert main(["call", "--port", str(port), "trading.Desk/Quote", "{}"]) == 2
    assert "UNAVAILABLE: cannot connect" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["call", "--port", "x", "a", "b"], "invalid port 'x'"),
    (["serve", "--port", "99999"], "port 99999 is not in 0..65535"),
    (["interop-server", "--transport", "carrier-pigeon"], "invalid choice"),
])
def test_bad_usage_exits_2(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("transport", ["grpc", "native"])
def test_interop_server_command(transport):
    from labsupport.rpc.client import Channel
    from labsupport.rpc.proto import interop_pb2 as pb
    from labsupport.rpc.threaded import run_sync
    port = free_port()
    with BackgroundProcess([*PY, "interop-server", "--port", str(port), "--transport", transport],
                           port=port, name="rpc-interop"):
        async def call():
            async with Channel("127.0.0.1", port, transport=transport) as ch:
                return await ch.unary("/grpc.testing.TestService/UnaryCall",
                                      pb.SimpleRequest(response_size=10), serializer="proto",
                                      response_type=pb.SimpleResponse, timeout=10)
        assert run_sync(call()).payload.body == bytes(10)


def test_interop_server_with_grpcio():
    grpc = pytest.importorskip("grpc")
    from labsupport.rpc.proto import interop_pb2 as pb
    port = free_port()
    with BackgroundProcess([*PY, "interop-server", "--port", str(port)], port=port,
                           name="rpc-interop"), grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        empty = ch.unary_unary("/grpc.testing.TestService/EmptyCall",
                               request_serializer=pb.Empty.SerializeToString,
                               response_deserializer=pb.Empty.FromString)
        assert empty(pb.Empty(), timeout=10) == pb.Empty()


def test_explore_bytes_and_costs():
    call = explore.native_call_bytes()
    assert call["request"][8] == 1 and b"/trading.Desk/Quote" in call["request"]
    assert explore.hexdump(b"AB").startswith("0000  41 42")
    assert b"\x00\x00\x00\x00\x0d" in explore.grpc_call_bytes()["request"]  # the 5-byte prefix
    costs = explore.serialization_costs(10, 10)
    assert list(costs.index) == ["json", "msgpack", "proto"]
    assert costs.loc["proto", "bytes"] < costs.loc["msgpack", "bytes"] < costs.loc["json", "bytes"]
    assert explore.decode_many(100) == explore.decode_many(100, batch=False) == 100
    sizes = explore.compression_sizes((1, 200))
    assert sizes.loc[1, "gzip"] > sizes.loc[1, "plain"]  # a tiny message grows
    assert sizes.loc[200, "deflate"] < sizes.loc[200, "plain"] // 2


def test_explorer_builds_headless(capsys):
    pytest.importorskip("ipywidgets")
    ui = explore.explorer()
    assert len(ui.children) >= 2
    assert "msgpack" in capsys.readouterr().out


def test_multiplexing_and_faults_demos():
    timings = explore.multiplexing(20)
    assert set(timings) == {"sequential_s", "concurrent_s"}
    assert explore.calls_under_faults(latency_ms=300, timeout_s=0.1) == {
        "no fault": "OK", "300 ms latency": "DEADLINE_EXCEEDED",
        "black hole": "DEADLINE_EXCEEDED", "connection cut": "UNAVAILABLE"}


def test_bench_smoke_rows():
    report = bench_run(30, callers=2, grpcio=False, peers=False)
    unary = [row for row in report.rows if row["section"] == "unary 32 B echo"]
    assert [row["name"] for row in unary] == ["ours native", "ours gRPC wire, ours client",
                                              "JSON over HTTP/1.1 (Lab 01 server)"]
    assert all(row["calls_per_s"] > 0 and row["p99_us"] >= row["p50_us"] for row in unary)
    stream = [row for row in report.rows if row["section"] == "server stream 32 B"]
    assert [(row["name"], row["messages"]) for row in stream] == [("ours native", 3000)]


def test_bench_targets_and_histograms(tmp_path, monkeypatch):
    from labsupport.measure import BenchReport, LatencyRecorder
    from labsupport.rpc import bench

    report = BenchReport("rpc")
    for name, p50, rate in (("ours native", 30.0, 60_000), ("grpcio sync, grpcio client", 100.0,
                                                            10_000),
                            ("ours gRPC wire, grpcio client", 90.0, 900),
                            ("grpc.aio, grpcio client", 95.0, 1000)):
        report.add(name, section="unary 32 B echo", p50_us=p50, calls_per_s=rate)
    report.add("ours native", section="server stream 32 B", messages_per_s=600_000)
    bench.add_targets(report)
    targets = {r["name"]: (r["measured"], r["met"]) for r in report.rows
               if r["section"] == "targets"}
    assert targets == {"native p50 / grpcio sync p50": (0.3, "yes"),
                       "native calls/s / grpcio sync calls/s": (6.0, "yes"),
                       "our gRPC server calls/s / grpc.aio's (grpcio client)": (0.9, "MISSED"),
                       "native server-stream messages/s": (600_000, "yes")}
    monkeypatch.setenv("LAB_BUILD_DIR", str(tmp_path))
    samples = {n: LatencyRecorder.from_array(n, [1000 + i for i in range(100)]) for n in "ab"}
    out = bench.save_histograms(samples)
    assert out.exists() and out.stat().st_size > 1000
