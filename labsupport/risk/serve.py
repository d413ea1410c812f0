"""The streaming shell: events in over ZeroMQ, decisions and alerts out, the engine in between.

How a risk server sits next to an exchange gateway: order flow, drop copies and market data
are pushed to it, and whoever routes orders (and whoever watches the desk) subscribes to its
answers. Two sockets, both bound on 127.0.0.1 to OS-assigned ports:

- ``events`` (PULL): each message is one or more event CSV rows (``seq,ts_ns,kind,...``, the
  file format without its header; a header line is skipped), UTF-8, rows separated by
  newlines. Any number of PUSH clients may connect; ZeroMQ queues fairly between them.
- ``publish`` (PUB), two-frame messages ``[topic, row]``:
  ``decision`` with a ``decisions.csv`` row, ``alert`` with an ``alerts.csv`` row, ``error``
  with the one-line description of a row that could not be read (``message N, line L,
  field F: ...``; the row is skipped and the service carries on: a bad row from one client
  must not stop risk checks for everyone), and ``hb`` (empty) every ``heartbeat_s`` while
  idle, so a subscriber knows its subscription is live before it sends (ZeroMQ drops what a
  PUB socket sends before a subscriber has joined).

:class:`RiskService` is the sans-IO part (bytes in, frames out; the tests drive it without
sockets); :func:`serve` is the loop around it. Ports are reported on stdout as one line,
``events tcp://127.0.0.1:PORT publish tcp://127.0.0.1:PORT``. SIGTERM or Ctrl-C stops it; the
sockets are closed with no linger.
"""

from __future__ import annotations

import csv
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import zmq

from .engine import RiskEngine
from .events import EVENT_HEADER, EventError, parse_event
from .limits import LimitsFile, load_limits

__all__ = ["RiskService", "ServerProcess", "serve", "serve_forever"]

Frames = list[tuple[bytes, bytes]]


class RiskService:
    """Bytes of event rows in, ``(topic, row)`` frames out."""

    def __init__(self, limits: LimitsFile | str) -> None:
        self.engine = RiskEngine(limits)
        self.messages = 0
        self.last_ts = 0
        self.errors = 0

    def handle(self, data: bytes) -> Frames:
        self.messages += 1
        out: Frames = []
        engine = self.engine
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            self.errors += 1
            return [(b"error", f"message {self.messages}: not UTF-8 ({exc.reason})".encode())]
        for n, line in enumerate(lines, 1):
            if not line or line == EVENT_HEADER:
                continue
            try:
                row = next(csv.reader([line], strict=True))
                ev = parse_event(row, n)
                if ev.ts_ns < self.last_ts:
                    raise EventError(n, f"{ev.ts_ns} goes back in time (previous "
                                        f"{self.last_ts})", field="ts_ns")
            except (EventError, csv.Error) as exc:
                self.errors += 1
                out.append((b"error", f"message {self.messages}, {exc}".encode()))
                continue
            self.last_ts = ev.ts_ns
            n_alerts = len(engine.alerts)
            decision = engine.process(ev)
            if decision is not None:
                out.append((b"decision", decision.row().encode()))
            for alert in engine.alerts[n_alerts:]:
                out.append((b"alert", alert.row().encode()))
        return out


def serve(limits: LimitsFile | str, *, host: str = "127.0.0.1", heartbeat_s: float = 0.1,
          on_ready: Callable[[str, str], None] | None = None,
          should_stop: Callable[[], bool] = lambda: False) -> RiskService:
    """Run until ``should_stop()`` is true (checked at least every ``heartbeat_s``)."""
    service = RiskService(limits)
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pub = ctx.socket(zmq.PUB)
    try:
        pull.bind(f"tcp://{host}:0")
        pub.bind(f"tcp://{host}:0")
        events_ep = pull.getsockopt_string(zmq.LAST_ENDPOINT)
        pub_ep = pub.getsockopt_string(zmq.LAST_ENDPOINT)
        if on_ready is not None:
            on_ready(events_ep, pub_ep)
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        timeout_ms = int(heartbeat_s * 1000)
        while not should_stop():
            if not poller.poll(timeout_ms):
                pub.send_multipart([b"hb", b""])
                continue
            while True:  # drain what is queued before polling again
                try:
                    data = pull.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                for topic, row in service.handle(data):
                    pub.send_multipart([topic, row])
    finally:
        pull.close(linger=0)
        pub.close(linger=0)
    return service


def serve_forever(limits_path: str | Path, *, host: str = "127.0.0.1") -> None:
    """The ``serve`` command: print the endpoints, run until SIGTERM or Ctrl-C."""
    limits = load_limits(limits_path)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    def ready(events_ep: str, pub_ep: str) -> None:
        print(f"events {events_ep} publish {pub_ep}", flush=True)

    service = serve(limits, host=host, on_ready=ready, should_stop=lambda: bool(stopping))
    print(f"stopped after {service.messages} messages ({service.errors} bad rows)",
          file=sys.stderr)


class ServerProcess:
    """``python -m labsupport.risk serve`` in a child process, for the notebook and the tests:
    ``with ServerProcess(limits_path) as srv:`` then :meth:`roundtrip`; stopped on exit."""

    def __init__(self, limits_path: str | Path) -> None:
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-m", "labsupport.risk", "serve",
                                      "--limits", str(limits_path)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        words = self.proc.stdout.readline().split() if self.proc.stdout else []
        if len(words) != 4 or words[0] != "events":
            self.stop()
            raise RuntimeError(f"the server did not start: {words} {self.proc.stderr.read()}")
        self.events_ep, self.pub_ep = words[1], words[3]
        self.stderr = ""

    def roundtrip(self, rows: list[str], replies: int, timeout_s: float = 30.0
                  ) -> list[tuple[str, str]]:
        """Subscribe, wait for a heartbeat, push ``rows`` one message each, and collect the
        first ``replies`` published (topic, row) pairs other than heartbeats."""
        import time

        ctx = zmq.Context.instance()
        sub, push = ctx.socket(zmq.SUB), ctx.socket(zmq.PUSH)
        try:
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(self.pub_ep)
            push.connect(self.events_ep)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:  # a heartbeat: the subscription is live
                if sub.poll(100) and sub.recv_multipart()[0] == b"hb":
                    break
            for row in rows:
                push.send(row.encode())
            got: list[tuple[str, str]] = []
            while len(got) < replies and time.monotonic() < deadline:
                if sub.poll(100):
                    topic, row = sub.recv_multipart()
                    if topic != b"hb":
                        got.append((topic.decode(), row.decode()))
            return got
        finally:
            sub.close(linger=0)
            push.close(linger=0)

    def stop(self) -> int:
        import subprocess

        self.proc.terminate()
        try:
            _, self.stderr = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
