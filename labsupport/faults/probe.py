"""Measuring what the proxy does: round trips to a line-echo service, direct and through faults.

:func:`echo_rtts` sends one line at a time over one connection and records each round trip
(closed loop: one request in flight, so the number is the path's latency, not a queue's).
:func:`compare_latency` measures the same echo service three ways in one run (direct, through
the proxy with no faults, through the proxy with added latency), so the proxy's own cost and
the added delay are read side by side, and returns the proxy's counters with them.
:func:`local_echo` is a line-echo service in a thread of this process, for when no supervised
one is running (the explorer, quick experiments).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

from labsupport.measure import LatencyRecorder

from .threaded import start_proxy

PAYLOAD = b"ping\n"


def echo_rtts(address: tuple[str, int], n: int, *, name: str = "rtt", warmup: int = 10,
              timeout_s: float = 5.0) -> LatencyRecorder:
    """``n`` round trips of one line to the echo service at ``address`` (after ``warmup``)."""
    rec = LatencyRecorder(name)
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = sock.makefile("rwb")
        for i in range(warmup + n):
            t0 = time.perf_counter_ns()
            f.write(PAYLOAD)
            f.flush()
            if f.readline() != PAYLOAD:
                raise ConnectionError(f"{address[0]}:{address[1]} did not echo the line")
            if i >= warmup:
                rec.record(time.perf_counter_ns() - t0)
    return rec


def compare_latency(upstream: tuple[str, int], *, n: int, latency_ms: float,
                    jitter_ms: float = 0.0, seed: int = 0
                    ) -> tuple[list[LatencyRecorder], dict[str, int]]:
    """Direct, through the proxy, and through the proxy with ``latency_ms`` added downstream."""
    direct = echo_rtts(upstream, n, name="direct")
    with start_proxy(upstream, seed=seed) as proxy:
        clean = echo_rtts(proxy.address, n, name="proxy, no faults")
        proxy.set("downstream", latency_ms=latency_ms, jitter_ms=jitter_ms)
        label = f"proxy, +{latency_ms:g} ms" + (f" ± {jitter_ms:g}" if jitter_ms else "")
        delayed = echo_rtts(proxy.address, n, name=label)
        stats = proxy.stats()
    return [direct, clean, delayed], stats


class _EchoHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):
            for line in self.rfile:
                self.wfile.write(line)
                self.wfile.flush()


@contextlib.contextmanager
def local_echo() -> Iterator[tuple[str, int]]:
    """A line-echo server on a free loopback port, in a thread, for the ``with`` block."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="local-echo")
    thread.start()
    try:
        yield server.server_address[:2]
    finally:
        server.shutdown()
        server.server_close()
