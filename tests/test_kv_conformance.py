"""Redis's own test suite, a few fast units, against real Redis and ours in the same run: a
floor on the tests ours passes (of those Redis passes), so a regression shows. Skipped with a
message when tclsh, the suite's archive or redis-server is missing."""

from __future__ import annotations

import shutil

import pytest

from labsupport.kv import conformance


def _archive_or_skip():
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed (apt-get install tcl): the suite is written in Tcl")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the suite runs against both servers")
    try:
        return conformance.find_archive()
    except conformance.ConformanceError as e:
        pytest.skip(str(e))


def test_parse_output_reads_ok_err_and_exception_lines():
    text = ("\x1b[0;32;49mok\x1b[0m".join(["[", "]: SADD basics (1 ms)\n"])
            + "[\x1b[0;31;49merr\x1b[0m]: SMOVE x in tests/unit/type/set.tcl\n"
            + "*** [err]: SMOVE x in tests/unit/type/set.tcl\n"
            + "[exception]: Executing test client: boom\n")
    run = conformance.parse_output(text)
    assert run.ok == ["SADD basics"] and run.err == ["SMOVE x"]
    assert run.exception == "Executing test client: boom"


def test_fast_units_pass_as_on_real_redis():
    archive = _archive_or_skip()
    report = conformance.run(("unit/type/incr", "unit/type/set"), str(archive), timeout_s=240)
    by_unit = {r.unit: r for r in report.results}
    print(report.format())
    for unit, floor in (("unit/type/incr", 0.95), ("unit/type/set", 0.95)):
        r = by_unit[unit]
        assert r.redis_passes > 20, f"real Redis passed only {r.redis_passes} in {unit}"
        assert not r.ours.timed_out and not r.ours.server_died, unit
        assert r.ours_passes >= floor * r.redis_passes, (unit, r.missing)
