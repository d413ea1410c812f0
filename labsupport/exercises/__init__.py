"""Exercises a learner can check in one call, the way a staged tester or ``go test -run 3A`` does.

Every exercise has an id (``"02.1"``: lab 02, exercise 1), a title, a stub the learner edits and a
check. The check is a list of cases run against the learner's code: table-driven cases (one input,
one expected result) and property cases (many generated inputs against a reference rule, the first
counter-example reported). Each case prints one line, ``PASS`` or ``FAIL`` with the input that
failed, the expected and the actual result; a summary line with the timing closes the check::

    >>> from labsupport.exercises import check
    >>> check("02.1", post_only)          # a function or class defined in a notebook cell
    >>> check("02.1")                     # or the one in exercises/lab02.py

Where things live
-----------------
- ``labsupport/exercises/labNN.py``: the checks of lab NN, each declared with :func:`exercise`.
- ``labsupport/exercises/stubs/labNN.py``: the stubs, as the learner first sees them. ``python -m
  labsupport check NN`` copies it to ``exercises/labNN.py`` in the checkout the first time, and from
  then on checks the learner's copy.
- ``labsupport/exercises/solutions/labNN.py``: reference solutions. CI runs every check against
  its solution (it must pass) and against its unmodified stub (it must fail): a check the stub
  passes checks nothing.

The attribute an exercise checks is named by the exercise (``attr``), so one file holds all of a
lab's stubs and the learner's solutions side by side.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["Case", "Property", "Exercise", "CheckResult", "CaseResult", "ExerciseError",
           "exercise", "check", "check_lab", "exercises", "find", "load_module",
           "stub_path", "solution_path", "learner_path", "LEARNER_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent
LEARNER_DIR = PACKAGE_DIR.parent.parent / "exercises"  # the checkout's exercises/ folder
_MISSING = object()


class ExerciseError(LookupError):
    """Raised for an unknown exercise id or lab, or a learner file that lacks the attribute."""


@dataclass(frozen=True, slots=True)
class Case:
    """One table row: run the learner's code on ``input``, compare with ``expected``.

    ``run`` takes no arguments (close over the solution); ``input`` is how the row is shown when it
    fails. ``compare`` decides equality (default ``==``).
    """

    name: str
    run: Callable[[], Any]
    expected: Any
    input: str = ""
    compare: Callable[[Any, Any], bool] = field(default=lambda a, b: a == b)


@dataclass(frozen=True, slots=True)
class Property:
    """Many generated inputs: ``actual(x)`` (the learner's code) must equal ``expected(x)``.

    ``inputs`` is a finite iterable (seeded, so a failure replays); the first counter-example is
    reported with ``show(x)``.
    """

    name: str
    inputs: Callable[[], Iterable[Any]]
    actual: Callable[[Any], Any]
    expected: Callable[[Any], Any]
    show: Callable[[Any], str] = repr
    compare: Callable[[Any, Any], bool] = field(default=lambda a, b: a == b)


@dataclass(frozen=True, slots=True)
class Exercise:
    id: str  # "02.1"
    title: str
    attr: str  # the name of the function or class in the stub / solution / learner file
    cases: Callable[[Any], Iterable[Case | Property]]  # solution -> its cases

    @property
    def lab(self) -> str:
        return self.id.split(".")[0]


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    detail: str  # "" when passed; else input, expected, actual (or the exception)
    count: int = 1  # inputs tried (properties)


@dataclass(frozen=True, slots=True)
class CheckResult:
    exercise: Exercise
    results: tuple[CaseResult, ...]
    seconds: float
    printed: bool = False  # check() already printed the lines and the summary

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        ok = sum(r.passed for r in self.results)
        verdict = "Passed" if self.passed else "FAILED"
        return (f"{verdict} -- {self.exercise.id} {self.exercise.title}: "
                f"{ok}/{len(self.results)} cases in {self.seconds:.2f} s")

    def __repr__(self) -> str:
        return self.summary()

    def _ipython_display_(self) -> None:  # a bare check(...) in a cell: the summary once, not twice
        if not self.printed:
            print(self.summary())


_REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, attr: str) -> Callable[[Callable], Callable]:
    """Declare the check of exercise ``id``: the decorated function maps a solution to its cases."""

    def register(cases: Callable[[Any], Iterable[Case | Property]]) -> Callable:
        if id in _REGISTRY:
            raise ValueError(f"exercise {id} is declared twice")
        _REGISTRY[id] = Exercise(id, title, attr, cases)
        return cases

    return register


def _load_checks() -> None:
    for info in pkgutil.iter_modules([str(PACKAGE_DIR)]):
        if info.name.startswith("lab"):
            importlib.import_module(f"{__name__}.{info.name}")


def exercises(lab: str | None = None) -> list[Exercise]:
    """Every declared exercise (of one lab), in id order."""
    _load_checks()
    key = None if lab is None else f"{int(lab):02d}"
    found = [e for e in _REGISTRY.values() if key is None or e.lab == key]
    return sorted(found, key=lambda e: tuple(int(p) for p in e.id.split(".")))


def find(id: str) -> Exercise:
    _load_checks()
    try:
        return _REGISTRY[id]
    except KeyError:
        known = ", ".join(e.id for e in exercises())
        raise ExerciseError(f"no exercise {id!r}; the exercises are {known}") from None


def stub_path(lab: str) -> Path:
    return PACKAGE_DIR / "stubs" / f"lab{int(lab):02d}.py"


def solution_path(lab: str) -> Path:
    return PACKAGE_DIR / "solutions" / f"lab{int(lab):02d}.py"


def learner_path(lab: str) -> Path:
    return LEARNER_DIR / f"lab{int(lab):02d}.py"


def load_module(path: Path) -> ModuleType:
    """Import a stub, solution or learner file by path, fresh each time (edits are picked up)."""
    name = f"labsupport_exercise_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExerciseError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _from_module(ex: Exercise, module: ModuleType, where: Path) -> Any:
    value = getattr(module, ex.attr, _MISSING)
    if value is _MISSING:
        raise ExerciseError(f"{where}: no {ex.attr!r} for exercise {ex.id} ({ex.title})")
    return value


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mismatch(want: Any, got: Any) -> str:
    """Expected and actual, or for two sequences the first place they differ."""
    seq = (list, tuple)
    if isinstance(want, seq) and isinstance(got, seq) and len(str(want)) > 120:
        for i, (a, b) in enumerate(zip(want, got)):
            if a != b:
                return (f"first difference at [{i}] of {len(want)}: expected {_short(a)}, "
                        f"got {_short(b)}")
        if len(want) != len(got):
            return f"expected {len(want)} items, got {len(got)}"
    return f"expected {_short(want)}, got {_short(got)}"


def _raised(exc: BaseException) -> str:
    if isinstance(exc, NotImplementedError):
        return "not implemented yet (the stub raises NotImplementedError)"
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"raised {type(exc).__name__}: {_short(str(exc), 200)}{at}"


def _run_case(case: Case | Property) -> CaseResult:
    if isinstance(case, Property):
        n = 0
        for x in case.inputs():
            n += 1
            try:
                want = case.expected(x)
                got = case.actual(x)
            except Exception as exc:  # the learner's code failed on this input: report it
                return CaseResult(case.name, False, f"input {_short(case.show(x))}: {_raised(exc)}", n)
            if not case.compare(got, want):
                return CaseResult(case.name, False,
                                  f"input {_short(case.show(x))}: {_mismatch(want, got)}", n)
        return CaseResult(case.name, n > 0, "" if n else "no inputs were generated", n)
    shown = f"input {_short(case.input)}: " if case.input else ""
    try:
        got = case.run()
    except Exception as exc:  # reported as this case's failure, the other cases still run
        return CaseResult(case.name, False, shown + _raised(exc))
    if case.compare(got, case.expected):
        return CaseResult(case.name, True, "")
    return CaseResult(case.name, False, shown + _mismatch(case.expected, got))


def run_check(ex: Exercise, solution: Any) -> Iterator[CaseResult]:
    try:
        cases = list(ex.cases(solution))
    except Exception as exc:  # building the cases touched the learner's code and it failed
        yield CaseResult("setting up the cases", False, _raised(exc))
        return
    for case in cases:
        yield _run_case(case)


def check(id: str, solution: Any = _MISSING, *, quiet: bool = False) -> CheckResult:
    """Run exercise ``id``'s check against ``solution`` (default: the learner's file) and print it."""
    ex = find(id)
    if solution is _MISSING:
        path = learner_path(ex.lab)
        if not path.exists():
            path = stub_path(ex.lab)
        solution = _from_module(ex, load_module(path), path)
    if not quiet:
        print(f"{ex.id} {ex.title}", flush=True)
    t0 = time.perf_counter()
    results = []
    for r in run_check(ex, solution):
        results.append(r)
        if not quiet:
            tried = f" ({r.count} inputs)" if r.count > 1 and r.passed else ""
            line = f"  PASS  {r.name}{tried}" if r.passed else f"  FAIL  {r.name}: {r.detail}"
            print(line, flush=True)
    result = CheckResult(ex, tuple(results), time.perf_counter() - t0, printed=not quiet)
    if not quiet:
        print(result.summary(), flush=True)
    return result


def check_lab(lab: str, source: str = "learner", *, quiet: bool = False) -> list[CheckResult]:
    """Every check of one lab against ``source``: ``learner`` (exercises/labNN.py, created from the
    stub when missing), ``stub`` or ``solution``."""
    found = exercises(lab)
    if not found:
        raise ExerciseError(f"lab {lab} has no exercises")
    if source == "learner":
        path = learner_path(lab)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(stub_path(lab).read_text(encoding="utf-8"), encoding="utf-8")
            if not quiet:
                print(f"created exercises/{path.name} from the stub: edit it, then check again")
    elif source == "stub":
        path = stub_path(lab)
    elif source == "solution":
        path = solution_path(lab)
    else:
        raise ExerciseError(f"unknown source {source!r}: learner, stub or solution")
    module = load_module(path)
    results = []
    for ex in found:
        results.append(check(ex.id, _from_module(ex, module, path), quiet=quiet))
        if not quiet:
            print()
    return results
