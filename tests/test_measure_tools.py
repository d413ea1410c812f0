"""The other instruments: side-by-side runner, line profiling, show, scale, processes, reports."""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest

from labsupport.measure import (
    BackgroundProcess,
    BenchReport,
    ProcessError,
    find_peer,
    free_port,
    lab_scale,
    line_profile,
    machine_info,
    scaled,
    show,
    side_by_side,
    source_of,
    wait_for_port,
)
from labsupport.measure.scale import ScaleError
from labsupport.measure.units import fmt_ns


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def test_side_by_side_finds_a_known_ratio() -> None:
    # The same loop, four times as long: the measured ratio must come out near 4.
    result = side_by_side(
        {"short": lambda: _spin(2_000), "long": lambda: _spin(8_000)},
        repeats=5, baseline="short", target_s=0.01,
    )
    assert 2.0 < result.ratio("long") < 8.0  # wide: other processes share the cores
    assert result.ratio("short") == 1.0
    assert result.speedup("long") == pytest.approx(1 / result.ratio("long"))
    table = result.table
    assert list(table.index) == ["short", "long"]
    assert table.loc["short", "time vs short"] == 1.0
    assert "baseline 'short'" in repr(result)


def test_side_by_side_interleaves_and_warms_up() -> None:
    calls: list[str] = []
    side_by_side({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                 repeats=3, warmup=1, number=2)
    # warm-up a a b b, then rounds rotate the order: a a b b | b b a a | a a b b
    assert "".join(calls) == "aabb" + "aabb" + "bbaa" + "aabb"


def test_side_by_side_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        side_by_side({})
    with pytest.raises(KeyError):
        side_by_side({"a": lambda: None}, baseline="b", number=1, repeats=1)


def test_line_profile_prints_the_table_and_returns(capsys: pytest.CaptureFixture[str]) -> None:
    assert line_profile(_spin, 1000) == sum(range(1000))
    out = capsys.readouterr().out
    assert "Line #" in out and "% Time" in out
    assert "total += i" in out
    assert "File: tests/test_measure_tools.py" in out  # relative, no machine path


def test_line_profile_also_profiles_inner_functions(capsys: pytest.CaptureFixture[str]) -> None:
    def outer() -> int:
        return _spin(10) + _spin(20)

    line_profile(outer, also=[_spin])
    out = capsys.readouterr().out
    assert "outer at line" in out and "Function: _spin" in out


def test_show_gives_the_real_source(capsys: pytest.CaptureFixture[str]) -> None:
    src = source_of(fmt_ns)
    assert src.title.startswith("fmt_ns  (labsupport/measure/units.py:")
    assert src.code.startswith("def fmt_ns(")
    assert "<span" in src._repr_html_()
    show(fmt_ns)  # outside IPython: printed
    assert "def fmt_ns(" in capsys.readouterr().out
    with pytest.raises(TypeError):
        source_of(len)


def test_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_SCALE", "ci")
    assert lab_scale() == "ci" and scaled(1, 2, 3) == 1
    monkeypatch.setenv("LAB_SCALE", "full")
    assert scaled(1, 2, 3) == 3 and scaled(1, 2) == 2
    monkeypatch.delenv("LAB_SCALE")
    assert lab_scale() == "default" and scaled(1, 2, 3) == 2
    monkeypatch.setenv("LAB_SCALE", "huge")
    with pytest.raises(ScaleError, match="huge"):
        lab_scale()


def test_background_process_serves_and_stops() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with BackgroundProcess(argv, port=port, name="http.server") as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert s.recv(12).startswith(b"HTTP/1.0 200")
        assert proc.returncode is None
    assert proc.returncode is not None  # stopped on the way out
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5)


def test_background_process_that_dies_reports_its_output() -> None:
    argv = [sys.executable, "-c", "import sys; print('boom: bad flag'); sys.exit(3)"]
    with pytest.raises(ProcessError, match="boom: bad flag"):
        BackgroundProcess(argv, port=free_port(), name="dies").start()


def test_kill9_is_a_crash() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with BackgroundProcess(argv, port=port, name="victim") as proc:
        assert proc.kill9() == -9


def test_wait_for_port_times_out() -> None:
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="nothing accepted"):
        wait_for_port("127.0.0.1", free_port(), timeout_s=0.3)
    assert time.monotonic() - t0 < 5


def test_find_peer() -> None:
    assert find_peer(sys.executable) or find_peer("python3")
    assert find_peer("numpy") == "numpy"
    assert find_peer("no-such-peer-anywhere") is None


def test_bench_report_json(tmp_path) -> None:
    report = BenchReport("unit")
    report.add("ours", req_per_s=100.0)
    report.add("peer", req_per_s=50.0)
    out = report.write(tmp_path / "unit.json")
    doc = json.loads(out.read_text())
    assert doc["lab"] == "unit" and [r["name"] for r in doc["rows"]] == ["ours", "peer"]
    assert doc["machine"]["python"].startswith("CPython") and "cpu" in doc["machine"]
    assert report.frame.loc["ours", "req_per_s"] == 100.0
    assert machine_info()["usable_cpus"] >= 1


def test_bench_report_sections_print_their_own_columns(capsys: pytest.CaptureFixture[str]) -> None:
    report = BenchReport("unit")
    report.add("ingest", section="throughput", ticks_per_s=5.0e6)
    report.add("range query", section="latency", p50_ms=1.8)
    report.print()
    out = capsys.readouterr().out
    assert "[throughput]" in out and "[latency]" in out
    assert "NaN" not in out


def test_scrub_paths_hides_notebook_cell_files() -> None:
    from labsupport.measure.paths import scrub_paths

    assert scrub_paths("File: /tmp/ipykernel_1234/567890.py") == "File: <notebook cell>"


def test_background_process_cpu_seconds_grows_with_work() -> None:
    port = free_port()
    burn = ("import socket, time\n"
            f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\n"
            "t = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\n"
            "time.sleep(30)\n")
    proc = BackgroundProcess([sys.executable, "-c", burn], port=port, name="burner")
    assert proc.cpu_seconds() is None  # not started
    with proc:
        deadline = time.monotonic() + 20  # a loaded machine may take a while to give it 0.3 s
        while (proc.cpu_seconds() or 0.0) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.cpu_seconds() >= 0.3
