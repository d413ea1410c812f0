"""The workflow as real processes: the supervisor, the fault proxy, kill -9 and SIGSTOP.

``run_live`` starts the exchange under one :class:`~labsupport.services.Supervisor`, puts a
:func:`~labsupport.faults.start_proxy` fault proxy in front of it, and starts the feed, the OMS
(which reaches the exchange only through the proxy), the strategy, the drop copy and the kill
switch under a second one, each ``python -m labsupport.resilience.live serve NAME`` with an
assigned port, its own journal directory and restart-on-failure. While the desk trades for
``duration`` seconds the harness injects the faults asked for:

==================  ==========================================================================
``kill-oms``        kill -9 of the OMS at 30 % and 65 % of the run (the supervisor restarts it)
``kill-exchange``   kill -9 of the exchange at 45 %
``stop-oms``        SIGSTOP of the OMS for 300 ms at 80 % (then SIGCONT)
``delay``           the proxy adds 20 ms +- 10 ms both ways from 20 % to 60 %
``cut``             the proxy drops 5 % of its reads from 50 % to 70 % (connections cut)
``kill-switch``     the kill switch is pressed at 90 % (SIGUSR1 to its process)
==================  ==========================================================================

Then trading stops (SIGUSR2 to the strategy and the exchange's street), the system settles for two seconds, every process is stopped with SIGTERM
(each writes its final state into its history file) and the merged history goes through the
same :func:`~labsupport.resilience.check` as in simulation.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .checker import check, explain, kill_latencies_ns
from .component import Context, Limits
from .errors import ResilienceConfigError, ResilienceError
from .history import History
from .journal import FileDisk
from .scenario import FINAL, NODES
from .wire import LiveHost

__all__ = ["LIVE_FAULTS", "run_live", "serve"]

LIVE_FAULTS = ("kill-oms", "kill-exchange", "stop-oms", "delay", "cut", "kill-switch")
DIALS = {"oms": ("exchange",), "feed": ("exchange",), "strategy": ("feed", "oms"),
         "dropcopy": ("exchange", "oms"), "kill": ("exchange", "oms"), "exchange": ()}


class _FileHistory:
    """A history that appends JSON lines to a file at once (kill -9 keeps what was written)."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "a", buffering=1)  # noqa: SIM115  (open for the process's life)

    def record(self, t_ns: int, component: str, kind: str, *fields: Any) -> None:
        self.f.write(json.dumps({"t": t_ns, "c": component, "k": kind, "f": fields}) + "\n")


def serve(argv: list[str]) -> int:
    """One component as a process (what the supervisor runs)."""
    p = argparse.ArgumentParser(prog="python -m labsupport.resilience.live serve")
    p.add_argument("name", choices=sorted(NODES))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--dial", action="append", default=[], help="PEER=HOST:PORT")
    p.add_argument("--settings", default="{}")
    args = p.parse_args(argv)
    dial = {}
    for d in args.dial:
        peer, _, addr = d.partition("=")
        host, _, port = addr.rpartition(":")
        dial[peer] = (host, int(port))
    history = _FileHistory(args.out / "history" / f"{args.name}.jsonl")
    ctx = Context(history, limits=Limits(), observer_ns=time.time_ns,  # type: ignore[arg-type]
                  settings=json.loads(args.settings))
    node = NODES[args.name](ctx)
    host = LiveHost(args.name, node, dial)
    node._host = host  # type: ignore[assignment]
    node.name = args.name
    node.disk = FileDisk(args.out / "disk" / args.name)  # type: ignore[assignment]
    node.rng = random.Random(f"{args.name}/{time.time_ns()}")
    return asyncio.run(_main(node, host, args.port, history))


async def _main(node: Any, host: LiveHost, port: int, history: _FileHistory) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # the operator's two buttons: stop trading (the harness's end of run), and the kill switch
    loop.add_signal_handler(signal.SIGUSR2, _stop_trading, node)
    if hasattr(node, "trigger"):
        loop.add_signal_handler(signal.SIGUSR1, node.trigger, "manual")
    server = await host.serve(port)
    node.on_start()
    print(f"{node.name} listening on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    if hasattr(node, "final"):
        history.f.write(json.dumps({"c": node.name, "final": node.final()}) + "\n")
    server.close()
    return 0


def _stop_trading(node: Any) -> None:
    node.ctx.settings["trade_until_ns"] = time.time_ns()


def _spec(name: str, out: Path, dial: dict[str, str], settings: dict) -> Any:
    from labsupport.services import RestartPolicy, ServiceSpec
    args = ["serve", name, "--port", "{port}", "--out", str(out),
            "--settings", json.dumps(settings)]
    for peer, addr in dial.items():
        args += ["--dial", f"{peer}={addr}"]
    return ServiceSpec.python(name, "labsupport.resilience.live", *args, port="auto",
                              restart=RestartPolicy("on-failure", backoff_s=0.05),
                              stop_grace_s=3.0)


def run_live(faults: str, duration_s: float, out: Path, *, seed: int = 0,
             settle_s: float = 2.0) -> int:
    """Run, inject, check; print the verdict; 0 when no invariant was violated."""
    from labsupport.faults import start_proxy
    from labsupport.services import Supervisor
    chosen = [f.strip() for f in faults.split(",") if f.strip()]
    for f in chosen:
        if f not in LIVE_FAULTS:
            raise ResilienceConfigError(f"unknown live fault {f!r} (known: {', '.join(LIVE_FAULTS)})")
    if duration_s <= 0:
        raise ResilienceConfigError(f"--duration {duration_s}: must be positive")
    out = out.resolve()
    (out / "history").mkdir(parents=True, exist_ok=True)
    # real start-up sends a burst of quotes as processes come up one by one: the order-rate
    # trigger is set above it, so only the faults asked for (or the button) stop the desk
    settings: dict[str, Any] = {"kill_rate": 2000}
    exchange = _spec("exchange", out, {}, settings)
    with Supervisor([exchange], run_dir=out / "run-exchange") as ex, \
            start_proxy(("127.0.0.1", ex.port("exchange")), seed=seed) as proxy:
        reach = {"exchange": f"127.0.0.1:{ex.port('exchange')}"}
        specs = []
        for name in ("feed", "oms", "strategy", "dropcopy", "kill"):
            # the OMS reaches the exchange only through the proxy; the rest dial directly
            dial = {p: f"127.0.0.1:{proxy.port}" if (name, p) == ("oms", "exchange")
                    else reach.get(p, "127.0.0.1:{" + p + ".port}") for p in DIALS[name]}
            deps = tuple(p for p in DIALS[name] if p != "exchange")
            specs.append(dataclasses.replace(_spec(name, out, dial, settings), depends_on=deps))
        with Supervisor(specs, run_dir=out / "run") as sup:
            _inject(chosen, duration_s, ex, sup, proxy, out)
            _running(ex, sup)  # a process still starting would die of the signal, not obey it
            sup.kill("strategy", signal.SIGUSR2)  # stop trading, then let recovery finish
            ex.kill("exchange", signal.SIGUSR2)
            time.sleep(settle_s)
        # leaving the blocks stops the others first (SIGTERM: each writes its final state)
    history = History.merge(sorted((out / "history").glob("*.jsonl")))
    history.meta.update({"seed": seed, "fault": ",".join(chosen), "component": "live",
                         "limits": (Limits().max_order_qty, Limits().max_position),
                         "replay": f"python -m labsupport.resilience live --faults {faults} "
                                   f"--duration {duration_s} --out {out.name}"})
    missing = [n for n in FINAL if n not in history.finals]
    if missing:
        raise ResilienceError(f"no final state from {', '.join(missing)}: see the logs in {out}")
    violations = check(history)
    with open(out / "violations.jsonl", "w") as f:
        for v in violations:
            f.write(json.dumps({**v.as_dict(), "explain": explain(history, v)}) + "\n")
    lat = kill_latencies_ns(history)
    summary = (f"live run, faults {','.join(chosen) or 'none'}, {duration_s:g} s: "
               f"{len(history.events)} events, {len(history.finals['exchange']['orders'])} "
               f"orders, {len(history.of('oms', 'restart'))} OMS restarts, "
               f"{len(violations)} violations"
               + (f"; kill switch trigger to last cancel {lat[0] / 1e6:.2f} ms" if lat else ""))
    (out / "summary.txt").write_text(summary + "\n")
    print(summary)
    if violations:
        print(explain(history, violations[0]))
    return 1 if violations else 0


def _running(*sups: Any) -> float:
    """Wait until every service of every supervisor is up (after a kill, its restart; a paused
    one counts as up); returns the seconds waited."""
    t0 = time.monotonic()
    for sup in sups:
        for row in sup.status():
            sup.wait_for(row["service"], lambda r: r["state"] in ("running", "paused"),
                         timeout_s=60)
    return time.monotonic() - t0


def _inject(chosen: list[str], duration_s: float, ex: Any, sup: Any, proxy: Any,
            out: Path) -> None:
    plan: list[tuple[float, str, Any]] = []
    if "kill-oms" in chosen:
        plan += [(0.3, "kill -9 oms", lambda: sup.kill("oms")),
                 (0.65, "kill -9 oms", lambda: sup.kill("oms"))]
    if "kill-exchange" in chosen:
        plan.append((0.45, "kill -9 exchange", lambda: ex.kill("exchange")))
    if "stop-oms" in chosen:
        plan += [(0.8, "SIGSTOP oms", lambda: sup.pause("oms")),
                 (0.8 + 0.3 / duration_s, "SIGCONT oms", lambda: sup.resume("oms"))]
    if "delay" in chosen:
        plan += [(0.2, "proxy delay 20 ms", lambda: proxy.set(latency_ms=20, jitter_ms=10)),
                 (0.6, "proxy delay off", lambda: proxy.set(latency_ms=0, jitter_ms=0))]
    if "kill-switch" in chosen:
        plan.append((0.9, "kill switch pressed", lambda: sup.kill("kill", signal.SIGUSR1)))
    if "cut" in chosen:
        plan += [(0.5, "proxy cuts 5 %", lambda: proxy.set(drop_probability=0.05)),
                 (0.7, "proxy cuts off", lambda: proxy.set(drop_probability=0.0))]
    plan.sort(key=lambda p: p[0])
    log = _FileHistory(out / "history" / "nemesis.jsonl")
    start = time.monotonic()
    for frac, what, act in plan:
        time.sleep(max(0.0, start + frac * duration_s - time.monotonic()))
        # faults land on running processes, not on one still restarting; the rest of the
        # schedule moves by the wait, so it keeps its spacing
        start += _running(ex, sup)
        act()
        log.record(time.time_ns(), "nemesis", what.split()[0], what)
    time.sleep(max(0.0, start + duration_s - time.monotonic()))
    log.f.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        sys.exit(serve(sys.argv[2:]))
    sys.exit("usage: python -m labsupport.resilience.live serve NAME ... (see run_live)")
