"""Load generator for request/response protocols over TCP, closed or open loop (wrk / wrk2).

``run_load`` drives a server with ``connections`` TCP connections for ``warmup_s + duration_s``
seconds and returns a :class:`LoadResult`: a latency recorder, throughput and errors by kind.
The protocol is pluggable: ``request`` gives the bytes to send and a *framer* counts the complete
replies in the bytes that come back, so one generator drives the HTTP, Redis and RPC labs.

Theory of operation
- Own process. The generator runs in a child started with the ``spawn`` context, so it shares
  neither the GIL nor the event loop of the server or the notebook, and can be pinned to its own
  core (``cpu``). The child runs one asyncio loop (uvloop when importable) with one cheap
  ``asyncio.Protocol`` per connection, collects int64 nanosecond samples in an ``array('q')`` and
  sends them back through a pipe; the parent wraps them in a :class:`LatencyRecorder`.
- Closed loop (wrk): each connection sends its next request (or ``pipeline`` requests back to
  back) as soon as the previous reply is complete; latency = reply complete - actual send. A
  server that stalls for 300 ms delays only the one request in flight per connection: the stall
  shows in one sample and hides from every percentile. That is *coordinated omission*.
- Open loop (wrk2): intended send times form a constant-rate schedule ``t0 + k / rate`` shared by
  all connections. A free connection takes the next slot, waits for its time, sends, and records
  latency = reply complete - *intended* send time. When the server stalls, the slots scheduled
  during the stall wait, and that wait is counted, as a user arriving at that moment would see
  it. ``behind_schedule_s`` reports the worst lag of an actual send behind its slot; slots the
  generator is still behind on when the window ends are sent late (their wait counts); only
  those it cannot reach within a further ``reply_timeout_s`` are counted as ``errors["unsent"]``.
- Timers: asyncio and libuv sleep with ~1 ms resolution (a sleep typically wakes 0.2-0.6 ms
  late, which would be charged to the server). Waiting for a slot sleeps until ``spin_us``
  before it, then polls the loop (``sleep(0)``), so sends typically leave within a few
  microseconds of their slot; this costs CPU on the generator's core (pin it apart from the
  server with ``cpu``). The child also runs with the cyclic GC off, so its pauses are not
  charged to the server either.
- Warm-up: samples whose (intended) send time falls inside the first ``warmup_s`` are dropped.
  Errors are counted over the whole run, by kind (``connection_refused``, ``connection_reset``,
  ``connection_closed``, ``reply_timeout``, ``framer_error``, ...), never raised mid-run: the
  connection is dropped and reopened. A run where no connection could be opened raises
  :class:`NoConnectionError`.
- Framers (:mod:`.framers`) are sans-IO: ``feed(bytes) -> complete replies`` keeps the partial tail
  between calls and never needs a socket, so they are unit-tested on split and merged streams.
- Scripts that call ``run_load`` need the usual ``if __name__ == "__main__":`` guard: a spawned
  process imports the main module again (notebooks and ``python -m`` entry points are fine).
"""

from __future__ import annotations

import array
import asyncio
import copy
import errno
import gc
import multiprocessing
import pickle
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import MeasureError
from .framers import (
    FramerError,
    HttpResponseFramer,
    LengthPrefixFramer,
    LineFramer,
    ReplyFramer,
    RespReplyFramer,
)
from .procs import pin_to_cpu
from .recorder import LatencyRecorder, LatencySummary
from .units import fmt_ns, fmt_rate

__all__ = [
    "FramerError",
    "HttpResponseFramer",
    "LengthPrefixFramer",
    "LineFramer",
    "LoadGenError",
    "LoadResult",
    "NoConnectionError",
    "ReplyFramer",
    "RespReplyFramer",
    "run_load",
]

Request = bytes | Sequence[bytes] | Callable[[int], bytes]
_RECONNECT_BACKOFF_S = 0.01  # after a failed reconnect, so a dead server does not spin the loop


class LoadGenError(MeasureError, RuntimeError):
    """Base class of the load generator's own errors (raised in the parent, never mid-run)."""


class NoConnectionError(LoadGenError, ConnectionError):
    """Raised when not a single connection to the target could be opened."""



@dataclass(frozen=True)
class LoadResult:
    """What one ``run_load`` measured. Latencies are in ``recorder`` (ns); rates per second."""

    mode: Literal["closed", "open"]
    recorder: LatencyRecorder
    completed: int  # replies measured (after warm-up)
    errors: dict[str, int]
    elapsed_s: float  # measured window: end of warm-up to the last measured reply
    throughput_per_s: float
    connections: int
    rate_per_s: float | None = None  # open loop: the scheduled rate
    behind_schedule_s: float | None = None  # open loop: worst lag of a send behind its slot
    pipeline: int = 1
    event_loop: str = field(default="asyncio", compare=False)
    cpu: int | None = None  # the core the generator was pinned to, if pinning worked

    def summary(self) -> LatencySummary:
        """The recorder's summary, with the measured throughput as its rate."""
        return self.recorder.summary(elapsed_s=self.elapsed_s)

    def metrics(self) -> dict[str, float | int | str | None]:
        """Flat numbers for a benchmark row: ``report.add("ours", **result.metrics())``.

        Latencies in µs (the unit of most rows in this project), rates per second.
        """
        row: dict[str, float | int | str | None] = {
            "mode": self.mode,
            "connections": self.connections,
            "req_per_s": round(self.throughput_per_s, 1),
            "completed": self.completed,
            "errors": sum(self.errors.values()),
        }
        if self.completed:
            s = self.summary()
            for label, v in (("p50", s.p50_ns), ("p90", s.p90_ns), ("p99", s.p99_ns)):
                row[f"{label}_us"] = round(v / 1e3, 2)
            row["p999_us"] = round(s.p999_ns / 1e3, 2)
            row["max_us"] = round(s.max_ns / 1e3, 2)
        if self.rate_per_s is not None:
            row["target_per_s"] = self.rate_per_s
            row["behind_ms"] = round((self.behind_schedule_s or 0.0) * 1e3, 3)
        return row

    def __str__(self) -> str:
        head = f"{self.mode} loop, {self.connections} conn, {self.event_loop}"
        if self.cpu is not None:
            head += f" on cpu {self.cpu}"
        if self.pipeline > 1:
            head += f", pipeline {self.pipeline}"
        if self.rate_per_s is not None:
            head += f", target {fmt_rate(self.rate_per_s)}"
        lines = [
            f"{head}: {self.completed:,} replies in {self.elapsed_s:.2f} s "
            f"= {fmt_rate(self.throughput_per_s)}"
        ]
        if self.completed:
            s = self.summary()
            # Each number in its own unit: a 40 µs median next to a 300 ms tail reads better
            # than "300000 µs".
            lines.append(
                "  ".join(
                    f"{label} {fmt_ns(v)}"
                    for label, v in (
                        ("p50", s.p50_ns),
                        ("p90", s.p90_ns),
                        ("p99", s.p99_ns),
                        ("p99.9", s.p999_ns),
                        ("max", s.max_ns),
                    )
                )
            )
        if self.behind_schedule_s is not None:
            lines.append(f"behind schedule: worst {fmt_ns(self.behind_schedule_s * 1e9)}")
        errs = ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())) or "none"
        lines.append(f"errors: {errs}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<LoadResult {self}>".replace("\n", "; ")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))  # IPython / Jupyter: the readable multi-line form


# ---------------------------------------------------------------------------------------------
# Parent side


def run_load(
    host: str,
    port: int,
    *,
    request: Request,
    framer: ReplyFramer,
    mode: Literal["closed", "open"] = "closed",
    connections: int = 8,
    rate_per_s: float | None = None,
    duration_s: float = 2.0,
    warmup_s: float = 0.5,
    pipeline: int = 1,
    cpu: int | None = None,
    connect_timeout_s: float = 5.0,
    reply_timeout_s: float = 5.0,
    spin_us: int = 1000,
    name: str | None = None,
) -> LoadResult:
    """Drive ``host:port`` for ``warmup_s + duration_s`` seconds from a child process.

    ``request`` is bytes, a sequence of bytes (sent in turn) or a picklable callable
    ``i -> bytes`` (defined in an importable module: the child does not see a notebook's
    functions). ``framer`` is a framer instance (copied per connection). ``mode="open"`` needs
    ``rate_per_s`` (total over all connections). ``pipeline`` (closed loop only) sends that many
    requests back to back per turn; each reply is one sample. ``cpu`` pins the child to a core.
    ``connect_timeout_s`` and ``reply_timeout_s`` bound each connect and each reply (a reply
    timeout is counted and the connection reopened). ``spin_us``: see the module docstring (0
    trusts the loop's timer: less CPU, ~1 ms of send jitter). ``name`` names the recorder.
    Raises :class:`NoConnectionError` if no connection opened, :class:`LoadGenError` if the
    generator's process failed, ``ValueError`` for bad arguments.
    """
    if mode not in ("closed", "open"):
        raise ValueError(f"mode must be 'closed' or 'open', got {mode!r}")
    if connections < 1:
        raise ValueError(f"connections must be at least 1, got {connections}")
    if pipeline < 1 or (mode == "open" and pipeline != 1):
        raise ValueError("pipeline must be >= 1, and 1 in open loop (one request per slot)")
    if mode == "open" and not (rate_per_s and rate_per_s > 0):
        raise ValueError("open loop needs rate_per_s > 0 (requests per second, all connections)")
    if duration_s <= 0 or warmup_s < 0:
        raise ValueError("duration_s must be > 0 and warmup_s >= 0")
    if callable(request) and getattr(request, "__module__", None) == "__main__":
        raise ValueError(
            "request callable is defined in __main__ (a notebook or script), which the load "
            "generator's process cannot import; define it in a module or pass bytes"
        )
    cfg = _Config(
        host=host,
        port=port,
        request=request if callable(request) or isinstance(request, bytes) else tuple(request),
        framer=framer,
        mode=mode,
        connections=connections,
        rate_per_s=float(rate_per_s) if mode == "open" else None,
        duration_s=float(duration_s),
        warmup_s=float(warmup_s),
        pipeline=pipeline,
        cpu=cpu,
        connect_timeout_s=connect_timeout_s,
        reply_timeout_s=reply_timeout_s,
        spin_ns=int(spin_us * 1000),
    )
    pickle.dumps(cfg)  # fail here, with the real reason, rather than inside the child
    out = _run_in_child(cfg)
    if out["connected"] == 0:
        errs = ", ".join(f"{k}={v}" for k, v in sorted(out["errors"].items()))
        raise NoConnectionError(
            f"could not open any connection to {host}:{port} ({errs}); is the server running?"
        )
    samples: np.ndarray = out["samples"]
    rec = LatencyRecorder.from_array(name or f"{mode} loop", samples)
    elapsed = max(out["elapsed_s"], 1e-9)
    return LoadResult(
        mode=mode,
        recorder=rec,
        completed=int(samples.size),
        errors=dict(out["errors"]),
        elapsed_s=elapsed,
        throughput_per_s=samples.size / elapsed,
        connections=connections,
        rate_per_s=cfg.rate_per_s,
        behind_schedule_s=out["behind_ns"] / 1e9 if mode == "open" else None,
        pipeline=pipeline,
        event_loop=out["event_loop"],
        cpu=out["cpu"],
    )


@dataclass(frozen=True)
class _Config:
    host: str
    port: int
    request: Any
    framer: ReplyFramer
    mode: str
    connections: int
    rate_per_s: float | None
    duration_s: float
    warmup_s: float
    pipeline: int
    cpu: int | None
    connect_timeout_s: float
    reply_timeout_s: float
    spin_ns: int


def _run_in_child(cfg: _Config) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(cfg, send), name="loadgen", daemon=True)
    proc.start()
    send.close()  # so recv sees EOF if the child dies without answering
    # Interpreter start-up plus imports can take seconds on a busy machine; the run itself is
    # bounded by warm-up + duration + the last in-flight reply.
    budget = 60.0 + cfg.connect_timeout_s + cfg.warmup_s + cfg.duration_s + cfg.reply_timeout_s
    try:
        if not recv.poll(budget):
            raise LoadGenError(f"load generator gave no result within {budget:.0f} s")
        status, payload = recv.recv()
    except EOFError:
        proc.join(5)
        raise LoadGenError(
            f"load generator process died (exit code {proc.exitcode}); its traceback is on "
            "stderr. A script calling run_load needs `if __name__ == '__main__':` around its "
            "work, because the spawned process imports the main module again"
        ) from None
    except BaseException:  # interrupted (Ctrl-C in a notebook) or timed out: stop it now
        proc.kill()
        raise
    finally:
        recv.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if status != "ok":
        raise LoadGenError(f"load generator failed:\n{payload}")
    return payload


# ---------------------------------------------------------------------------------------------
# Child side


def _child_main(cfg: _Config, conn: Any) -> None:
    try:
        pinned = cfg.cpu is not None and pin_to_cpu(cfg.cpu)
        out = _run_event_loop(cfg)
        out["cpu"] = cfg.cpu if pinned else None
        conn.send(("ok", out))
    except BaseException:  # report anything, the parent turns it into LoadGenError
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _run_event_loop(cfg: _Config) -> dict[str, Any]:
    try:
        import uvloop

        factory, loop_name = uvloop.new_event_loop, "uvloop"
    except ImportError:
        factory, loop_name = None, "asyncio"
    # A collection pause in the generator would be charged to the server's latency. The run
    # makes few reference cycles (only failed futures), so collection waits until it ends.
    gc.collect()
    gc.disable()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            out = runner.run(_Run(cfg).main())
    finally:
        gc.enable()
    out["event_loop"] = loop_name
    return out


class _Closed(ConnectionError):
    """The server closed the connection (EOF) while a reply was awaited."""


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection_reset"
    if isinstance(exc, _Closed):
        return "connection_closed"
    if isinstance(exc, FramerError):
        return "framer_error"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno:
        return f"os_error_{errno.errorcode.get(exc.errno, exc.errno)}"
    return type(exc).__name__


class _ReplyProtocol(asyncio.Protocol):
    """One connection: feeds received bytes to its framer and stamps each complete reply."""

    def __init__(self, framer: ReplyFramer, loop: asyncio.AbstractEventLoop) -> None:
        self.framer = framer
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.want = 0
        self.done_ns: list[int] = []
        self.waiter: asyncio.Future[None] | None = None
        self.broken: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def expect(self, n: int) -> asyncio.Future[None]:
        self.want = n
        self.done_ns = []
        self.waiter = self.loop.create_future()
        return self.waiter

    def data_received(self, data: bytes) -> None:
        # The stamp is taken here, before the awaiting coroutine is resumed, so scheduling
        # delay inside the generator does not inflate the latency.
        now = time.perf_counter_ns()
        try:
            n = self.framer.feed(data)
            if n and len(self.done_ns) + n > self.want:
                raise FramerError(f"{n} replies arrived but {self.want} were expected")
        except FramerError as exc:
            self._fail(exc)
            if self.transport is not None:
                self.transport.abort()
            return
        if n:
            self.done_ns.extend([now] * n)
            if len(self.done_ns) >= self.want and self.waiter and not self.waiter.done():
                self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc if exc is not None else _Closed("server closed the connection"))

    def _fail(self, exc: BaseException) -> None:
        if self.broken is None:
            self.broken = exc
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("reply timeout"))


class _Run:
    """State of one run in the child: the schedule, the samples and the error counts."""

    def __init__(self, cfg: _Config) -> None:
        self.cfg = cfg
        self.samples = array.array("q")
        self.errors: Counter[str] = Counter()
        self.next_index = 0  # request counter handed to a callable ``request``
        self.next_slot = 0  # open loop: next unclaimed slot of the schedule
        self.behind_ns = 0
        self.last_reply_ns = 0
        req = cfg.request
        if isinstance(req, bytes):
            self.make: Callable[[int], bytes] = lambda i: req
        elif callable(req):
            self.make = req
        else:
            self.make = lambda i: req[i % len(req)]

    async def connect(self) -> _ReplyProtocol | None:
        loop = asyncio.get_running_loop()
        framer = copy.deepcopy(self.cfg.framer)
        framer.reset()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _ReplyProtocol(framer, loop), self.cfg.host, self.cfg.port
                ),
                self.cfg.connect_timeout_s,
            )
        except TimeoutError:
            self.errors["connect_timeout"] += 1
            return None
        except OSError as exc:
            self.errors[_error_kind(exc)] += 1
            return None
        return proto

    async def roundtrip(self, proto: _ReplyProtocol, n: int) -> int | None:
        """Send ``n`` requests back to back; the send time, or None on error (counted)."""
        payload = b"".join(self.make(self.next_index + i) for i in range(n))
        self.next_index += n
        fut = proto.expect(n)
        timer = proto.loop.call_later(self.cfg.reply_timeout_s, _expire, fut)
        t_send = time.perf_counter_ns()
        try:
            if proto.broken is not None:
                raise proto.broken
            proto.transport.write(payload)  # type: ignore[union-attr]
            await fut
        except (ConnectionError, OSError, FramerError, TimeoutError) as exc:
            kind = "reply_timeout" if isinstance(exc, TimeoutError) else _error_kind(exc)
            self.errors[kind] += 1
            if proto.transport is not None:
                proto.transport.abort()  # late bytes would be mistaken for the next reply
            return None
        finally:
            timer.cancel()
        return t_send

    async def main(self) -> dict[str, Any]:
        cfg = self.cfg
        protos = await asyncio.gather(*(self.connect() for _ in range(cfg.connections)))
        connected = sum(p is not None for p in protos)
        if connected:
            self.t0 = time.perf_counter_ns()
            self.warm_end = self.t0 + int(cfg.warmup_s * 1e9)
            self.t_end = self.warm_end + int(cfg.duration_s * 1e9)
            worker = self.closed_worker if cfg.mode == "closed" else self.open_worker
            await asyncio.gather(*(worker(p) for p in protos))
            for p in protos:
                if p is not None and p.transport is not None:
                    p.transport.close()
        out: dict[str, Any] = {
            "connected": connected,
            "samples": np.frombuffer(self.samples, dtype=np.int64).copy(),
            "errors": dict(self.errors),
            "behind_ns": self.behind_ns,
            "elapsed_s": 0.0,
        }
        if connected:
            end = max(self.last_reply_ns, self.t_end)
            out["elapsed_s"] = (end - self.warm_end) / 1e9
            if cfg.mode == "open":
                # Slots of the window that no connection reached before the end.
                period = 1e9 / cfg.rate_per_s
                window_slots = int(np.ceil((self.t_end - self.t0) / period))
                unsent = window_slots - self.next_slot
                if unsent > 0:
                    self.errors["unsent"] += unsent
                    out["errors"] = dict(self.errors)
        return out

    async def _usable(self, proto: _ReplyProtocol | None) -> _ReplyProtocol | None:
        if proto is not None and proto.broken is None:
            return proto
        proto = await self.connect()
        if proto is None:
            await asyncio.sleep(_RECONNECT_BACKOFF_S)
        return proto

    async def closed_worker(self, proto: _ReplyProtocol | None) -> None:
        k = self.cfg.pipeline
        while time.perf_counter_ns() < self.t_end:
            proto = await self._usable(proto)
            if proto is None:
                continue
            t_send = await self.roundtrip(proto, k)
            if t_send is not None and t_send >= self.warm_end:
                for t_done in proto.done_ns:
                    self.samples.append(t_done - t_send)
                self.last_reply_ns = max(self.last_reply_ns, proto.done_ns[-1])

    async def open_worker(self, proto: _ReplyProtocol | None) -> None:
        period = 1e9 / self.cfg.rate_per_s  # type: ignore[operator]
        spin = self.cfg.spin_ns
        # Slots of the window still unsent at its end are sent late rather than dropped (they
        # are the requests a stall delayed); only after a further reply timeout does it give up.
        give_up = self.t_end + int(self.cfg.reply_timeout_s * 1e9)
        while True:
            now = time.perf_counter_ns()
            intended = self.t0 + int(self.next_slot * period)
            if intended >= self.t_end or now >= give_up:
                return
            self.next_slot += 1
            # Wait for the slot: the loop's timer for the bulk (ms resolution), then polling.
            if intended - now > spin:
                await asyncio.sleep((intended - now - spin) / 1e9)
            while time.perf_counter_ns() < intended:
                await asyncio.sleep(0)
            proto = await self._usable(proto)
            if proto is None:
                continue  # the slot is lost; the failed connect was counted
            t_send = await self.roundtrip(proto, 1)
            if t_send is None or intended < self.warm_end:
                continue
            self.behind_ns = max(self.behind_ns, t_send - intended)
            self.samples.append(proto.done_ns[0] - intended)
            self.last_reply_ns = max(self.last_reply_ns, proto.done_ns[0])
