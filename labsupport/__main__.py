"""Command line of the lab: list the labs, run one's notebook or tests, run benchmarks, open Jupyter.

    python -m labsupport                 # the table of labs and their status
    python -m labsupport run 00          # execute notebook 00 headless, HTML into build/notebooks/
    python -m labsupport run all --inplace   # re-execute every notebook, outputs stored (CI scale)
    python -m labsupport test 02         # that lab's tests and its notebook under nbval
    python -m labsupport bench 04        # that lab's benchmark (JSON into build/bench/)
    python -m labsupport check 02        # check your exercises/lab02.py against lab 02's exercises
    python -m labsupport lab             # JupyterLab on notebook 00 (prints the URL with its token)
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from .cli import ArgumentParser, entry
from .execute import NotebookRunError
from .exercises import ExerciseError
from .labs import LABS, Lab, UnknownLabError, find_lab
from .measure.paths import REPO_DIR, display_path
from .measure.procs import ProcessError


def _labs_for(key: str) -> list[Lab]:
    if key == "all":
        return [lab for lab in LABS if lab.notebook.exists()]
    return [find_lab(key)]


def cmd_list(_: argparse.Namespace) -> int:
    print(f"{'lab':<4} {'status':<8} {'project':<54} compared with")
    for lab in LABS:
        print(f"{lab.number:<4} {lab.status:<8} {lab.title:<54} {lab.peers}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .execute import execute_notebook

    for lab in _labs_for(args.lab):
        if not lab.notebook.exists():
            raise UnknownLabError(f"lab {lab.number} has no notebook yet ({lab.status})")
        print(f"running {display_path(lab.notebook)} ...", flush=True)
        res = execute_notebook(lab.notebook, inplace=args.inplace, scale=args.scale,
                               cell_timeout_s=args.timeout)
        print(f"  {res.cells} cells in {res.seconds:.1f} s -> {display_path(res.output)}")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    targets: list[str] = []
    for lab in _labs_for(args.lab):
        targets += [str(p) for p in lab.tests]
        if lab.notebook.exists():
            targets.append(str(lab.notebook))
    if not targets:
        raise UnknownLabError(f"nothing to test for {args.lab!r}")
    os.environ.setdefault("LAB_SCALE", "ci")
    argv = [sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", str(REPO_DIR / ".ci" / "nbval_sanitize.cfg"),
            "--nbval-cell-timeout", "240", *targets]
    return subprocess.call(argv, cwd=REPO_DIR)


def cmd_bench(args: argparse.Namespace) -> int:
    modules = (["labsupport.measure.bench", "labsupport.marketdata.bench", "labsupport.sim.bench"]
               if args.lab == "all" else [])
    for lab in _labs_for(args.lab):
        if lab.package:
            modules.append(f"labsupport.{lab.package}.bench")
    status = 0
    for name in dict.fromkeys(modules):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        print(f"== {name}", flush=True)
        rc = module.main([])
        if isinstance(rc, int) and rc and not status:  # some mains return their report
            status = rc
    return status


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when every check passed, 1 when one failed (as test runners do)."""
    from .exercises import (
        check,
        check_lab,
        exercises,
        find,
        learner_path,
        load_module,
        solution_path,
        stub_path,
    )

    source = "solution" if args.solution else "stub" if args.stub else "learner"
    if "." in args.lab:  # one exercise: 02.1
        ex = find(args.lab)
        path = {"solution": solution_path, "stub": stub_path, "learner": learner_path}[source](ex.lab)
        if not path.exists():
            path = stub_path(ex.lab)
        results = [check(ex.id, getattr(load_module(path), ex.attr))]
    else:
        lab = find_lab(args.lab)
        if not exercises(lab.number):
            print(f"lab {lab.number} has no exercises yet")
            return 0
        results = check_lab(lab.number, source)
    failed = [r.exercise.id for r in results if not r.passed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_lab(args: argparse.Namespace) -> int:
    from .execute import _jupyter_env

    _jupyter_env()
    jupyter = shutil.which("jupyter", path=os.path.dirname(sys.executable)) or "jupyter"
    argv = [jupyter, "lab", "--ip", args.ip, "--port", str(args.port),
            f"--ServerApp.root_dir={REPO_DIR}", "notebooks/00_start_here.ipynb"]
    if os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root otherwise (containers, CI boxes)
    headless = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                    or os.environ.get("BROWSER") or sys.platform == "darwin")
    if headless or args.no_browser:
        argv.append("--no-browser")
    print("Starting JupyterLab; open the http://127.0.0.1:... URL with its token printed below.",
          flush=True)
    try:
        return subprocess.call(argv, cwd=REPO_DIR)
    except KeyboardInterrupt:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m labsupport", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="the table of labs").set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="execute a lab's notebook headless")
    run.add_argument("lab", help="lab number (00, 1, 13), name, or 'all'")
    run.add_argument("--inplace", action="store_true",
                     help="store the outputs in the notebook (runs at LAB_SCALE=ci)")
    run.add_argument("--scale", choices=("ci", "default", "full"), default=None)
    run.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    run.set_defaults(func=cmd_run)
    test = sub.add_parser("test", help="a lab's tests and its notebook under nbval")
    test.add_argument("lab")
    test.set_defaults(func=cmd_test)
    bench = sub.add_parser("bench", help="a lab's benchmark, or 'all'")
    bench.add_argument("lab")
    bench.set_defaults(func=cmd_bench)
    chk = sub.add_parser("check", help="run a lab's exercise checks against exercises/labNN.py")
    chk.add_argument("lab", help="lab number (02) or one exercise (02.1)")
    which = chk.add_mutually_exclusive_group()
    which.add_argument("--solution", action="store_true", help="check the reference solutions")
    which.add_argument("--stub", action="store_true", help="check the unmodified stubs")
    chk.set_defaults(func=cmd_check)
    lab = sub.add_parser("lab", help="start JupyterLab on notebook 00")
    lab.add_argument("--ip", default="127.0.0.1")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--no-browser", action="store_true")
    lab.set_defaults(func=cmd_lab)
    return parser


@entry("python -m labsupport", input_errors=(UnknownLabError, ExerciseError, NotebookRunError,
                                             ProcessError))
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        return cmd_list(args)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
