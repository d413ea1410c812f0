"""One service of the distributed exchange as a process: its loop, its sockets, its RPC.

``python -m labsupport.exchange serve ROLE --dir DIR`` runs one of ``gateway``, ``risk``,
``match-K``, ``md``, ``dropcopy`` (or ``monolith``, all of them in one process) with the
addresses of ``DIR/wiring.json``, which :mod:`.system` writes before starting anything: every
port is fixed there, so a service restarted by the supervisor binds the same ports and its
peers' ZeroMQ sockets simply reconnect.

Theory of operation. Each service binds its PULL input and its RPC port, builds the same
object the monolith builds (:mod:`.local`), prints ``ready`` (the supervisor's readiness
probe) and loops: poll the input, then, holding the lock the RPC handlers also take, deliver
what has arrived (up to ``BATCH`` bus batches), then flush what that produced (a matcher its
journal first, then its outputs, one bus batch per destination); market data sends its feed heartbeat whenever its input has been
quiet for ``HEARTBEAT_MS``. The gateway's loop is asyncio instead (the FIX connections), with
its input read by a ``zmq.asyncio`` socket. SIGTERM ends the loop; drop copy writes
``DIR/eod.csv`` (the end-of-day report) on the way out. The gateway keeps its orders and
sessions in ``DIR/journal/gateway.jnl`` (:mod:`.gwstate`) and a restarted one starts from it.

Just before ``ready`` each process moves everything it has built so far (the imported modules
of numpy, zmq, numba and the rest, some 120 000 objects) out of the garbage collector's sight
with :func:`gc.freeze`: they live as long as the process, and without the freeze every full
collection during trading would walk all of them again.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from .bus import ZmqBus, dispatcher, endpoint, partition_symbols
from .control import ExchangeControl
from .matching import DEFAULT_ENGINE
from .session import ExchangeError

__all__ = ["roles", "bus_name", "read_wiring", "serve"]

BATCH = 64  # bus batches delivered per turn of a loop (each holds many messages)
HEARTBEAT_MS = 100  # market data's heartbeat when its input has been quiet this long


def bus_name(role: str) -> str:
    """Service name -> its name on the bus (``match-0`` -> ``match.0``)."""
    return role.replace("match-", "match.")


def read_wiring(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "wiring.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExchangeError(f"{path}: no wiring file (start the exchange with `up --dir`)") from None


def roles(wiring: dict[str, Any]) -> list[str]:
    """The service names of a wiring, in start order."""
    return ["md", "dropcopy", *[f"match-{k}" for k in range(wiring["matchers"])], "risk",
            "gateway"]


def serve(role: str, run_dir: Path) -> int:
    wiring = read_wiring(run_dir)
    if role == "monolith":
        return _monolith(wiring, run_dir)
    if role == "gateway":
        return asyncio.run(_gateway(wiring, run_dir))
    if role not in roles(wiring):
        raise ExchangeError(f"role {role!r}: not one of {', '.join(roles(wiring))}, monolith")
    return _blocking(role, wiring, run_dir)


def _ready(*words: str) -> None:
    """Freeze the start-up heap (see the module docstring), then say ``ready``."""
    gc.collect()
    gc.freeze()
    print("ready", *words, flush=True)


def _stop_event() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def _monolith(wiring: dict[str, Any], run_dir: Path) -> int:
    from .local import Monolith

    stop = _stop_event()
    ports = {k: wiring[k] for k in ("fix", "md_zmq", "md_udp")} | {"rpc": wiring["rpc"]["md"]}
    with Monolith(wiring["symbols"], wiring["matchers"], journal_dir=run_dir / "journal",
                  limits=wiring["limits"], ports=ports, heartbeat_s=HEARTBEAT_MS / 1000,
                  engine=wiring.get("engine", DEFAULT_ENGINE)) as ex:
        _ready(json.dumps(ex.ports))
        stop.wait()
        (run_dir / "eod.csv").write_text(ex.core.dropcopy.end_of_day(), encoding="utf-8")
    return 0


def _blocking(role: str, wiring: dict[str, Any], run_dir: Path) -> int:
    from labsupport.rpc.threaded import ServerThread

    stop = _stop_event()
    name = bus_name(role)
    ctx = zmq.Context()
    bus = ZmqBus(name, wiring["ports"], ctx)
    symbols, n = wiring["symbols"], wiring["matchers"]
    closers: list[Any] = []
    parts: dict[str, Any]
    flush = bus.flush
    if role == "risk":
        from .services import RiskGate

        part: Any = RiskGate(symbols, n, bus.send, limits=wiring["limits"])
        parts = {"risk": part}
        bus.connect("gateway", *[f"match.{k}" for k in range(n)])
    elif role == "dropcopy":
        from .services import DropCopy

        part = DropCopy()
        parts = {"dropcopy": part}
    elif role == "md":
        from .marketdata import PUB_HWM, MarketData
        from .net import UdpFanout

        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.setsockopt(zmq.SNDHWM, PUB_HWM)
        pub.bind(endpoint(wiring["md_zmq"]))
        udp = UdpFanout(wiring["md_udp"])
        part = MarketData(symbols, publish=pub.send, datagram=udp.send)
        parts = {"md": part}
        closers += [pub.close, udp.close]
    else:
        from .matching import Journal, Matcher

        k = int(role.split("-")[1])
        journal = Journal(run_dir / "journal" / f"match{k}.jnl", buffered=True)
        part = Matcher(partition_symbols(symbols, n)[k], k, journal=journal, send=bus.send,
                       engine=wiring.get("engine", DEFAULT_ENGINE))
        bus.connect("gateway", "md", "fills")
        if journal.path.stat().st_size:  # a restart: publish what the receivers never got
            part.recover(_seen_by_receivers(wiring, k))
            bus.flush()
        parts = {"matchers": [part]}
        closers.append(journal.close)
        kill_at = wiring.get("faults", {}).get(role, {}).get("kill_after_journal", 0)
        started = part.jseq

        def flush() -> None:  # journaled before anything derived from it is published
            journal.flush()
            if started < kill_at <= part.jseq:  # fault injection: die between the two
                os.kill(os.getpid(), signal.SIGKILL)
            bus.flush()
    handle = dispatcher(name.split(".")[0], part)

    def deliver(msgs: list[dict]) -> None:
        for msg in msgs:
            handle(msg)

    if role.startswith("match-"):  # a bus batch at once (one kernel call with Lab 11's engine)
        deliver = part.handle_many
    lock = threading.Lock()
    rpc = ServerThread(ExchangeControl(role, parts, lock, extra=bus.status),
                       port=wiring["rpc"][role])
    _ready(role)
    poller = zmq.Poller()
    poller.register(bus.pull, zmq.POLLIN)
    beat = part.heartbeat if role == "md" else None
    try:
        while not stop.is_set():
            if not poller.poll(HEARTBEAT_MS):
                if beat is not None:  # a quiet feed says where it is (see marketdata)
                    with lock:
                        beat()
                continue
            with lock:
                for _ in range(BATCH):
                    try:
                        _sender, msgs = bus.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    deliver(msgs)
                flush()
    finally:
        if role == "dropcopy":
            (run_dir / "eod.csv").write_text(part.end_of_day(), encoding="utf-8")
        rpc.close()
        for close in closers:
            close()
        bus.close()
        ctx.term()
    return 0


def _seen_by_receivers(wiring: dict[str, Any], k: int) -> dict[str, int]:
    """The last journal number of partition ``k`` that each destination of a matcher has
    received (asked over RPC, from their bus status); ``{}`` (publish everything again, the
    receivers drop duplicates) if one of them does not answer."""
    from labsupport.rpc import RpcError
    from labsupport.rpc.threaded import BlockingChannel

    from .control import PATH

    last = {}
    try:
        for role in ("gateway", "md", "risk", "dropcopy"):
            with BlockingChannel("127.0.0.1", wiring["rpc"][role]) as ch:
                bus = ch.unary(PATH + "Status", {}, timeout=2.0)["parts"]["bus"]
            last[role] = int(bus["last_jseq"].get(str(k), 0))
    except (RpcError, OSError, KeyError):
        return {}
    return {"gateway": last["gateway"], "md": last["md"],
            "fills": min(last["risk"], last["dropcopy"])}


async def _gateway(wiring: dict[str, Any], run_dir: Path) -> int:
    from labsupport.rpc.threaded import ServerThread

    from .gateway import Gateway
    from .gwstate import GatewayJournal
    from .net import FixServer

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    actx = zmq.asyncio.Context()
    pull = actx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind(endpoint(wiring["ports"]["gateway"]))
    ctx = zmq.Context()
    bus = ZmqBus("gateway", wiring["ports"], ctx, pull=pull)
    lock = threading.Lock()
    gateway = Gateway(wiring["symbols"], lambda m: bus.send("risk", m))
    state = GatewayJournal(run_dir / "journal" / "gateway.jnl", gateway)
    state.restore()  # a restart: every order and session as they were
    bus.dedup.last.update(state.last_jseq)
    gateway.journal = state.append
    bus.connect("risk")

    def after_input() -> None:  # the state on disk before anything it caused leaves
        state.checkpoint()
        bus.flush()

    fix = await FixServer(gateway, after_input, lock=lock).start(port=wiring["fix"])
    rpc = ServerThread(ExchangeControl("gateway", {"gateway": gateway}, lock, extra=bus.status),
                       port=wiring["rpc"]["gateway"])

    async def events() -> None:
        while True:
            frames = await pull.recv_multipart()
            with lock:
                for ev in bus.accept(frames)[1]:
                    gateway.on_event(ev)
                for _ in range(BATCH):
                    try:
                        frames = pull.recv_multipart(zmq.NOBLOCK).result()
                    except zmq.Again:
                        break
                    for ev in bus.accept(frames)[1]:
                        gateway.on_event(ev)
                after_input()
                fix.flush()

    task = asyncio.ensure_future(events())
    _ready("gateway")
    await stop.wait()
    task.cancel()
    await fix.close()
    rpc.close()
    state.close()
    bus.close()
    actx.term()
    ctx.term()
    return 0
