"""The supervisor: start order, readiness, restart with backoff, health, faults, clean stop.

Every service here is a real child process (a few lines of Python run with ``-c``); "gone" is
checked by pid after the supervisor returns, grandchildren included.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labsupport.services import (
    ECHO_PAIR,
    HealthCheck,
    HttpProbe,
    LineProbe,
    RestartPolicy,
    ServiceSpec,
    ServiceStartError,
    SpecError,
    Supervisor,
    UnknownServiceError,
    start_order,
    up,
)
from labsupport.services.state import pid_alive, read_state

PY = sys.executable

# A line echo server (a thread per connection) on {port}, argv[1].
ECHO = """
import socketserver, sys
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
socketserver.ThreadingTCPServer.allow_reuse_address = True
srv = socketserver.ThreadingTCPServer(('127.0.0.1', int(sys.argv[1])), H)
srv.daemon_threads = True
print('echo up', flush=True)
srv.serve_forever()
"""

# An HTTP server on argv[1] whose /health turns 500 while the file argv[2] exists.
FLAKY_HEALTH = """
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if os.path.exists(sys.argv[2]) else 200
        self.send_response(code); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
HTTPServer.allow_reuse_address = True
HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"""


def py(name: str, code: str, *args: str, **kw) -> ServiceSpec:
    return ServiceSpec(name, (PY, "-c", code, *args), **kw)


def echo(name: str = "echo", **kw) -> ServiceSpec:
    return py(name, ECHO, "{port}", port="auto", **kw)


def ask(port: int, line: bytes = b"ping\n", timeout_s: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(line)
        return s.makefile("rb").readline()


def events(sup: Supervisor, name: str) -> list[str]:
    return [what for _, n, what in sup.events if n == name]


# -- specs -----------------------------------------------------------------------------------
def test_start_order_follows_dependencies_then_declaration() -> None:
    a = py("a", "pass", depends_on=("c",))
    b = py("b", "pass")
    c = py("c", "pass", depends_on=("b",))
    d = py("d", "pass")
    assert [s.name for s in start_order([a, b, c, d])] == ["b", "c", "a", "d"]


@pytest.mark.parametrize("specs, message", [
    ([py("a", "pass", depends_on=("b",)), py("b", "pass", depends_on=("a",))],
     "dependency cycle among services: a, b"),
    ([py("a", "pass", depends_on=("zz",))], "no service named 'zz'"),
    ([py("a", "pass"), py("a", "pass")], "declared twice"),
])
def test_start_order_refuses_bad_graphs(specs, message) -> None:
    with pytest.raises(SpecError, match=message):
        start_order(specs)


def test_spec_refuses_a_fixed_port() -> None:
    with pytest.raises(SpecError, match="never fixed"):
        ServiceSpec("web", ("x",), port=8080)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode, code, consecutive, delay", [
    ("never", 1, 0, None),
    ("on-failure", 0, 0, None),
    ("on-failure", 1, 0, 0.1),
    ("on-failure", -9, 1, 0.2),
    ("on-failure", 1, 3, 0.8),
    ("on-failure", 1, 9, 1.0),   # capped at backoff_max_s
    ("on-failure", 1, 10, None),  # max_restarts reached
    ("always", 0, 2, 0.4),
])
def test_restart_policy_backoff(mode, code, consecutive, delay) -> None:
    policy = RestartPolicy(mode, backoff_s=0.1, backoff_max_s=1.0, max_restarts=10)
    assert policy.delay_s(code, consecutive) == delay


# -- starting --------------------------------------------------------------------------------
def test_dependency_starts_first_and_its_port_is_passed(tmp_path: Path) -> None:
    # The client asks the echo server at start-up, so it only works if echo was already ready.
    client = py("client", "import socket, sys\n"
                "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
                "s.sendall(b'hello\\n'); print('got', s.makefile().readline().strip(), flush=True)\n"
                "import time; time.sleep(60)", "{echo.port}",
                ready=LineProbe(r"got hello"), depends_on=("echo",))
    with Supervisor([client, echo()], run_dir=tmp_path) as sup:
        assert [n for _, n, what in sup.events if what.startswith("started")] == ["echo", "client"]
        assert "got hello" in sup.logs("client")
        assert ask(sup.port("echo")) == b"ping\n"
        assert {r["service"]: r["state"] for r in sup.status()} == {
            "echo": "running", "client": "running"}


SLOW_START = ("import socketserver, sys, time\n"
              "time.sleep(float(sys.argv[1]))\n"
              "class H(socketserver.StreamRequestHandler):\n"
              "    def handle(self):\n"
              "        self.wfile.write(self.rfile.readline())\n"
              "socketserver.TCPServer(('127.0.0.1', int(sys.argv[2])), H).serve_forever()\n")


def test_parallel_start_overlaps_independent_services_and_keeps_dependencies(
        tmp_path: Path) -> None:
    # Three services each 0.6 s slow to start: a and b are independent, c needs both. In
    # sequence that is >= 1.8 s; in parallel a and b overlap, and c still starts after both.
    a, b = (py(n, SLOW_START, "0.6", "{port}", port="auto") for n in ("a", "b"))
    c = py("c", SLOW_START, "0.6", "{port}", port="auto", depends_on=("a", "b"))
    sup = Supervisor([c, a, b], run_dir=tmp_path, parallel=True)
    with sup:
        started = {n: t for t, n, what in sup.events if what.startswith("started")}
        ready = {n: t for t, n, what in sup.events if what.startswith("ready")}
        assert set(ready) == {"a", "b", "c"}
        assert started["b"] < ready["a"] and started["a"] < ready["b"]  # overlapped
        assert started["c"] >= max(ready["a"], ready["b"])  # its dependencies came first
        assert all(ask(sup.port(n)) == b"ping\n" for n in "abc")
    assert not any(pid_alive(sup.pid(n)) for n in "abc")


def test_parallel_start_failure_stops_what_was_started(tmp_path: Path) -> None:
    bad = py("bad", "import sys, time; time.sleep(0.3); print('no config'); sys.exit(4)",
             port="auto")
    ok = echo()
    later = echo("later", depends_on=("bad",))
    sup = Supervisor([ok, bad, later], run_dir=tmp_path, parallel=True)
    with pytest.raises(ServiceStartError, match=r"exited with status 4(.|\n)*no config"):
        sup.start()
    assert not pid_alive(sup.pid("echo"))
    assert "later" not in {n for _, n, what in sup.events if what.startswith("started")}
    assert read_state(tmp_path)["state"] == "stopped"


def test_restart_on_request_brings_back_a_killed_service_on_its_port(tmp_path: Path) -> None:
    with Supervisor([echo()], run_dir=tmp_path) as sup:  # restart policy: never
        port, first = sup.port("echo"), sup.pid("echo")
        sup.kill("echo")
        assert sup.wait_state("echo", ("failed", "exited")) == "failed"
        sup.restart("echo")
        assert sup.port("echo") == port and sup.pid("echo") != first
        assert ask(port) == b"ping\n"
        running = sup.pid("echo")
        sup.restart("echo")  # a running one is stopped first
        assert not pid_alive(running) and ask(port) == b"ping\n"
        assert sup.row("echo")["restarts"] == 2
        assert events(sup, "echo").count("restart requested") == 2


def test_line_probe_reads_the_port_the_service_reports(tmp_path: Path) -> None:
    code = ("import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print('listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)\n"
            "c, _ = s.accept(); c.sendall(b'hi\\n'); import time; time.sleep(60)")
    spec = py("srv", code, ready=LineProbe(r"listening on \S+:(?P<port>\d+)"))
    with Supervisor([spec], run_dir=tmp_path) as sup:
        port = sup.port("srv")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert s.recv(3) == b"hi\n"


def test_readiness_timeout_fails_with_the_log_tail_and_leaves_nothing(tmp_path: Path) -> None:
    never = py("never", "print('booting: waiting for a disk that never comes', flush=True)\n"
               "import time; time.sleep(60)", port="auto", ready_timeout_s=0.8)
    ok = echo()
    sup = Supervisor([ok, never], run_dir=tmp_path)
    with pytest.raises(ServiceStartError, match="was not ready within") as info:
        sup.start()
    assert "booting: waiting for a disk that never comes" in str(info.value)
    assert not pid_alive(sup.pid("never")) and not pid_alive(sup.pid("echo"))
    assert read_state(tmp_path)["state"] == "stopped"


def test_a_service_that_exits_at_start_fails_with_its_output(tmp_path: Path) -> None:
    bad = py("bad", "import sys; print('bad flag --frobnicate'); sys.exit(3)", port="auto")
    with pytest.raises(ServiceStartError, match=r"exited with status 3(.|\n)*bad flag"):
        Supervisor([bad], run_dir=tmp_path).start()


def test_a_program_that_does_not_exist_is_a_start_error(tmp_path: Path) -> None:
    spec = ServiceSpec("ghost", ("/nonexistent/program",))
    with pytest.raises(ServiceStartError, match="cannot run /nonexistent/program"):
        Supervisor([spec], run_dir=tmp_path).start()


def test_entry_point_service(tmp_path: Path) -> None:
    spec = ServiceSpec.entry_point("demo", "labsupport.services.demo:main",
                                   "echo", "--port", "{port}", port="auto")
    with Supervisor([spec], run_dir=tmp_path) as sup:
        assert ask(sup.port("demo"), b"entry\n") == b"entry\n"


# -- crashes, restarts, health ---------------------------------------------------------------
def test_crash_is_restarted_with_exponential_backoff_then_given_up(tmp_path: Path) -> None:
    # Ready at once, then crashes after 0.1 s: every run is a failure.
    crash = py("crash", "import time, sys; print('up', flush=True); time.sleep(0.1); sys.exit(7)",
               ready=LineProbe("up"),
               restart=RestartPolicy("on-failure", backoff_s=0.1, backoff_max_s=0.4,
                                     max_restarts=3))
    with Supervisor([crash], run_dir=tmp_path) as sup:
        row = sup.wait_for("crash", lambda r: r["state"] == "failed", timeout_s=30)
        assert row["restarts"] == 3 and row["last_exit"] == 7
        said = events(sup, "crash")
        assert [w for w in said if "restart in" in w] == [
            "exited with status 7: restart in 0.10 s", "exited with status 7: restart in 0.20 s",
            "exited with status 7: restart in 0.40 s"]
        assert said[-1] == "exited with status 7: gave up after 3 restarts"
        # Each restart really waited its backoff after the exit before it.
        exits = [t for t, n, w in sup.events if n == "crash" and "restart in" in w]
        starts = [t for t, n, w in sup.events if n == "crash" and w.startswith("started")][1:]
        for exit_t, start_t, delay in zip(exits, starts, (0.1, 0.2, 0.4), strict=True):
            assert start_t - exit_t >= delay - 0.001


def test_kill_is_detected_and_restarted_on_the_same_port(tmp_path: Path) -> None:
    spec = echo(restart=RestartPolicy("on-failure", backoff_s=0.05))
    with Supervisor([spec], run_dir=tmp_path) as sup:
        port, pid = sup.port("echo"), sup.pid("echo")
        sup.kill("echo", signal.SIGKILL)
        row = sup.wait_for("echo", lambda r: r["restarts"] == 1 and r["state"] == "running")
        assert row["pid"] != pid and row["last_exit"] == -9 and row["port"] == port
        assert ask(port) == b"ping\n"
        assert not pid_alive(pid)


def test_always_restarts_a_clean_exit_on_failure_does_not(tmp_path: Path) -> None:
    code = "print('done', flush=True)"
    always = py("always", code, ready=LineProbe("done"),
                restart=RestartPolicy("always", backoff_s=0.05, max_restarts=2))
    once = py("once", code, ready=LineProbe("done"), restart=RestartPolicy("on-failure"))
    with Supervisor([always, once], run_dir=tmp_path) as sup:
        sup.wait_for("once", lambda r: r["state"] == "exited")
        row = sup.wait_for("always", lambda r: r["state"] == "failed", timeout_s=20)
        assert row["restarts"] == 2 and sup.row("once")["restarts"] == 0
        assert sup.logs("always").count("done") == 3  # one log, appended across the runs


def test_failing_health_checks_are_counted_and_restart_the_service(tmp_path: Path) -> None:
    flag = tmp_path / "sick"
    health = HealthCheck(HttpProbe("/health"), interval_s=0.1, failures=3)
    spec = py("web", FLAKY_HEALTH, "{port}", str(flag), port="auto", ready=HttpProbe("/health"),
              health=health, restart=RestartPolicy("on-failure", backoff_s=0.05))
    with Supervisor([spec], run_dir=tmp_path / "run") as sup:
        first = sup.pid("web")
        flag.touch()
        sup.wait_for("web", lambda r: r["restarts"] >= 1, timeout_s=20)
        flag.unlink()
        row = sup.wait_for("web", lambda r: r["state"] == "running", timeout_s=20)
        assert row["health_failures"] >= 3 and row["pid"] != first
        assert "unhealthy after 3 failed checks" in events(sup, "web")


def test_unhealthy_without_restart_policy_stays_up_and_marked(tmp_path: Path) -> None:
    flag = tmp_path / "sick"
    flag.touch()
    spec = py("web", FLAKY_HEALTH, "{port}", str(flag), port="auto",
              health=HealthCheck(HttpProbe("/health"), interval_s=0.1, failures=2))
    with Supervisor([spec], run_dir=tmp_path / "run") as sup:
        row = sup.wait_for("web", lambda r: r["state"] == "unhealthy")
        assert row["restarts"] == 0 and pid_alive(row["pid"])
        flag.unlink()
        sup.wait_for("web", lambda r: r["state"] == "running")


def test_pause_freezes_and_resume_continues(tmp_path: Path) -> None:
    with Supervisor([echo()], run_dir=tmp_path) as sup:
        port = sup.port("echo")
        sup.pause("echo")
        assert sup.row("echo")["state"] == "paused"
        with pytest.raises(TimeoutError):
            ask(port, timeout_s=0.5)  # the kernel accepts; the frozen process never answers
        sup.resume("echo")
        assert sup.row("echo")["state"] == "running" and ask(port) == b"ping\n"


def test_unknown_service_names_the_known_ones(tmp_path: Path) -> None:
    with Supervisor([echo()], run_dir=tmp_path) as sup, \
            pytest.raises(UnknownServiceError, match="services: echo"):
        sup.kill("nope")


# -- stopping --------------------------------------------------------------------------------
GRANDPARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])
print('grandchild', child.pid, flush=True)
time.sleep(300)
"""


def _grandchild_pid(sup: Supervisor, name: str) -> int:
    return int(sup.logs(name).split("grandchild")[1].split()[0])


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    spec = py("parent", GRANDPARENT, ready=LineProbe(r"grandchild \d+"))
    with Supervisor([spec, echo()], run_dir=tmp_path) as sup:
        pids = [sup.pid("parent"), _grandchild_pid(sup, "parent"), sup.pid("echo")]
        assert all(pid_alive(p) for p in pids)
    assert not any(pid_alive(p) for p in pids)
    assert [n for _, n, w in sup.events if w.startswith("stopped")] == ["echo", "parent"]


def test_a_service_ignoring_sigterm_is_killed_after_its_grace(tmp_path: Path) -> None:
    stubborn = py("stubborn", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                  "print('ignoring SIGTERM', flush=True)\ntime.sleep(300)",
                  ready=LineProbe("ignoring"), stop_grace_s=0.5)
    sup = Supervisor([stubborn], run_dir=tmp_path).start()
    pid = sup.pid("stubborn")
    t0 = time.monotonic()
    sup.stop()
    assert time.monotonic() - t0 < 20  # does not hang
    assert sup.row("stubborn")["last_exit"] == -signal.SIGKILL and not pid_alive(pid)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, AssertionError])
def test_interrupt_or_failure_in_the_body_still_cleans_up(tmp_path: Path, exc) -> None:
    spec = py("parent", GRANDPARENT, ready=LineProbe(r"grandchild \d+"))
    with pytest.raises(exc), Supervisor([spec], run_dir=tmp_path) as sup:
        pids = [sup.pid("parent"), _grandchild_pid(sup, "parent")]
        raise exc()
    assert not any(pid_alive(p) for p in pids)


def test_paused_service_is_stopped_too(tmp_path: Path) -> None:
    with Supervisor([echo()], run_dir=tmp_path) as sup:
        pid = sup.pid("echo")
        sup.pause("echo")
    assert not pid_alive(pid) and sup.row("echo")["last_exit"] == -signal.SIGTERM


# -- the example system ----------------------------------------------------------------------
def test_example_system_up_with_one_call(tmp_path: Path) -> None:
    system = up(ECHO_PAIR, run_dir=tmp_path)
    try:
        url = f"http://127.0.0.1:{system.port('front')}/echo/hello"
        assert urllib.request.urlopen(url, timeout=5).read() == b"hello\n"
        state = read_state(tmp_path)
        assert state["state"] == "running"
        assert [r["service"] for r in state["services"]] == ["echo", "front"]
        assert (tmp_path / "logs" / "front.log").exists()
    finally:
        system.down()
    assert read_state(tmp_path)["state"] == "stopped"
    assert all(r["state"] == "stopped" for r in system.status())


def test_a_process_that_exits_without_stopping_its_system_leaves_nothing(tmp_path: Path) -> None:
    # A notebook kernel shut down with a system still up: the atexit hook stops it.
    script = ("import sys\nfrom labsupport.services import LineProbe, ServiceSpec, up\n"
              f"spec = ServiceSpec('parent', ({PY!r}, '-c', {GRANDPARENT!r}),"
              " ready=LineProbe(r'grandchild \\d+'))\n"
              f"system = up([spec], run_dir={str(tmp_path)!r})\n"
              "print(system.pid('parent'), system.logs('parent').split()[1], flush=True)\n")
    out = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in pids)
    assert read_state(tmp_path)["state"] == "stopped"


def test_env_and_cwd_are_expanded_and_passed(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    spec = py("env", "import os; print('cwd', os.getcwd(), 'peer', os.environ['PEER'], "
              "flush=True); import time; time.sleep(60)", cwd="{run_dir}/../work",
              env={"PEER": "127.0.0.1:{echo.port}"}, ready=LineProbe("peer"),
              depends_on=("echo",))
    with Supervisor([spec, echo()], run_dir=tmp_path / "run") as sup:
        words = sup.logs("env").split()
        assert Path(words[1]).resolve() == (tmp_path / "work").resolve()
        assert words[3] == f"127.0.0.1:{sup.port('echo')}"


def test_interrupt_while_waiting_for_readiness_stops_what_was_started(tmp_path: Path) -> None:
    # Ctrl-C in a notebook while `up` waits: KeyboardInterrupt arrives in the waiting thread.
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    waits = py("waits", GRANDPARENT, port="auto", ready_timeout_s=60)  # never listens
    sup = Supervisor([waits], run_dir=tmp_path)
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 3.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            sup.start()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pids = [sup.pid("waits")]
    if "grandchild" in sup.logs("waits"):
        pids.append(_grandchild_pid(sup, "waits"))
    assert not any(pid_alive(p) for p in pids)
    assert sup.row("waits")["state"] == "stopped"
