"""Wait strategy and rate against the send-time error histogram: the view behind notebook 09's explorer.

Pick a strategy (``sleep``, ``spin``, ``hybrid``), a message rate and, for the hybrid, the spin
margin; :func:`show_errors` replays a short evenly spaced feed on the real clock into a
:class:`~.sinks.NullSink` (``bench.timing_errors``) and draws the histogram of actual minus
intended send time with p50 / p99 / p99.9 marked, and returns the summary as a one-row table.
What it shows is this machine at this moment: run it twice, and next to a busy neighbour.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..measure import LatencyRecorder, plot_histogram
from .bench import even_feed, flat_out, timing_errors, udp_rate
from .clock import FakeClock, MonotonicClock
from .rt import realtime
from .scheduler import DEFAULT_MARGIN_NS, STRATEGIES, Replayer
from .sinks import CallbackSink, NullSink

__all__ = ["RATES", "error_table", "show_errors", "replay_explorer", "gap_profile", "clock_read_ns",
           "sleep_oversleep", "drift_demo", "strategy_sweep", "plot_sweep", "flat_out_table", "stalled_consumer",
           "naive_vs_absolute"]

RATES = (1_000, 10_000, 100_000, 1_000_000)


def error_table(strategy: str = "hybrid", rate: int = 10_000, n: int = 2_000,
                margin_us: float = DEFAULT_MARGIN_NS / 1e3) -> tuple[pd.DataFrame, LatencyRecorder]:
    """(one-row summary in µs, recorder of the errors) of one short replay on the real clock."""
    s, errors, cpu = timing_errors(strategy, rate, n, margin_ns=round(margin_us * 1e3))
    rec = LatencyRecorder.from_array(f"{strategy} @ {rate:,}/s", errors.clip(0))
    row = {"strategy": strategy, "rate_per_s": rate, "messages": s.messages, "p50_us": s.p50_ns / 1e3,
           "p99_us": s.p99_ns / 1e3, "p99.9_us": s.p999_ns / 1e3, "max_us": s.max_ns / 1e3,
           "cpu_share": cpu}
    return pd.DataFrame([row]).set_index("strategy").round(2), rec


def show_errors(strategy: str = "hybrid", rate: int = 10_000, margin_us: float = DEFAULT_MARGIN_NS / 1e3,
                n: int = 2_000) -> pd.DataFrame:
    """Draw the error histogram of one short replay and return its summary row."""
    import matplotlib.pyplot as plt

    table, rec = error_table(strategy, rate, n, margin_us)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    plot_histogram(rec, ax=ax, title=f"send error, {strategy} @ {rate:,} msg/s ({n:,} messages)",
                   log_count=True)
    ax.set_xlabel("actual - intended send time")
    plt.tight_layout()
    plt.show()
    return table


def replay_explorer(n: int = 2_000):
    """Strategy, rate and margin controls; each change redraws :func:`show_errors`."""
    import ipywidgets as w
    from IPython.display import display

    strategy = w.ToggleButtons(options=STRATEGIES, value="hybrid", description="strategy")
    rate = w.SelectionSlider(options=[(f"{r:,}/s", r) for r in RATES], value=10_000, description="rate")
    margin = w.IntSlider(value=DEFAULT_MARGIN_NS // 1000, min=0, max=500, step=10, description="margin µs")
    out = w.interactive_output(lambda strategy, rate, margin: display(show_errors(strategy, rate, margin, n)),
                               {"strategy": strategy, "rate": rate, "margin": margin})
    return w.VBox([w.HBox([strategy, rate, margin]), out])


def gap_profile(events) -> pd.DataFrame:
    """How bursty a feed is: the gaps between consecutive timestamps, and the share below 300 ns."""
    ts = np.fromiter((t for t, _ in events), dtype=np.int64)
    gaps = np.diff(ts)
    fwd = gaps[gaps >= 0]
    q = np.percentile(fwd, [1, 10, 50, 90, 99]) if len(fwd) else [0] * 5
    return pd.DataFrame([{"messages": len(ts), "backward_steps": int((gaps < 0).sum()),
                          "same_ns": int((gaps == 0).sum()), "share_within_300ns": round(float((fwd < 300).mean()), 4),
                          "p1_ns": int(q[0]), "p10_ns": int(q[1]), "p50_ns": int(q[2]), "p90_ns": int(q[3]),
                          "p99_ns": int(q[4])}]).set_index("messages")


def clock_read_ns(n: int = 200_000) -> float:
    """Mean cost of one ``perf_counter_ns()`` call from Python, in ns."""
    read = time.perf_counter_ns
    t0 = read()
    for _ in range(n):
        read()
    return (read() - t0) / n


def sleep_oversleep(request_us: float = 100, n: int = 200) -> pd.DataFrame:
    """How late ``time.sleep(request)`` wakes with the default timer slack and with 1 ns."""
    rows = []
    for slack in (None, 1):
        with realtime(timer_slack=slack, freeze_gc=False) as applied:
            late = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                time.sleep(request_us * 1e-6)
                late.append(time.perf_counter_ns() - t0 - request_us * 1e3)
        p50, p99 = np.percentile(late, [50, 99])
        rows.append({"timer slack": "default" if slack is None else f"{applied.timer_slack_ns} ns",
                     "request_us": request_us, "late_p50_us": p50 / 1e3, "late_p99_us": p99 / 1e3})
    return pd.DataFrame(rows).set_index("timer slack").round(1)


def drift_demo(n: int = 100_000, gap_ns: int = 100_000, oversleep_ns: int = 50_000) -> pd.DataFrame:
    """On a fake clock whose sleeps wake ``oversleep_ns`` late: how late the last message is with a
    relative schedule (sleep each gap after the previous send) and with the absolute one."""
    clock = FakeClock(oversleep_ns=oversleep_ns, read_cost_ns=0)
    for _ in range(n - 1):  # relative: sleep(gap) after each send
        clock.sleep_ns(gap_ns)
    relative_late = clock.t - (n - 1) * gap_ns
    clock = FakeClock(oversleep_ns=oversleep_ns, read_cost_ns=0)
    sink = NullSink(clock)
    Replayer(even_feed(n, 1e9 / gap_ns), sink, strategy="sleep", clock=clock, freeze_gc=False).run()
    err = sink.log.errors_ns()
    return pd.DataFrame([{"schedule": "relative (sleep each gap)", "last_message_late_ms": relative_late / 1e6},
                         {"schedule": "absolute (start + (ts - ts0) / speed)",
                          "last_message_late_ms": int(err[-1]) / 1e6}]).set_index("schedule")


def strategy_sweep(rates=RATES, n: int = 2_000, margin_us: float = DEFAULT_MARGIN_NS / 1e3) -> pd.DataFrame:
    """Error percentiles (µs) and CPU share of every strategy at every rate, on the real clock."""
    return pd.concat([error_table(st, r, n, margin_us)[0] for st in STRATEGIES for r in rates])


def plot_sweep(table: pd.DataFrame) -> None:
    """p50 and p99 send error against rate, one line per strategy."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.4))
    for st, rows in table.groupby(level=0, sort=False):
        ax.plot(rows["rate_per_s"], rows["p50_us"].clip(lower=0.01), marker="o", label=f"{st} p50")
        ax.plot(rows["rate_per_s"], rows["p99_us"].clip(lower=0.01), marker="x", ls="--", label=f"{st} p99")
    ax.set(xscale="log", yscale="log", xlabel="messages per second", ylabel="send error (µs)",
           title="send error against rate")
    ax.legend(fontsize="small", ncol=3)
    plt.tight_layout()
    plt.show()


def flat_out_table(data: bytes) -> pd.DataFrame:
    """As-fast-as-possible rate per sink for one ITCH buffer."""
    pps, packets = udp_rate(data)
    return pd.DataFrame([{"sink": "callback (no-op)", "per_s": flat_out(data, "callback")},
                         {"sink": "Lab 13 ITCH book", "per_s": flat_out(data, "book")},
                         {"sink": f"UDP, one message per packet ({packets} packets)", "per_s": pps}]
                        ).set_index("sink").round(0)


def stalled_consumer(rate: int = 10_000, n: int = 3_000, every: int = 1_000, stall_ms: float = 5.0
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """A callback that stalls ``stall_ms`` every ``every`` messages: the errors it causes downstream."""
    def slow(msg: int) -> None:
        if msg % every == every - 1:
            time.sleep(stall_ms / 1e3)

    sink = CallbackSink(slow, MonotonicClock())
    r = Replayer(even_feed(n, rate), sink, strategy="hybrid").run()
    s = r.summary()
    err = sink.log.errors_ns()
    late = int((err > 100_000).sum())
    return pd.DataFrame([{"messages": s.messages, "late_over_100us": late, "p50_us": s.p50_ns / 1e3,
                          "p99_us": s.p99_ns / 1e3, "max_us": s.max_ns / 1e3}]).round(1), err


def naive_vs_absolute(rate: int = 10_000, n: int = 2_000) -> pd.DataFrame:
    """On the real clock: ``time.sleep(gap)`` after each send against the absolute ``sleep`` schedule."""
    gap = 1e9 / rate
    with realtime(timer_slack=1):
        read, t0 = time.perf_counter_ns, time.perf_counter_ns()
        late = np.empty(n, dtype=np.int64)
        for i in range(n):
            late[i] = read() - (t0 + round(i * gap))  # sent now; intended at t0 + i * gap
            time.sleep(gap * 1e-9)
    s, errors, _ = timing_errors("sleep", rate, n)
    rows = [{"replay": "relative: time.sleep(gap) after each send", "p50_us": np.percentile(late, 50) / 1e3,
             "p99_us": np.percentile(late, 99) / 1e3, "last_us": late[-1] / 1e3},
            {"replay": "absolute schedule, sleep strategy", "p50_us": s.p50_ns / 1e3, "p99_us": s.p99_ns / 1e3,
             "last_us": errors[-1] / 1e3}]
    return pd.DataFrame(rows).set_index("replay").round(1)
