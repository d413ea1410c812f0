"""``python -m labsupport.risk serve`` with real ZeroMQ clients over 127.0.0.1: events pushed
in, decisions and alerts received on a subscription, a bad row answered with an error and no
harm done; the sans-IO service against the batch run on the same stream."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

zmq = pytest.importorskip("zmq")

from labsupport.risk.events import format_event  # noqa: E402
from labsupport.risk.gen import FlowSpec, generate, limits_toml  # noqa: E402
from labsupport.risk.report import run  # noqa: E402
from labsupport.risk.serve import RiskService  # noqa: E402


def test_service_publishes_what_the_batch_run_writes() -> None:
    text = limits_toml(drawdown_limit=5_000)
    events = generate(800, FlowSpec(accounts=3, symbols=4), seed=11)
    service = RiskService(text)
    frames = []
    for i in range(0, len(events), 7):  # several rows per message
        frames += service.handle("\n".join(format_event(e) for e in events[i:i + 7]).encode())
    batch = run(events, text)
    assert [r.decode() for t, r in frames if t == b"decision"] == batch.decisions
    assert [r.decode() for t, r in frames if t == b"alert"] == batch.alerts
    assert batch.alerts  # the stream does raise alerts


def test_service_reports_bad_rows_and_carries_on() -> None:
    service = RiskService("")
    frames = service.handle(b"1,0,mark,,X,,,100,\n2,0,order,a,X,sideways,1,100,o1\n"
                            b"3,0,order,a,X,buy,1,100,o2\n")
    assert frames[0] == (b"error", b"message 1, line 2, field side: 'sideways' is not buy or sell")
    assert frames[1] == (b"decision", b"3,o2,accept,")
    assert service.handle(b"\xff") == [(b"error", b"message 2: not UTF-8 (invalid start byte)")]


def _wait_heartbeat(sub: zmq.Socket, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sub.poll(200):
            topic, _ = sub.recv_multipart()
            if topic == b"hb":
                return
    raise AssertionError("no heartbeat from the server")


def test_serve_with_real_zmq_clients(tmp_path: Path) -> None:
    (tmp_path / "l.toml").write_text("[defaults]\nmax_order_qty = 10\ndrawdown_limit = 100\n")
    proc = subprocess.Popen([sys.executable, "-m", "labsupport.risk", "serve", "--limits",
                             str(tmp_path / "l.toml")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ctx = zmq.Context()
    try:
        line = proc.stdout.readline().split()
        assert line[0] == "events" and line[2] == "publish", line
        events_ep, pub_ep = line[1], line[3]
        assert events_ep.startswith("tcp://127.0.0.1:") and pub_ep.startswith("tcp://127.0.0.1:")
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(pub_ep)
        _wait_heartbeat(sub)
        push = ctx.socket(zmq.PUSH)
        push.connect(events_ep)
        rows = ["1,1,mark,,X,,,100,", "2,2,order,a,X,buy,10,100,o1", "3,3,order,a,X,buy,11,100,o2",
                "4,4,fill,a,X,buy,10,100,o1", "5,5,order,a,X,buy,x,100,o3",
                "6,6,mark,,X,,,89,", "7,7,order,a,X,sell,1,89,o4"]
        for r in rows:
            push.send(r.encode())
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            if sub.poll(200):
                topic, row = sub.recv_multipart()
                if topic != b"hb":
                    got.append((topic.decode(), row.decode()))
        assert got == [
            ("decision", "2,o1,accept,"),
            ("decision", "3,o2,reject,max_order_qty"),
            ("error", "message 5, line 1, field qty: 'x' is not a non-negative integer"),
            ("alert", "6,a,drawdown,breach,110,100"),
            ("decision", "7,o4,reject,halted"),  # the drawdown breach halted the account
        ]
        push.close(linger=0)
        sub.close(linger=0)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        ctx.term()
    assert proc.returncode == 0, err
    assert "stopped after 7 messages (1 bad rows)" in err
