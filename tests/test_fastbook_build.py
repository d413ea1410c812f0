"""The build of Lab 11's compiled engines: the Cython extension is really compiled and used,
the package imports without it and says how to build it, the annotation and the benchmark run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labsupport.fastbook import ExtensionMissing, FastEngine, cython_available


def test_cython_extension_is_compiled_and_used():
    from labsupport.fastbook import _cyengine

    assert Path(_cyengine.__file__).suffix == ".so", _cyengine.__file__
    assert cython_available()
    eng = FastEngine("cython")
    assert type(eng._kernel) is _cyengine.Kernel
    assert type(eng._kernel).__module__ == "labsupport.fastbook._cyengine"
    assert not hasattr(_cyengine.Kernel, "__dict__") or "_add" not in _cyengine.Kernel.__dict__
    assert eng.add("X", 1, 1, 0, 100, 5) == 5  # cdef methods: invisible from Python


def test_numba_kernel_is_jitted():
    from numba.core.registry import CPUDispatcher

    from labsupport.fastbook import _nbcore

    eng = FastEngine("numba")
    eng.add("X", 1, 1, 0, 100, 5)
    assert isinstance(_nbcore.run, CPUDispatcher) and _nbcore.run.signatures


def test_package_imports_without_the_extension_and_says_how_to_build_it():
    code = ("import sys; sys.modules['labsupport.fastbook._cyengine'] = None\n"
            "import labsupport.fastbook as fb\n"
            "assert not fb.cython_available()\n"
            "assert fb.FastEngine('numba').add('X', 1, 1, 0, 100, 5) == 5\n"
            "try:\n    fb.FastEngine('cython')\n"
            "except fb.ExtensionMissing as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "pip install -e ." in r.stdout and "not built" in r.stdout
    assert issubclass(ExtensionMissing, ImportError)


def test_cython_annotation_is_white_inside_the_kernel(tmp_path):
    pytest.importorskip("Cython")
    from labsupport.fastbook.annotate import annotate

    a = annotate(tmp_path)
    assert a.html_path.exists() and a.lines > 300
    functions = {r["function"] for r in a.summary()}
    boundary = {"(module)", "rehash", "prehash", "slot_of", "__init__", "bind", "run", "step",
                "add", "cancel", "modify", "_apply_one", "leaves", "queue_position"}
    assert functions <= boundary, functions - boundary
    assert {"run", "step"} <= functions  # the boundary is where the yellow is
    assert not functions & {"_match", "_add", "_fill", "_apply", "_journal", "_remove"}
    assert not (tmp_path.parent / "labsupport").exists()


def test_bench_smoke(tmp_path, capsys):
    from labsupport.fastbook import bench

    report = bench.build_report(bench.BenchSizes(events=3000, repeats=1, latency_events=500,
                                                 resting=500, depths=(5,), depth_events=500),
                                compile_time=False)
    names = [r["name"] for r in report.rows]
    assert "flow python (Lab 02) pnl" in names and "flow cython kernel no pnl" in names
    assert "latency cython kernel" in names and "memory numba" in names
    for r in report.rows:
        for k in ("ev_per_s_median", "ev_per_cpu_s", "p50_ns", "bytes"):
            if k in r:
                assert r[k] > 0, r
    mem = {r["name"]: r["bytes"] for r in report.rows if r["name"].startswith("memory")}
    assert mem["memory numba slot"] == 80.0  # ten int64 fields per pool slot
    with pytest.raises(SystemExit) as exc:
        bench.main(["--events", "x"])
    assert exc.value.code == 2 and "--events" in capsys.readouterr().err


def test_bench_phase_and_batch_latency_smoke():
    from labsupport.fastbook import bench

    flow = bench.generated_flow(3000)
    rec = bench.batch_latency(flow, "numba", chunk=100)
    assert rec.summary().count == 30 and rec.summary().p50_ns > 0
    phases = bench.phase_times(flow, "numba")
    assert set(phases) == {"encode", "kernel", "pnl in kernel"} and phases["kernel"] > 0
    assert bench.typed_dict_vs_dict(500)["typed.Dict inside @njit"] > 0


def test_numba_cache_key_covers_the_inlined_helpers():
    """Numba's cache only watches ``_nbcore.py``; the digest of the modules inlined into its
    kernel lives there, so editing one of them (and the digest) invalidates the cache."""
    import hashlib

    from labsupport.fastbook import _nbcore

    here = Path(_nbcore.__file__).parent
    digest = hashlib.sha256(b"".join((here / f).read_bytes() for f in _nbcore.HELPERS))
    assert digest.hexdigest()[:16] == _nbcore.HELPERS_DIGEST, (
        f"{', '.join(_nbcore.HELPERS)} changed: set HELPERS_DIGEST in _nbcore.py to "
        f"{digest.hexdigest()[:16]!r} so Numba recompiles the kernel")
