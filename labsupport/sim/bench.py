"""Benchmark of the simulator: simulated message deliveries per second of CPU.

A simulator is only as useful as the number of seeded runs it can afford: a thousand runs of a
workflow of a few thousand messages each should take seconds, not minutes. The workloads:

=======================  ========================================================================
row                      what runs
=======================  ========================================================================
plain, no trace          ``pairs`` echo pairs, ``window`` messages in flight each, fixed latency:
                         the network's fast path (one heap push per send) and the loop alone
plain, traced            the same with the trace on (two tuples appended per message)
faulty links, no trace   log-normal latency, jitter, 1 % loss, 1 % duplication, 1 % reordering
timers only              nodes re-arming a timer: the loop plus the timer token check
replicated counter runs  whole seeded runs of :mod:`labsupport.sim.demo` per second
=======================  ========================================================================

Each row is the median of ``repeats`` rounds, run interleaved, timed with
``time.process_time_ns`` (CPU time of this process, so a busy shared machine slows it less than
wall time would). The target is 500,000 plain deliveries per CPU second.
``python -m labsupport.sim.bench [--messages N] [--repeats R]``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import cli
from ..measure.report import BenchReport
from ..measure.scale import scaled
from .demo import run_counter
from .errors import SimError
from .latency import US, LogNormal
from .loop import Simulation
from .node import Node

__all__ = ["main", "measure", "report_of", "profile", "deliveries_per_cpu_s", "timers_per_cpu_s",
           "counter_runs_per_cpu_s", "echo_simulation"]


class Echo(Node):
    """Sends every message straight back: one delivery and one send per event."""

    def on_message(self, src: str, msg: Any) -> None:
        self.send(src, msg)


class Ticker(Node):
    def on_start(self) -> None:
        self.set_timer(1 * US, "tick")

    def on_timer(self, name: Any) -> None:
        self.set_timer(1 * US, "tick")


def echo_simulation(*, pairs: int = 8, window: int = 4, trace: bool = False,
                    faulty: bool = False, seed: int = 0) -> Simulation:
    """A simulation of ``pairs`` echo pairs with ``window`` messages in flight per pair."""
    sim = Simulation(seed, trace=trace)
    for p in range(pairs):
        sim.add_node(f"a{p}", Echo)
        sim.add_node(f"b{p}", Echo)
    if faulty:
        sim.net.set_default(latency=LogNormal(200 * US, 0.5), jitter_ns=50 * US, loss=0.01,
                            duplicate=0.01, reorder=0.01)
    else:
        sim.net.set_default(latency=100 * US)
    for p in range(pairs):
        for k in range(window):
            sim.at(k, sim.send, f"a{p}", f"b{p}", k)
    sim.run(max_events=2 * pairs + pairs * window)  # start the nodes, inject the first sends
    return sim


def _cpu(fn: Callable[[], int]) -> tuple[int, float]:
    t0 = time.process_time_ns()
    n = fn()
    return n, (time.process_time_ns() - t0) / 1e9


def deliveries_per_cpu_s(messages: int, **kw: Any) -> float:
    """Deliveries per CPU second of an echo workload (see :func:`echo_simulation`)."""
    sim = echo_simulation(**kw)
    before = sum(h.delivered for h in sim.hosts.values())
    _, cpu = _cpu(lambda: sim.run(max_events=messages))
    delivered = sum(h.delivered for h in sim.hosts.values()) - before
    return delivered / cpu if cpu > 0 else float("inf")


def timers_per_cpu_s(events: int, nodes: int = 16) -> float:
    sim = Simulation(0, trace=False)
    for i in range(nodes):
        sim.add_node(f"t{i}", Ticker)
    sim.run(max_events=nodes)
    n, cpu = _cpu(lambda: sim.run(max_events=events))
    return n / cpu if cpu > 0 else float("inf")


def counter_runs_per_cpu_s(runs: int) -> float:
    def many() -> int:
        for seed in range(runs):
            run_counter(seed)
        return runs
    n, cpu = _cpu(many)
    return n / cpu if cpu > 0 else float("inf")


def measure(messages: int, runs: int, repeats: int) -> dict[str, list[float]]:
    """Interleaved rounds of every workload; per row the list of rates, one per round."""
    rows: dict[str, Callable[[], float]] = {
        "plain, no trace": lambda: deliveries_per_cpu_s(messages),
        "plain, traced": lambda: deliveries_per_cpu_s(messages, trace=True),
        "faulty links, no trace": lambda: deliveries_per_cpu_s(messages, faulty=True),
        "timers only": lambda: timers_per_cpu_s(messages),
        "replicated counter runs": lambda: counter_runs_per_cpu_s(runs),
    }
    out: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(repeats):
        for name, fn in rows.items():
            out[name].append(fn())
    return out


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.sim.bench",
                           description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=scaled(200_000, 1_000_000, 5_000_000),
                   help="deliveries (or timer events) per round")
    p.add_argument("--runs", type=int, default=scaled(20, 100, 1_000),
                   help="replicated-counter runs per round")
    p.add_argument("--repeats", type=int, default=scaled(3, 5, 7), help="interleaved rounds")
    p.add_argument("--profile", action="store_true",
                   help="line-profile the plain path for --messages events instead")
    return p


def profile(messages: int = 50_000) -> None:
    """Line-profile the plain path: the loop, the link's send and the host's delivery.

    Under the profiler every line costs far more than it does unprofiled; what the table shows is
    the split: nearly all of ``run`` is the handler call, and ``send`` is a few attribute reads
    and one ``heappush``, with no object allocated but the event tuple.
    """
    from ..measure.profile import line_profile
    from .network import _Link
    from .node import Host

    sim = echo_simulation()
    line_profile(sim.run, max_events=messages, also=[_Link.send, Host._deliver])


def report_of(rates: dict[str, list[float]]) -> BenchReport:
    """The rows of a :func:`measure` result: median, min and max rate of each workload."""
    rep = BenchReport("sim")
    for name, values in rates.items():
        what = ("runs" if name.endswith("runs") else "timer events" if "timer" in name
                else "deliveries")
        rep.add(name, section="throughput", per_cpu_s=round(statistics.median(values)), what=what,
                min=round(min(values)), max=round(max(values)), rounds=len(values))
    plain = statistics.median(rates["plain, no trace"])
    rep.add("plain deliveries vs 500k/s target", section="target", ratio=round(plain / 500_000, 2))
    return rep


@cli.entry("python -m labsupport.sim.bench", input_errors=(SimError,))
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.messages < 1 or args.runs < 1 or args.repeats < 1:
        raise cli.InputError("--messages, --runs and --repeats must be at least 1")
    if args.profile:
        profile(args.messages)
        return 0
    report = report_of(measure(args.messages, args.runs, args.repeats))
    report.print()
    print(f"wrote {report.write().name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
