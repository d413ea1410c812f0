"""labsupport.sim trace summaries, the timeline plot and the benchmark's workloads."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from labsupport.sim import MS, Node, Simulation, Trace, bench
from labsupport.sim.demo import run_counter, same_seed_check
from labsupport.sim.plot import plot_timeline


class Sink(Node):
    def on_message(self, src, msg):
        pass


def small_run() -> Simulation:
    sim = Simulation(2)
    for n in "abc":
        sim.add_node(n, Sink)
    sim.net.set_default(latency=2 * MS)
    sim.at(0, sim.send, "a", "b", ("hello", 1))
    sim.at(1 * MS, sim.net.block, "a", "c")
    sim.at(1 * MS, sim.send, "a", "c", "cut")
    sim.at(1 * MS, sim.send, "c", "a", "fine")
    sim.at(2 * MS, sim.log, "a note")
    sim.run()
    return sim


def test_trace_entries_counts_and_pairing():
    tr = small_run().trace
    assert tr.counts() == {"send": 3, "deliver": 2, "drop": 1, "start": 3, "partition": 1, "log": 1}
    send = tr.of("send")[0]
    deliver = [e for e in tr.of("deliver") if e[4] == send[4]]
    assert send[:6] == (0, "send", "a", "b", send[4], ("hello", 1))
    assert deliver == [(2 * MS, "deliver", "b", "a", send[4], None)]
    msgs = tr.messages()
    assert msgs.outcome.tolist() == ["deliver", "drop:partition", "deliver"]
    assert msgs.latency_ns.tolist() == [2 * MS, 0, 2 * MS]
    frame = tr.frame()
    assert list(frame.columns) == ["t_ns", "kind", "node", "peer", "mid", "detail"]
    assert len(frame) == len(tr)
    text = tr.format(limit=4)
    assert "send      a      -> b" in text and text.endswith("... 7 more")


def test_digest_changes_with_any_detail():
    a, b = Trace(), Trace()
    a.entries.append((1, "send", "a", "b", 1, "x"))
    b.entries.append((1, "send", "a", "b", 1, "y"))
    assert a.digest() != b.digest() and a.digest() == a.digest()


def test_trace_off_records_nothing_but_still_delivers():
    sim = Simulation(0, trace=False)
    sim.add_node("a", Sink)
    sim.add_node("b", Sink)
    sim.at(0, sim.send, "a", "b", 1)
    sim.run()
    assert len(sim.trace) == 0 and sim.host("b").delivered == 1


def test_timeline_plot_has_nodes_arrows_and_fault_marks():
    run = run_counter(1)
    ax = plot_timeline(run.sim.trace, end_ns=400 * MS, max_messages=100)
    try:
        assert ax.get_title() == "Simulated run: messages and faults"
        assert ax.get_xlabel() == "simulated time (ms)" and ax.get_ylabel() == "node"
        assert [t.get_text() for t in ax.get_yticklabels()] == ["r1", "r2", "r3", "client"]
        from matplotlib.collections import LineCollection
        from matplotlib.quiver import Quiver

        (arrows,) = [c for c in ax.collections if isinstance(c, Quiver)]
        (drops,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert len(arrows.U) + len(drops.get_segments()) == 100  # max_messages
        assert (arrows.U > 0).all()  # every arrow points forward in time
        markers = [ln.get_marker() for ln in ax.lines]
        assert "X" in markers and "^" in markers  # crash, restart
        assert ax.patches  # the shaded partition
        assert ax.get_xlim() == (0.0, 400.0)
    finally:
        plt.close(ax.figure)


def test_timeline_refuses_an_unknown_unit():
    with pytest.raises(ValueError, match="unit"):
        plot_timeline(small_run().trace, unit="days")


def test_same_seed_check_reports_a_deterministic_run():
    result = same_seed_check(2)
    assert result["same_seed_same_trace"] and result["other_seed_differs"]
    assert result["digest"] == run_counter(2).digest[:16]


# -- benchmark workloads (correctness at tiny size; no timing assertions) -------------------------
def test_echo_workload_delivers_one_message_per_event():
    sim = bench.echo_simulation(pairs=3, window=2)
    delivered = sum(h.delivered for h in sim.hosts.values())
    assert sim.run(max_events=600) == 600
    assert sum(h.delivered for h in sim.hosts.values()) - delivered == 600
    assert all(link.plain for link in sim.net._links.values())


def test_faulty_echo_workload_takes_the_faulty_path():
    sim = bench.echo_simulation(pairs=2, window=50, faulty=True, trace=True)
    sim.run(max_events=5_000)
    counts = sim.trace.counts()
    assert counts["drop"] > 0 and counts["dup"] > 0 and counts["reorder"] > 0


def test_bench_main_writes_a_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_BUILD_DIR", str(tmp_path))
    assert bench.main(["--messages", "2000", "--runs", "1", "--repeats", "1"]) == 0
    doc = json.loads((tmp_path / "bench" / "sim.json").read_text())
    names = [row["name"] for row in doc["rows"]]
    assert names[:5] == ["plain, no trace", "plain, traced", "faulty links, no trace",
                         "timers only", "replicated counter runs"]
    assert all(row["per_cpu_s"] > 0 for row in doc["rows"][:5])
    assert [row["what"] for row in doc["rows"][:5]] == ["deliveries"] * 3 + ["timer events", "runs"]
    assert "plain, no trace" in capsys.readouterr().out


def test_bench_bad_argument_exits_2(capsys):
    assert bench.main(["--repeats", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_counter_explorer_runs_headless():
    from labsupport.sim.explore import counter_explorer, show_counter

    run = show_counter(seed=3, loss=0.1, fsync=False, show=False)
    assert run.seed == 3 and run.counts["crash"] == 1
    fig = plt.gcf()
    assert "seed 3" in fig.axes[0].get_title()
    plt.close("all")
    box = counter_explorer()
    assert len(box.children) == 3
    plt.close("all")


def test_a_trace_that_is_off_refuses_to_digest():
    from labsupport.sim import TraceDisabled

    with pytest.raises(TraceDisabled, match="trace=False"):
        Simulation(0, trace=False).trace.digest()


def test_the_package_docstring_example_runs(capsys):
    import labsupport.sim as pkg

    doc = pkg.__doc__
    example = doc[doc.index("::\n") + 3:doc.index("\nModules:")]
    exec(compile("\n".join(line[4:] for line in example.splitlines()), "example", "exec"), {})
    out = capsys.readouterr().out
    assert "'partition': 1" in out and "'heal': 1" in out and len(out.split()[-1]) == 64


def test_bench_profile_prints_the_hot_path_table(capsys):
    bench.profile(2_000)
    out = capsys.readouterr().out
    assert "Function: Simulation.run" in out and "Function: _Link.send" in out
    assert "heappush(sim._heap" in out
