"""The fault proxy: the sans-IO shaper's arithmetic, then each fault measured from a real client.

The upstream is a small threaded TCP server on loopback: a line ``blob N`` is answered with N
bytes, any other line is echoed. Timing checks are lower bounds the proxy must respect (it
cannot deliver before its delay) and generous upper bounds (it does not hang).
"""

from __future__ import annotations

import random
import socket
import socketserver
import statistics
import threading
import time

import pytest

from labsupport.faults import (
    Direction,
    FaultConfigError,
    FaultProxy,
    Faults,
    Shaper,
    start_proxy,
)
from labsupport.faults.proxy import check_loopback


# -- the shaper, without sockets -------------------------------------------------------------
def shaper(seed: int = 0) -> Shaper:
    return Shaper(random.Random(seed))


def test_fixed_latency_delays_each_chunk() -> None:
    s = shaper()
    plans = [s.plan(Direction(latency_ms=20), 100, t) for t in (0.0, 1.0, 2.0)]
    assert [(p.deliver_at, p.forward, p.cut) for p in plans] == [
        (0.02, 100, False), (1.02, 100, False), (2.02, 100, False)]


def test_bandwidth_serialises_chunks() -> None:
    s = shaper()
    d = Direction(bandwidth_bps=10_000)
    plans = [s.plan(d, 1000, 0.0) for _ in range(10)]  # 10 kB offered at once
    assert [round(p.deliver_at, 9) for p in plans] == [round(0.1 * (i + 1), 9) for i in range(10)]
    assert s.plan(d, 1000, 5.0).deliver_at == pytest.approx(5.1)  # an idle link starts afresh


def test_drop_after_bytes_forwards_exactly_n_then_cuts() -> None:
    s = shaper()
    d = Direction(drop_after_bytes=100)
    plans = [s.plan(d, 40, 0.0) for _ in range(3)]
    assert [(p.forward, p.cut) for p in plans] == [(40, False), (40, False), (20, True)]


def test_blackhole_swallows_without_cutting() -> None:
    p = shaper().plan(Direction(blackhole=True, latency_ms=5), 500, 1.0)
    assert (p.forward, p.cut) == (0, False)


def test_jitter_is_seeded_bounded_centred_and_never_reorders() -> None:
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    d = Direction(latency_ms=10, jitter_ms=4)
    s = shaper(seed)
    isolated = [s.plan(d, 10, float(t)).deliver_at - t for t in range(2000)]  # 1 s apart
    assert all(0.006 - 1e-12 <= x <= 0.014 + 1e-12 for x in isolated)
    assert statistics.mean(isolated) == pytest.approx(0.010, abs=0.0003)
    again = shaper(seed)
    assert [again.plan(d, 10, float(t)).deliver_at - t for t in range(2000)] == isolated
    back_to_back = [s.plan(d, 10, i * 1e-4).deliver_at for i in range(2000)]  # 0.1 ms apart
    assert back_to_back == sorted(back_to_back)  # a byte stream is never reordered


def test_random_drop_rate_matches_the_probability() -> None:
    seed = random.randrange(1 << 30)
    print(f"seed={seed}")
    rng = random.Random(seed)
    n, p = 20_000, 0.3
    cuts = sum(Shaper(rng).plan(Direction(drop_probability=p), 10, 0.0).cut for _ in range(n))
    sigma = (n * p * (1 - p)) ** 0.5
    assert abs(cuts - n * p) < 4 * sigma


@pytest.mark.parametrize("kwargs, message", [
    ({"latency_ms": -1}, "latency_ms"),
    ({"bandwidth_bps": 0}, "bandwidth_bps"),
    ({"drop_probability": 1.5}, "drop_probability"),
    ({"drop_after_bytes": -3}, "drop_after_bytes"),
])
def test_bad_settings_are_refused(kwargs, message) -> None:
    with pytest.raises(FaultConfigError, match=message):
        Direction(**kwargs)


def test_changes_apply_to_the_named_direction() -> None:
    f = Faults().with_changes("downstream", latency_ms=7)
    assert f.downstream.latency_ms == 7 and f.upstream.latency_ms == 0
    assert Faults.from_dict(f.as_dict()) == f
    with pytest.raises(FaultConfigError, match="unknown fault setting.*latency"):
        f.with_changes(latency=5)
    with pytest.raises(FaultConfigError, match="sideways"):
        f.with_changes("sideways", latency_ms=1)


def test_upstream_must_be_loopback() -> None:
    check_loopback("127.0.0.2")
    check_loopback("::1")
    with pytest.raises(FaultConfigError, match="not a loopback address"):
        FaultProxy(("10.1.2.3", 80))


# -- the proxy, from a real client -----------------------------------------------------------
class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        try:
            for line in self.rfile:
                if line.startswith(b"blob "):
                    self.wfile.write(b"x" * int(line.split()[1]))
                else:
                    self.wfile.write(line)
                self.wfile.flush()
        except ConnectionError:
            pass


@pytest.fixture(scope="module")
def upstream():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with start_proxy(upstream, seed=7) as p:
        yield p


def connect(port: int, timeout_s: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rtts_ms(sock: socket.socket, n: int = 15) -> list[float]:
    f = sock.makefile("rwb")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        f.write(b"ping %d\n" % i)
        f.flush()
        assert f.readline() == b"ping %d\n" % i
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def read_all(sock: socket.socket) -> bytes:
    out = bytearray()
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        out += data
    return bytes(out)


def test_latency_is_added_per_direction_on_a_live_connection(proxy) -> None:
    with connect(proxy.port) as s:
        base = statistics.median(rtts_ms(s))
        proxy.set("downstream", latency_ms=30)
        down = statistics.median(rtts_ms(s))
        proxy.set("upstream", latency_ms=20)
        both = statistics.median(rtts_ms(s))
    assert 30 <= down < base + 30 + 200
    assert 50 <= both < base + 50 + 200
    stats = proxy.stats()
    assert stats["upstream_bytes_forwarded"] == stats["downstream_bytes_forwarded"] > 0
    assert stats["connections_accepted"] == 1


def test_jitter_spreads_round_trips_around_the_latency(proxy) -> None:
    proxy.set("downstream", latency_ms=20, jitter_ms=10)
    with connect(proxy.port) as s:
        samples = rtts_ms(s, 30)
    assert min(samples) >= 10 and max(samples) - min(samples) >= 5


def test_bandwidth_limit_from_a_real_download(proxy) -> None:
    rate, size = 200_000, 300_000  # bytes/s, bytes: 1.5 s at the limit
    proxy.set("downstream", bandwidth_bps=rate)
    with connect(proxy.port, timeout_s=30) as s:
        t0 = time.perf_counter()
        s.sendall(b"blob %d\n" % size)
        got = 0
        while got < size:
            got += len(s.recv(65536))
        elapsed = time.perf_counter() - t0
    measured = size / elapsed
    print(f"limit {rate} B/s, measured {measured:.0f} B/s")
    assert measured <= rate * 1.05  # never faster than the limit
    assert measured >= rate * 0.3  # and not stuck (generous: a loaded 2-core machine)


def test_drop_after_bytes_cuts_at_the_byte_count(proxy) -> None:
    proxy.set("downstream", drop_after_bytes=3000)
    with connect(proxy.port) as s:
        s.sendall(b"blob 10000\n")
        assert len(read_all(s)) == 3000
    deadline = time.monotonic() + 5
    while proxy.stats()["connections_cut"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.stats()["connections_cut"] == 1


def test_random_drops_cut_about_the_given_share_of_connections(proxy) -> None:
    proxy.set("upstream", drop_probability=0.5)  # seed 7: the same connections each run
    answered = 0
    for i in range(60):
        with connect(proxy.port) as s:
            s.sendall(b"hello %d\n" % i)
            answered += read_all_line(s) == b"hello %d\n" % i
    deadline = time.monotonic() + 5
    while proxy.stats()["connections_active"] and time.monotonic() < deadline:
        time.sleep(0.01)
    cut = proxy.stats()["connections_cut"]
    assert answered + cut == 60 and 10 <= cut <= 50


def read_all_line(s: socket.socket) -> bytes:
    try:
        return s.makefile("rb").readline()
    except ConnectionResetError:
        return b""


def test_blackhole_makes_the_client_time_out_and_clear_heals(proxy) -> None:
    proxy.set("downstream", blackhole=True)
    with connect(proxy.port, timeout_s=0.5) as s:
        s.sendall(b"anyone there?\n")
        with pytest.raises(TimeoutError):
            s.recv(100)
    assert proxy.stats()["downstream_bytes_swallowed"] == len(b"anyone there?\n")
    proxy.clear()
    with connect(proxy.port) as s:
        assert rtts_ms(s, 1)


def test_refuse_refuses_new_connections_but_keeps_live_ones(proxy) -> None:
    with connect(proxy.port) as live:
        assert rtts_ms(live, 1)  # accepted by the proxy, not just queued by the kernel
        proxy.set(refuse=True)
        with pytest.raises(ConnectionRefusedError):
            connect(proxy.port)
        assert rtts_ms(live, 2)  # the established connection carries on
        proxy.set(refuse=False)
        with connect(proxy.port) as again:  # the same port, listening again
            assert rtts_ms(again, 1)


def test_unreachable_upstream_counts_a_failed_connection() -> None:
    lonely = socket.socket()
    lonely.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        with start_proxy(lonely.getsockname()) as p, connect(p.port) as s:
            assert read_all(s) == b""
            deadline = time.monotonic() + 5
            while p.stats()["connections_failed"] < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert p.stats()["connections_failed"] == 1
    finally:
        lonely.close()


def test_close_ends_live_connections(upstream) -> None:
    p = start_proxy(upstream)
    s = connect(p.port)
    assert rtts_ms(s, 1)
    p.close()
    assert read_all(s) == b""
    s.close()


def test_explorer_builds_and_measures_headless() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from labsupport.faults.explore import fault_explorer, show_faults

    table = show_faults(latency_ms=3, jitter_ms=0, n=20)
    assert list(table.index) == ["direct", "proxy, no faults", "proxy, +3 ms"]
    (min_col,) = [c for c in table.columns if c.startswith("min (")]
    per_ms = {"ns": 1e6, "µs": 1e3, "ms": 1.0, "s": 1e-3}[min_col[5:-1]]
    assert table.loc["proxy, +3 ms", min_col] / per_ms >= 3  # never less than the delay
    assert fault_explorer(n=5).children  # the sliders and the output area
