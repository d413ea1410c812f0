"""Benchmark of Lab 09: send-time error per wait strategy and rate, flat-out throughput per sink.

    flock /tmp/lab-cpu.lock .venv/bin/python -m labsupport.replay.bench [--messages N]

What is measured, on the real clock (``perf_counter_ns``), timer slack 1 ns, GC frozen:

* ``error <strategy> @ <rate>/s``: a synthetic feed of evenly spaced messages replayed into a
  :class:`~.sinks.NullSink`; p50/p99/p99.9/max of actual minus intended send time, and the CPU
  the replay used as a share of its wall time (a spinning strategy uses a whole core);
* ``flat out callback`` / ``flat out ITCH book``: a generated ITCH day, preloaded as tuples,
  replayed with ``speed=0`` into a no-op callback and into Lab 13's :class:`ItchBook`;
* ``udp packets``: the same day at ``speed=0`` into a :class:`~.sinks.UdpSink` with one
  message per packet (``max_messages=1``), to a loopback socket;
* ``udp arrival``: the day's schedule at 100 k messages/s sent to a receiver in another process
  (:func:`~.receiver.listen` there, kernel timestamps where available): its arrival error.

Targets (one idle machine): hybrid at 100 k/s p50 <= 1 µs, p99 <= 5 µs, p99.9 <= 50 µs; flat out
>= 2 M/s into a callback, >= 1 M/s into the book; >= 300 k UDP packets/s. Misses are reported
in a ``target`` column, never hidden. Writes ``build/bench/replay.json``.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import time
from collections.abc import Sequence

import numpy as np

from .. import cli
from ..measure import BenchReport, scaled
from ..protocols.itch.book import ItchBook
from ..protocols.itch.parser import iter_tuples
from .clock import MonotonicClock
from .receiver import FeedReceiver, listen, open_socket
from .scheduler import DEFAULT_MARGIN_NS, STRATEGIES, Replayer, ReplaySummary
from .sinks import CallbackSink, NullSink, UdpSink
from .sources import ItchSource

__all__ = ["even_feed", "timing_errors", "flat_out", "udp_rate", "udp_arrival", "main"]


def even_feed(n: int, rate_per_s: float) -> list[tuple[int, int]]:
    """``n`` messages evenly spaced at ``rate_per_s`` (timestamps from 0)."""
    gap = 1e9 / rate_per_s
    return [(round(i * gap), i) for i in range(n)]


def timing_errors(strategy: str, rate_per_s: float, n: int, *, margin_ns: int = DEFAULT_MARGIN_NS
                  ) -> tuple[ReplaySummary, np.ndarray, float]:
    """(summary, errors in ns, CPU share) of ``n`` evenly spaced messages on the real clock."""
    sink = NullSink(MonotonicClock())
    r = Replayer(even_feed(n, rate_per_s), sink, strategy=strategy, margin_ns=margin_ns)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    r.run()
    cpu = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    return r.summary(), sink.log.errors_ns(), cpu


def _day(n_events: int) -> bytes:
    from ..protocols.bench import make_day

    return make_day(n_events)[1].data


def flat_out(data: bytes, to: str) -> float:
    """Messages per second at ``speed=0`` from preloaded tuples into a no-op callback or the book."""
    events = list(ItchSource(data))
    fn = ItchBook().apply if to == "book" else (lambda m: None)
    sink = CallbackSink(fn, record=False)
    r = Replayer(events, sink, speed=0, max_batch=4096).run()
    return len(events) / ((r.finished_ns - r.started_ns) * 1e-9)


def udp_rate(data: bytes) -> tuple[float, int]:
    """(packets/s, packets) flat out, one message per packet, to a loopback socket nobody reads."""
    events = list(ItchSource(data, raw=True))
    dump = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dump.bind(("127.0.0.1", 0))
    sink = UdpSink("127.0.0.1", dump.getsockname()[1], max_messages=1, record=False)
    r = Replayer(events, sink, speed=0, max_batch=4096).run()
    secs = (r.finished_ns - r.started_ns) * 1e-9
    sink.close()
    dump.close()
    return sink.packets / secs, sink.packets


def _receive(port_q, result_q) -> None:
    sock, kernel = open_socket("127.0.0.1", 0)
    port_q.put(sock.getsockname()[1])
    rec = listen(sock, FeedReceiver(keep=False), kernel=kernel, idle_timeout_s=10)
    result_q.put(rec.summary())


def udp_arrival(n: int, rate_per_s: float = 100_000, strategy: str = "hybrid"):
    """(sender summary, receiver summary) of ``n`` messages at ``rate_per_s`` to another process."""
    from ..protocols.itch.encode import encode

    ctx = mp.get_context("spawn")
    port_q, result_q = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_receive, args=(port_q, result_q))
    proc.start()
    try:
        port = port_q.get(timeout=60)
        gap = 1e9 / rate_per_s
        events = []
        for i in range(n):
            ts = 34_200_000_000_000 + round(i * gap)
            events.append((ts, encode("D", stock_locate=1, timestamp=ts, order_reference_number=i + 1)))
        sink = UdpSink("127.0.0.1", port)
        r = Replayer(events, sink, strategy=strategy).run()
        sink.close()
        got = result_q.get(timeout=60)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    return r.summary(), got


def _us(ns: float) -> float:
    return round(ns / 1e3, 2)


@cli.entry("python -m labsupport.replay.bench")
def main(argv: Sequence[str] | None = None) -> int:
    ap = cli.ArgumentParser(prog="python -m labsupport.replay.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=scaled(ci=2_000, default=200_000, full=1_000_000),
                    help="messages per strategy and rate")
    ap.add_argument("--rates", default=scaled(ci="1000,100000", default="1000,10000,100000,1000000"))
    ap.add_argument("--events", type=int, default=scaled(ci=5_000, default=200_000, full=1_000_000),
                    help="order-flow events behind the ITCH day for the flat-out runs")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    report = BenchReport("replay")
    rates = [float(r) for r in args.rates.split(",")]
    for strategy in STRATEGIES:
        for rate in rates:
            s, _, cpu = timing_errors(strategy, rate, args.messages)
            row = dict(messages=s.messages, p50_us=_us(s.p50_ns), p99_us=_us(s.p99_ns),
                       p999_us=_us(s.p999_ns), max_us=_us(s.max_ns), cpu_share=round(cpu, 2))
            if strategy == "hybrid" and rate == 100_000:
                ok = s.p50_ns <= 1_000 and s.p99_ns <= 5_000 and s.p999_ns <= 50_000
                row["target"] = "met" if ok else "MISSED (1 / 5 / 50 µs)"
            report.add(f"error {strategy} @ {rate:,.0f}/s", section="timing", **row)
    data = _day(args.events)
    n = sum(1 for _ in iter_tuples(data))
    for to, target in (("callback", 2e6), ("book", 1e6)):
        rate = flat_out(data, to)
        report.add(f"flat out {'ITCH book' if to == 'book' else 'callback'}", section="throughput", messages=n,
                   msg_per_s=round(rate), target="met" if rate >= target else f"MISSED ({target:,.0f}/s)")
    pps, packets = udp_rate(data)
    report.add("udp packets", section="throughput", packets=packets, packets_per_s=round(pps),
               target="met" if pps >= 300_000 else "MISSED (300,000/s)")
    sent, got = udp_arrival(args.messages)
    report.add("udp send @ 100,000/s hybrid", section="udp", messages=sent.messages, p50_us=_us(sent.p50_ns),
               p99_us=_us(sent.p99_ns), p999_us=_us(sent.p999_ns), max_us=_us(sent.max_ns))
    report.add("udp arrival (receiver process)", section="udp", messages=got.messages, gaps=len(got.gaps),
               p50_us=_us(got.p50_ns), p99_us=_us(got.p99_ns), p999_us=_us(got.p999_ns), max_us=_us(got.max_ns),
               kernel_timestamps=got.kernel_timestamps)
    report.print()
    if not args.no_write:
        print(f"wrote {report.write()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
