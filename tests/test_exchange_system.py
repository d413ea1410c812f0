"""The exchange as supervised processes: ``up``/``status``/``down``, trading through FIX, a
matcher killed with -9 that rebuilds its books from its journal, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labsupport.exchange.client import FixClient
from labsupport.exchange.control import PATH
from labsupport.exchange.matching import Journal
from labsupport.exchange.mdclient import L2Subscriber, reference_books
from labsupport.services.state import pid_alive

CLI = [sys.executable, "-m", "labsupport.exchange"]


def start(run_dir: Path, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([*CLI, "up", "--dir", str(run_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 150
    while not (run_dir / "exchange.pid").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"up did not come up: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)
    return proc


def service_pids(run_dir: Path) -> dict[str, int]:
    doc = json.loads((run_dir / "state.json").read_text())
    return {r["service"]: r["pid"] for r in doc["services"]}


def stop(run_dir: Path, proc: subprocess.Popen) -> None:
    pids = service_pids(run_dir)
    res = subprocess.run([*CLI, "down", "--dir", str(run_dir)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    proc.wait(30)
    assert proc.returncode == 0
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [n for n, p in pids.items() if pid_alive(p)], "processes left behind"
    assert not (run_dir / "exchange.pid").exists()


def rpc(port: int, method: str, request: dict | None = None) -> dict:
    from labsupport.rpc.threaded import BlockingChannel

    with BlockingChannel("127.0.0.1", port) as ch:
        return ch.unary(PATH + method, request or {}, timeout=5.0)


def wait_fills(ports: dict, n: int) -> dict:
    """The drop copy's positions once it has ``n`` fills (it is fed asynchronously)."""
    deadline = time.monotonic() + 10
    while (got := rpc(ports["services"]["dropcopy"], "Positions"))["fills"] < n:
        assert time.monotonic() < deadline, got
        time.sleep(0.05)
    return got


@pytest.mark.timeout(240)
def test_services_trade_survive_a_killed_matcher_and_leave_nothing(tmp_path) -> None:
    run_dir = tmp_path / "run"
    # Lab 11's engine here (the recovery tests run the default, Lab 02's): kill -9 on both
    proc = start(run_dir, "--symbols", "AAA,BBB", "--matchers", "1", "--engine", "lab11")
    try:
        assert json.loads((run_dir / "wiring.json").read_text())["engine"] == "lab11"
        ports = json.loads((run_dir / "ports.json").read_text())
        assert {"fix", "md_zmq", "md_udp", "rpc"} <= set(ports)
        sub = L2Subscriber(ports["md_zmq"], ports["rpc"], record=True)
        sub.poll()
        a = FixClient("127.0.0.1", ports["fix"], "A", timeout_s=15)
        b = FixClient("127.0.0.1", ports["fix"], "B", timeout_s=15)
        a.logon()
        b.logon()
        for i, px in enumerate(("10.00", "10.01", "10.02")):
            a.new_order(f"s{i}", "AAA", "2", 10, px)
        a.new_order("t0", "BBB", "1", 7, "5.00")
        assert [m[150] for m in a.reports(4)] == ["0"] * 4
        b.new_order("x0", "AAA", "1", 15, "10.01")
        assert [m[150] for m in b.reports(3)] == ["0", "F", "F"]
        a.reports(2)
        wait_fills(ports, 2)  # x0's two fills reached the drop copy before the kill
        book_before = rpc(ports["services"]["match-0"], "Book", {"symbol": "AAA"})
        assert book_before == {"bids": [], "asks": [[1001, 5, 1], [1002, 10, 1]]}

        os.kill(service_pids(run_dir)["match-0"], signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:
            rows = {r["service"]: r for r in json.loads((run_dir / "state.json").read_text())["services"]}
            if rows["match-0"]["restarts"] >= 1 and rows["match-0"]["state"] == "running":
                break
            assert time.monotonic() < deadline, rows["match-0"]
            time.sleep(0.2)
        st = rpc(ports["services"]["match-0"], "Status")["parts"]["matchers"][0]
        assert st["replayed"] == 5  # s0, s1, s2, t0, x0
        assert rpc(ports["services"]["match-0"], "Book", {"symbol": "AAA"}) == book_before

        b.new_order("x1", "AAA", "1", 12, "10.02")  # trades with orders from before the kill
        reps = b.reports(3)
        assert [(m[150], m[32], m[31]) for m in reps] == [("0", "0", "0"), ("F", "5", "10.01"),
                                                          ("F", "7", "10.02")]
        got = wait_fills(ports, 4)
        pos = {(r["account"], r["symbol"]): r["position"] for r in got["positions"]}
        assert pos[("B", "AAA")] == 27 and pos[("A", "AAA")] == -27
        # the L2 subscriber's book after every update equals the matcher's after that input
        snap = rpc(ports["rpc"], "Snapshot")
        sub.poll(10.0, until_seq=snap["seq"])
        journal = Journal(run_dir / "journal" / "match0.jnl")
        ref = {jseq: (sym, view) for jseq, sym, view in reference_books(journal.records(), ["AAA", "BBB"])}
        journal.close()
        seen = [(jseq, sym, view) for _part, jseq, sym, view in sub.history if sym == "AAA"]
        assert seen and all(ref[jseq] == (sym, view) for jseq, sym, view in seen)
        sub.close()
        status = subprocess.run([*CLI, "status", "--dir", str(run_dir)], capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0 and '"service": "gateway"' in status.stdout
        a.logout()
        b.logout()
    finally:
        if (run_dir / "exchange.pid").exists():
            stop(run_dir, proc)
        else:
            proc.kill()
    assert (run_dir / "eod.csv").read_text().startswith("account,symbol,position")


@pytest.mark.timeout(120)
def test_monolith_mode_up_and_down(tmp_path) -> None:
    run_dir = tmp_path / "mono"
    proc = start(run_dir, "--mode", "monolith", "--symbols", "AAA")
    try:
        ports = json.loads((run_dir / "ports.json").read_text())
        c = FixClient("127.0.0.1", ports["fix"], "M", timeout_s=15)
        c.logon()
        c.new_order("m1", "AAA", "1", 1, "1.00")
        assert c.reports(1)[0][150] == "0"
        assert rpc(ports["rpc"], "Book", {"symbol": "AAA"})["bids"] == [[100, 1, 1]]
        c.logout()
    finally:
        stop(run_dir, proc)


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys) -> None:
    from labsupport.exchange.__main__ import main

    cases = [(["down", "--dir", str(tmp_path)], "no exchange is running"),
             (["up", "--dir", str(tmp_path), "--matchers", "0"], "--matchers 0"),
             (["up", "--dir", str(tmp_path), "--symbols", "A,A"], "distinct names"),
             (["status", "--dir", str(tmp_path / "none")], "state.json"),
             (["serve", "nobody", "--dir", str(tmp_path)], "wiring.json")]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
