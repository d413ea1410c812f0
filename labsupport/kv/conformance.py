"""Redis's own Tcl test suite, run against this server and against real Redis in the same run.

``python -m labsupport.kv.conformance [--units unit/type/set unit/expire ...]`` (also reachable
as ``python -m labsupport.kv conformance``) extracts the suite (Redis 7.0.15's ``runtest`` and
``tests/``, from ``--archive`` or ``$KV_REDIS_SUITE``, by default
``../shared/redis-suite/redis-7.0.15-tests.tgz`` next to the checkout) into a temporary
directory, and for each unit starts a fresh Debian ``redis-server`` and a fresh mini Redis on
free ports, runs the unit against each in external-server mode with the same flags, and parses
the ``[ok]`` / ``[err]`` / ``[exception]`` lines the suite prints.

The flags: ``--durable`` (an error inside a test fails that test instead of ending the file),
``--ignore-encoding`` (OBJECT ENCODING names memory layouts: Redis's compact ``listpack`` and
``intset`` are not built here, see :mod:`.cmd_keyspace`), and tags excluding the tests that need
a second local process (replication, DEBUG RELOAD and friends, maxmemory, SAVE, RESET), which
external-server mode cannot run against either server. Each run has a timeout and is killed as
a process group, so a unit that hangs one server costs its timeout and nothing else; a server
that died during a unit is reported.

The result (:class:`Report`) gives per unit the tests real Redis passes, how many of those pass
here, and the names of the ones that do not: the list the notebook explains.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labsupport import cli
from labsupport.measure import BackgroundProcess, free_port

from .errors import KvError

UNITS = ("unit/type/string", "unit/expire", "unit/keyspace", "unit/type/incr", "unit/type/list",
         "unit/type/hash", "unit/type/set", "unit/type/zset", "unit/pubsub", "unit/protocol",
         "unit/info-command", "unit/multi", "unit/auth")
FAST_UNITS = ("unit/type/incr", "unit/type/string", "unit/type/set")
TAGS = "-needs:repl -needs:debug -needs:config-maxmemory -needs:save -needs:reset"
DEFAULT_ARCHIVE = Path(__file__).resolve().parents[2] / ".." / "shared" / "redis-suite" / \
    "redis-7.0.15-tests.tgz"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LINE = re.compile(r"^\[(ok|err|exception)\]: (.*?)(?: \(\d+ ms\)| in tests/\S+)?$")


class ConformanceError(KvError):
    """The suite cannot run here (no tclsh, no archive, no redis-server)."""


@dataclass
class UnitRun:
    """What one unit printed against one server."""

    ok: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    exception: str | None = None
    timed_out: bool = False
    server_died: bool = False
    tail: str = ""          # the output's last lines when no test line was found (diagnosis)


@dataclass
class UnitResult:
    unit: str
    redis: UnitRun
    ours: UnitRun

    @property
    def redis_passes(self) -> int:
        return len(self.redis.ok)

    @property
    def ours_passes(self) -> int:
        """Tests that pass on both (a name can repeat: one per encoding; a test that only ours
        passes does not count)."""
        mine = Counter(self.ours.ok)
        return sum(min(n, mine[t]) for t, n in Counter(self.redis.ok).items())

    @property
    def missing(self) -> list[str]:
        """Tests real Redis passes and ours does not (with multiplicity)."""
        mine = Counter(self.ours.ok)
        return sorted(t for t, n in Counter(self.redis.ok).items() for _ in range(n - mine[t])
                      if n > mine[t])


@dataclass
class Report:
    results: list[UnitResult]
    meta: dict = field(default_factory=dict)   # when, against which redis-server, which flags

    def table(self) -> list[dict]:
        rows = []
        for r in self.results:
            note = ("timeout" if r.ours.timed_out else "server died" if r.ours.server_died
                    else "exception" if r.ours.exception else "")
            rows.append({"unit": r.unit, "redis": r.redis_passes, "ours": r.ours_passes,
                         "ratio": round(r.ours_passes / r.redis_passes, 3) if r.redis_passes else None,
                         "note": note})
        tr = sum(r.redis_passes for r in self.results)
        to = sum(r.ours_passes for r in self.results)
        rows.append({"unit": "total", "redis": tr, "ours": to,
                     "ratio": round(to / tr, 3) if tr else None, "note": ""})
        return rows

    def format(self, list_missing: bool = True) -> str:
        lines = [f"{'unit':<22} {'redis':>6} {'ours':>6} {'ratio':>6}  note"]
        for row in self.table():
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.0%}"
            lines.append(f"{row['unit']:<22} {row['redis']:>6} {row['ours']:>6} {ratio:>6}  "
                         f"{row['note']}")
        if list_missing:
            for r in self.results:
                if r.missing:
                    lines.append(f"\n{r.unit}: passes on Redis, fails here ({len(r.missing)})")
                    lines += [f"  - {t}" for t in r.missing]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"meta": self.meta, "results": [asdict(r) for r in self.results],
                           "table": self.table()}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Report:
        data = json.loads(text)
        return cls([UnitResult(d["unit"], UnitRun(**d["redis"]), UnitRun(**d["ours"]))
                    for d in data["results"]], data.get("meta", {}))


def parse_output(text: str) -> UnitRun:
    """The ``[ok]``/``[err]``/``[exception]`` lines of a runtest output."""
    run = UnitRun()
    seen_err = set()
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).strip()
        if line.startswith("***"):
            continue   # the summary repeats every [err] line at the end
        m = _LINE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        if kind == "ok":
            run.ok.append(name)
        elif kind == "err" and name not in seen_err:
            seen_err.add(name)
            run.err.append(name)
        elif kind == "exception":
            run.exception = name
    return run


def find_archive(path: str | None = None) -> Path:
    p = Path(path or os.environ.get("KV_REDIS_SUITE") or DEFAULT_ARCHIVE).resolve()
    if not p.is_file():
        raise ConformanceError(f"{p}: Redis test-suite archive not found (give --archive or set "
                               "KV_REDIS_SUITE)")
    return p


def extract(archive: Path, into: str) -> Path:
    """Unpack the suite; returns the directory holding ``runtest``."""
    with tarfile.open(archive) as tf:
        tf.extractall(into, filter="data")
    for runtest in Path(into).rglob("runtest"):
        return runtest.parent
    raise ConformanceError(f"{archive}: no runtest inside")


def _baseport() -> int:
    """A base for the harness's own ports: it binds ``base-32..base`` and each port + 10000, so
    the base stays well below 55535 (a random one, so concurrent runs rarely collide)."""
    return random.randrange(20000, 30000, 64)


def _run_unit(suite: Path, port: int, unit: str, extra: list[str], timeout_s: float,
              proc: BackgroundProcess) -> UnitRun:
    argv = ["./runtest", "--host", "127.0.0.1", "--port", str(port), "--durable",
            "--ignore-encoding", "--clients", "1", "--baseport", str(_baseport()),
            "--single", unit, "--tags", TAGS, *extra]
    child = subprocess.Popen(argv, cwd=suite, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    try:
        out, _ = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
    text = out.decode("utf-8", "replace")
    run = parse_output(text)
    if not (run.ok or run.err):
        run.tail = "\n".join(_ANSI.sub("", text).splitlines()[-15:])
    run.timed_out = timed_out
    run.server_died = proc.proc is not None and proc.proc.poll() is not None
    return run


def _redis(dir: str) -> BackgroundProcess:
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConformanceError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    return BackgroundProcess([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", dir,
                              "--save", "", "--appendonly", "no", "--daemonize", "no",
                              "--enable-debug-command", "yes", "--logfile", ""],
                             port=port, name="redis-server")


def _ours(dir: str) -> BackgroundProcess:
    port = free_port()
    return BackgroundProcess([sys.executable, "-m", "labsupport.kv", "--port", str(port),
                              "--dir", dir], port=port, name="kv")


def run(units=FAST_UNITS, archive: str | None = None, timeout_s: float = 300.0,
        singledb: bool = False, log=None) -> Report:
    """Run ``units`` against a fresh real Redis and a fresh mini Redis each; see the module."""
    if shutil.which("tclsh") is None:
        raise ConformanceError("tclsh is not installed (apt-get install tcl)")
    path = find_archive(archive)
    extra = ["--singledb"] if singledb else []
    results = []
    with tempfile.TemporaryDirectory(prefix="kv-suite-") as tmp:
        suite = extract(path, tmp)
        for unit in units:
            runs = {}
            for name, factory in (("redis", _redis), ("ours", _ours)):
                d = tempfile.mkdtemp(dir=tmp)
                with factory(d) as proc:
                    run_ = _run_unit(suite, proc.port, unit, extra, timeout_s, proc)
                    if not (run_.ok or run_.err or run_.timed_out or run_.server_died):
                        # the harness itself did not start (its own port taken by another
                        # process, say): once more, and the second result stands
                        run_ = _run_unit(suite, proc.port, unit, extra, timeout_s, proc)
                    runs[name] = run_
            res = UnitResult(unit, runs["redis"], runs["ours"])
            if log is not None:
                log(f"{unit}: redis {res.redis_passes}, ours {res.ours_passes}")
            results.append(res)
    version = subprocess.run([shutil.which("redis-server"), "--version"], capture_output=True,
                             text=True).stdout.strip()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "redis_server": version,
            "archive": path.name, "flags": f"--durable --ignore-encoding --tags {TAGS!r}"
            + (" --singledb" if singledb else ""), "timeout_s": timeout_s}
    return Report(results, meta)


STORED = Path(__file__).with_name("results") / "conformance.json"

# Why a test that real Redis passes fails here: the first matching pattern gives the reason.
REASONS = [
    (r"stream", "streams (XADD and the X* commands) are not built"),
    (r"ziplist of various encodings|sanitize dump", "DUMP/RESTORE (Redis's serialized RDB value) "
     "is not built"),
    (r"SORT", "SORT is not built"),
    (r"client unblock", "CLIENT UNBLOCK is not built"),
    (r"trim on SET with big value", "runs only when INFO names jemalloc as mem_allocator; memory "
     "here is CPython's allocator"),
    (r"MOVE basic usage", "runs after the stream tests, whose keys stay behind when XADD fails"),
]


def reason(test: str) -> str:
    for pattern, why in REASONS:
        if re.search(pattern, test, re.IGNORECASE):
            return why
    return "not built yet"


def load_stored(path: Path | str = STORED) -> Report:
    """The report of a full run saved with ``--json`` (what the notebook shows)."""
    return Report.from_json(Path(path).read_text())


def frames(report: Report):
    """(per-unit table, failing tests with their reason) as pandas DataFrames."""
    import pandas as pd
    table = pd.DataFrame(report.table()).set_index("unit")
    missing = pd.DataFrame([{"unit": r.unit, "test": t, "reason": reason(t)}
                            for r in report.results for t in r.missing],
                           columns=["unit", "test", "reason"])
    return table, missing


def build_parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser(prog="python -m labsupport.kv conformance",
                           description="Run Redis's test suite against real Redis and this server.")
    p.add_argument("--units", nargs="+", default=list(UNITS), metavar="UNIT",
                   help="suite units, e.g. unit/type/set (default: the lab's 13 units)")
    p.add_argument("--archive", help="the suite's .tgz (default: $KV_REDIS_SUITE or "
                                     "../shared/redis-suite/redis-7.0.15-tests.tgz)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per unit and server")
    p.add_argument("--singledb", action="store_true", help="keep the suite on database 0")
    p.add_argument("--json", metavar="PATH", help="also write the full result as JSON")
    p.add_argument("--brief", action="store_true", help="the table only, not the failing tests")
    return p


@cli.entry("python -m labsupport.kv conformance", input_errors=(KvError,))
def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    report = run(a.units, a.archive, a.timeout, a.singledb,
                 log=lambda s: print(s, file=sys.stderr, flush=True))
    print(report.format(list_missing=not a.brief))
    if a.json:
        Path(a.json).write_text(report.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
