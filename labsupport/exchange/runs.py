"""Measurements of the running exchange, shared by the benchmark and the notebook.

Each function drives a venue that runs in processes of its own (:class:`~.system.Cluster`,
``services`` or ``monolith``), so the load generator in this process never shares a GIL with
the venue it measures:

- :func:`load`: the bot fleet at an offered rate; acknowledgements per second, order-to-ack
  percentiles seen by the clients, and the venue's own per-hop breakdown (RPC ``Latency``);
- :func:`saturation`: :func:`load` at rising offered rates;
- :func:`fanout`: N L2 subscribers on the feed while the bots trade; each book is compared
  with the matcher's at the end (a *divergence* is a symbol whose books differ), and the
  publish-to-receive latency is reported.

Nothing here waits forever: a load run must see every acknowledgement, and the subscribers
must all catch up with the feed, each within a deadline; past it an :class:`ExchangeError`
names what was still awaited (which sessions, how many orders, what the venue last said).
``progress`` (a callable taking one line) hears how a long wait is going every few seconds.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .bots import PROGRESS_S, LoadResult, Mix, run_load
from .control import PATH
from .matching import DEFAULT_ENGINE
from .mdclient import L2Subscriber
from .session import ExchangeError
from .system import Cluster

__all__ = ["fanout", "load", "saturation", "start"]

SYMBOLS = ["AAPL", "MSFT"]


def start(mode: str = "services", matchers: int = 1, symbols: list[str] | None = None,
          run_dir: Path | None = None, engine: str = DEFAULT_ENGINE) -> Cluster:
    """A venue in processes; use it in ``with``."""
    if run_dir is not None:
        return Cluster(run_dir, symbols or SYMBOLS, matchers, mode=mode, engine=engine)
    tmp = Path(tempfile.mkdtemp(prefix=f"labx-{mode}-"))
    return Cluster(tmp / "run", symbols or SYMBOLS, matchers, mode=mode, remove=tmp,
                   engine=engine)


def rpc(port: int, method: str, request: dict | None = None) -> Any:
    from labsupport.rpc.threaded import BlockingChannel

    with BlockingChannel("127.0.0.1", port) as ch:
        return ch.unary(PATH + method, request or {}, timeout=10.0)


def _gateway_rpc(venue: Cluster) -> int:
    services = venue.ports["services"]
    return services.get("gateway", services.get("monolith"))


_runs = iter(range(1, 1 << 30))


def _timeout(orders: int, rate: float) -> float:
    """How long a load run may take: its sending time plus a second per 1 000 orders (far
    beyond any rate this venue reaches), plus 30 s."""
    return 30.0 + orders / min(rate, 1_000.0)


def _complete(res: LoadResult, what: str) -> LoadResult:
    """``res`` if every order was acknowledged, else :class:`ExchangeError` saying which
    sessions still waited and what the venue said on them."""
    if res.acks >= res.sent:
        return res
    raise ExchangeError(f"{what}: {res.sent - res.acks} of {res.sent} orders not acknowledged "
                        f"within {res.elapsed_s:.0f} s; {res.waiting()}")


def load(venue: Cluster, rate: float, orders: int, sessions: int = 4, seed: int = 0,
         progress: Callable[[str], None] | None = None) -> dict:
    """One open-loop run; the client's view and the venue's per-hop view. Every order must be
    acknowledged within :func:`_timeout` (else :class:`ExchangeError`, naming what is missing)."""
    rpc(_gateway_rpc(venue), "Latency", {"reset": True})
    res = _complete(run_load("127.0.0.1", venue.ports["fix"], sessions=sessions, rate=rate,
                             orders=orders, mix=Mix(tuple(SYMBOLS)), seed=seed,
                             prefix=f"R{next(_runs)}B", timeout_s=_timeout(orders, rate),
                             progress=progress), f"load at {rate:.0f}/s")
    return {**res.summary(), "hops": rpc(_gateway_rpc(venue), "Latency"),
            "samples_ns": res.ack_ns}


def saturation(venue: Cluster, rates: list[float], orders: int, sessions: int = 4) -> list[dict]:
    return [load(venue, r, orders, sessions, seed=i) for i, r in enumerate(rates)]


def settle(venue: Cluster, quiet_s: float = 0.2, timeout_s: float = 30.0) -> int:
    """Wait until the venue has stopped changing (every matcher's journal number and the
    feed's number unchanged for ``quiet_s``: the last cancels have been matched and their
    updates published); returns the feed's last number. A load run ends when every order is
    acknowledged, not when everything it sent has been through matching and market data, and
    comparing books before then compares two moments."""
    services = venue.ports["services"]
    ports = [p for n, p in services.items() if n.startswith("match-") or n == "monolith"]

    def state() -> tuple:
        jseqs = tuple(m["jseq"] for p in ports for m in rpc(p, "Status")["parts"]["matchers"])
        return jseqs, rpc(venue.ports["rpc"], "Status")["parts"]["md"]["seq"]

    deadline = time.monotonic() + timeout_s
    before = state()
    while True:
        time.sleep(quiet_s)
        now = state()
        if now == before:
            return now[1]
        if time.monotonic() > deadline:
            raise ExchangeError(f"the venue did not settle within {timeout_s:.0f} s "
                                f"(matcher journal numbers and feed number still moving: {now})")
        before = now


def catch_up(subs: list, last: int, timeout_s: float = 30.0,
             progress: Callable[[str], None] | None = None) -> None:
    """Poll every subscriber until each has reached L2 ``seq`` ``last``, all against one
    deadline (a subscriber that lost the feed's tail sees the gap at the next heartbeat and
    recovers from a snapshot). Past the deadline: :class:`ExchangeError` naming who is behind."""
    start = time.monotonic()
    note = start
    while True:
        behind = [s for s in subs if s.seq < last]
        if not behind:
            return
        now = time.monotonic()
        if now - start > timeout_s:
            raise ExchangeError(
                f"fan-out: {len(behind)} of {len(subs)} subscribers still below L2 seq {last} "
                f"after {timeout_s:.0f} s (at {sorted({s.seq for s in behind})[:5]}; no "
                f"heartbeat or snapshot brought them up: is market data alive?)")
        if progress is not None and now - note >= PROGRESS_S:
            note = now
            progress(f"fan-out: {len(behind)} of {len(subs)} subscribers below seq {last}")
        if not sum(s.poll() for s in behind):
            time.sleep(0.002)


def fanout(venue: Cluster, subscribers: int, orders: int, rate: float = 2000.0,
           progress: Callable[[str], None] | None = None) -> dict:
    """N subscribers on the L2 feed during a load run; divergences and feed latency."""
    subs = [L2Subscriber(venue.ports["md_zmq"], venue.ports["rpc"]) for _ in range(subscribers)]
    stop = threading.Event()

    def read() -> None:  # the subscribers read while the bots trade
        while not stop.is_set():
            if not sum(s.poll() for s in subs):
                time.sleep(0.0005)

    reader = threading.Thread(target=read, daemon=True)
    try:
        for s in subs:
            s.poll()
        reader.start()
        _complete(run_load("127.0.0.1", venue.ports["fix"], sessions=2, rate=rate,
                           orders=orders, mix=Mix(tuple(SYMBOLS)), prefix=f"F{next(_runs)}B",
                           timeout_s=_timeout(orders, rate), progress=progress), "fan-out load")
        last = settle(venue)
        stop.set()
        reader.join()
        catch_up(subs, last, progress=progress)
        books = {sym: rpc(_matcher_rpc(venue, sym), "Book", {"symbol": sym}) for sym in SYMBOLS}
        divergences = sum(s.view(sym) != books[sym] for s in subs for sym in SYMBOLS)
        lat = np.asarray([x for s in subs for x in s.latencies_ns], dtype=np.float64) / 1000
        return {"subscribers": subscribers, "updates": last, "divergences": divergences,
                "recoveries": sum(s.recoveries for s in subs),
                "feed_p50_us": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
                "feed_p99_us": round(float(np.percentile(lat, 99)), 1) if lat.size else None}
    finally:
        stop.set()
        for s in subs:
            s.close()


def _matcher_rpc(venue: Cluster, symbol: str) -> int:
    services = venue.ports["services"]
    if "monolith" in services:
        return services["monolith"]
    from .bus import partition_symbols

    parts = partition_symbols(SYMBOLS, sum(1 for n in services if n.startswith("match-")))
    k = next(i for i, p in enumerate(parts) if symbol in p)
    return services[f"match-{k}"]


def hop_cost(n: int = 2000) -> dict[str, float]:
    """Round trip of one small message, microseconds (median): over a pair of ZeroMQ
    PUSH/PULL sockets on loopback TCP, and as a Lab 07 RPC unary call (native transport)."""
    import msgpack
    import zmq

    from labsupport.rpc.threaded import BlockingChannel, ServerThread

    from .control import ExchangeControl
    from .services import DropCopy

    ctx = zmq.Context()
    a_in, b_in = ctx.socket(zmq.PULL), ctx.socket(zmq.PULL)
    pa, pb = a_in.bind_to_random_port("tcp://127.0.0.1"), b_in.bind_to_random_port("tcp://127.0.0.1")
    a_out, b_out = ctx.socket(zmq.PUSH), ctx.socket(zmq.PUSH)
    a_out.connect(f"tcp://127.0.0.1:{pb}")
    b_out.connect(f"tcp://127.0.0.1:{pa}")
    echo = threading.Thread(target=lambda: [b_out.send(b_in.recv()) for _ in range(n)], daemon=True)
    echo.start()
    body = msgpack.packb({"k": "new", "oid": 1, "sym": "AAPL", "px": 10000, "qty": 10})
    zmq_ns = []
    for _ in range(n):
        t = time.perf_counter_ns()
        a_out.send(body)
        a_in.recv()
        zmq_ns.append(time.perf_counter_ns() - t)
    echo.join()
    for sock in (a_in, b_in, a_out, b_out):
        sock.close(0)
    ctx.term()
    rpc_ns = []
    with ServerThread(ExchangeControl("bench", {"dropcopy": DropCopy()})) as server, \
            BlockingChannel("127.0.0.1", server.port) as ch:
        for _ in range(max(1, n // 4)):
            t = time.perf_counter_ns()
            ch.unary(PATH + "Status", {})
            rpc_ns.append(time.perf_counter_ns() - t)
    return {"zmq_push_pull_rtt_us": round(float(np.median(zmq_ns)) / 1000, 1),
            "rpc_unary_rtt_us": round(float(np.median(rpc_ns)) / 1000, 1)}


def kill_matcher(venue: Cluster, symbol: str = "AAPL", orders: int = 200) -> dict:
    """Rest orders, ``kill -9`` the matcher, start it again: books before and after, and a
    crossing order that trades against what rested before the kill."""
    from .client import FixClient

    port = _matcher_rpc(venue, symbol)
    c = FixClient("127.0.0.1", venue.ports["fix"], f"K{next(_runs)}", timeout_s=20)
    c.logon()
    for i in range(orders):
        c.new_order(f"k{i}", symbol, "2", 10, f"{101 + (i % 5) / 100:.2f}")
    c.reports(orders)
    before = rpc(port, "Book", {"symbol": symbol})
    name = next(n for n, p in venue.ports["services"].items() if p == port)
    venue.kill(name)
    venue.restart(name)
    after = rpc(port, "Book", {"symbol": symbol})
    replayed = rpc(port, "Status")["parts"]["matchers"][0]["replayed"]
    c.new_order("cross", symbol, "1", 25, "101.00")
    reps = c.reports(2)
    c.logout()
    return {"levels_before": len(before["asks"]), "books_equal_after_restart": before == after,
            "journal_records_replayed": replayed,
            "crossing_order_traded": reps[1][150] == "F"}


def stall(venue: Cluster, service: str = "risk", stall_s: float = 1.0, orders: int = 50) -> dict:
    """SIGSTOP a service for ``stall_s`` while orders keep arriving: nothing is lost, the
    latency shows the stall (open loop: measured from when each order was due)."""
    import signal as _signal

    result: dict = {}

    def bots() -> None:
        result.update(load(venue, orders / (2 * stall_s), orders, 2))

    t = threading.Thread(target=bots)
    t.start()
    time.sleep(stall_s / 2)
    venue.kill(service, _signal.SIGSTOP)
    time.sleep(stall_s)
    venue.kill(service, _signal.SIGCONT)
    t.join()
    return {k: result[k] for k in ("sent", "acks", "ack_p50_us", "ack_max_us")}


def lossy_feed(drop: float = 0.2, steps: int = 80, seed: int = 7) -> dict:
    """The scripted flow through a monolith in this process while an ITCH subscriber loses a
    share ``drop`` of the UDP packets (seeded): gaps, snapshot recoveries, and whether its book
    equals the matcher's after every step."""
    import random

    from .local import Monolith
    from .mdclient import ItchSubscriber
    from .scenario import run_fix, script

    rng = random.Random(seed)
    with Monolith(["AAA", "BBB"]) as ex:
        sub = ItchSubscriber(ex.ports["md_udp"], ex.ports["rpc"], drop=lambda i: rng.random() < drop)
        equal = []

        def after(i: int) -> None:
            sub.poll(0.2, until_seq=ex.core.md.mold_seq)
            equal.append(all(sub.view(s) == ex.core.matcher_for(s).l2(s) for s in ("AAA", "BBB")))

        try:
            run_fix("127.0.0.1", ex.ports["fix"], script(seed, steps), settle_s=0.1, after=after)
        finally:
            sub.close()
    return {"packets": sub.packets, "dropped": sub.dropped, "gaps": sub.gaps,
            "recoveries": sub.recoveries, "equal after every step": all(equal)}


def _cpu_s(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_order(venue: Cluster, orders: int, sessions: int = 4) -> dict[str, float]:
    """CPU microseconds each service process spends per order over one load run offered at
    once (the sustained case): where the venue's CPU goes, service by service."""
    pids = venue.pids()
    before = {name: _cpu_s(pid) for name, pid in pids.items()}
    res = load(venue, 1e6, orders, sessions)
    return {name: round((_cpu_s(pid) - before[name]) * 1e6 / res["sent"], 1)
            for name, pid in pids.items()} | {"acks_per_s": res["acks_per_s"]}
