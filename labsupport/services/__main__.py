"""``python -m labsupport.services up SPEC.toml | status | logs NAME | down``: a system from a shell.

::

    python -m labsupport.services up labsupport/services/examples/echo_pair.toml --detach
    python -m labsupport.services status            # the table: state, pid, port, restarts
    python -m labsupport.services logs front -n 50  # the last lines of one service's log
    python -m labsupport.services down              # stop it (reverse order, SIGTERM/SIGKILL)

``up`` runs the supervisor in the foreground until Ctrl-C or SIGTERM (which ``down`` sends);
with ``--detach`` it starts the supervisor as a background process, waits until the system is
ready (or failed: then it prints why and exits 2) and returns. All commands share a run
directory (``--run-dir``, default ``build/services/default``) whose ``state.json`` tells the
other commands what is running. The spec's TOML keys are documented in
:mod:`labsupport.services.tomlspec`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from labsupport import cli
from labsupport.measure.paths import build_dir, display_path

from .spec import ServiceError
from .state import RunDirError, format_table, pid_alive, read_state
from .supervisor import up

PROG = "python -m labsupport.services"


def _run_dir(args: argparse.Namespace) -> Path:
    return Path(args.run_dir) if args.run_dir else build_dir() / "services" / "default"


def _refuse_if_running(run_dir: Path) -> None:
    try:
        state = read_state(run_dir)
    except RunDirError:
        return
    if state.get("state") != "stopped" and pid_alive(state.get("supervisor_pid")):
        raise ServiceError(f"{display_path(run_dir)}: system {state.get('system')} is already "
                           f"running (supervisor pid {state['supervisor_pid']}); `down` it first")


def cmd_up(args: argparse.Namespace) -> int:
    run_dir = _run_dir(args)
    _refuse_if_running(run_dir)
    if args.detach:
        return _up_detached(args, run_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with up(args.spec, run_dir=run_dir) as system:
        print(format_table(system.status()), flush=True)
        print(f"{system.name} is up; Ctrl-C or `{PROG} down` stops it", flush=True)
        while not stop.wait(0.2):
            pass
    print(f"{system.name} stopped", flush=True)
    return 0


def _up_detached(args: argparse.Namespace, run_dir: Path) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "state.json").unlink(missing_ok=True)
    log = open(run_dir / "supervisor.log", "wb")  # noqa: SIM115 - handed to the child
    with log:
        child = subprocess.Popen(
            [sys.executable, "-m", "labsupport.services", "up", str(args.spec),
             "--run-dir", str(run_dir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = (run_dir / "supervisor.log").read_text(errors="replace").strip()
            raise ServiceError(f"the system did not start (exit {child.returncode}): "
                               f"{tail.splitlines()[-1] if tail else 'no output'}")
        try:
            state = read_state(run_dir)
        except RunDirError:
            state = {}
        if state.get("state") == "running" and state.get("supervisor_pid") == child.pid:
            print(format_table(state["services"]))
            print(f"{state['system']} is up (supervisor pid {child.pid}); "
                  f"`{PROG} down` stops it")
            return 0
        time.sleep(0.05)
    child.terminate()
    raise ServiceError(f"the system was not up within {args.timeout} s; see "
                       f"{display_path(run_dir / 'supervisor.log')}")


def cmd_status(args: argparse.Namespace) -> int:
    state = read_state(_run_dir(args))
    alive = pid_alive(state.get("supervisor_pid"))
    rows = state["services"]
    if not alive:
        for row in rows:  # no supervisor to keep the states current: look at the pids
            if row["state"] not in ("stopped", "exited", "failed"):
                row["state"] = "running?" if pid_alive(row["pid"]) else "gone"
    print(format_table(rows))
    sup = state.get("supervisor_pid")
    print(f"system {state['system']}: {state['state']}, supervisor pid {sup} "
          f"{'running' if alive else 'not running'}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    run_dir = _run_dir(args)
    state = read_state(run_dir)
    names = [r["service"] for r in state["services"]]
    if args.name not in names:
        raise ServiceError(f"no service named {args.name!r} (services: {', '.join(names)})")
    text = (run_dir / "logs" / f"{args.name}.log").read_text(encoding="utf-8",
                                                               errors="replace")
    lines = text.splitlines()
    print("\n".join(lines[-args.lines:] if args.lines > 0 else lines))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    run_dir = _run_dir(args)
    state = read_state(run_dir)
    sup = state.get("supervisor_pid")
    if state.get("state") != "stopped" and pid_alive(sup) and sup != os.getpid():
        os.kill(sup, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while pid_alive(sup) and time.monotonic() < deadline:
            time.sleep(0.05)
    leftovers = [r for r in read_state(run_dir)["services"] if pid_alive(r["pid"])]
    for row in leftovers:  # the supervisor died or hung: kill its services' groups
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(row["pid"], signal.SIGKILL)
    n = len(state["services"])
    extra = f", {len(leftovers)} killed by pid" if leftovers else ""
    print(f"system {state['system']} is down ({n} services{extra})")
    return 0


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", help="the run directory (default build/services/default)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="start a system from its TOML spec")
    p.add_argument("spec", help="the system's TOML file")
    p.add_argument("--detach", action="store_true", help="run the supervisor in the background")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds --detach waits for it")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("status", help="the state of each service")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("logs", help="the end of one service's log")
    p.add_argument("name")
    p.add_argument("-n", "--lines", type=int, default=40, help="how many lines (0: all)")
    p.set_defaults(func=cmd_logs)
    p = sub.add_parser("down", help="stop the system")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the stop")
    p.set_defaults(func=cmd_down)
    for name in ("up", "status", "logs", "down"):  # --run-dir after the command works too
        sub.choices[name].add_argument("--run-dir", default=argparse.SUPPRESS,
                                       help=argparse.SUPPRESS)
    return parser


@cli.entry(PROG, input_errors=(ServiceError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
