"""The nemeses: eleven kinds of failure (and their combination), each seeded, aimed at one component.

Jepsen calls the process that injects faults the *nemesis*. Each kind here is a function that,
given the simulation, the component it targets and a random stream derived from the run's seed,
schedules its faults inside the run's fault window and writes each one into the history (so a
violation can print the schedule that caused it):

================  ==================================================================  ==========
fault             what happens to the target                                         model
================  ==================================================================  ==========
``loss``          20 % of the messages on its links are lost                          omission
``delay``         latency log-normal around 3 ms, jitter, 20 % reordered              timing
``duplicate``     30 % of its messages arrive twice                                   omission
``partition``     cut off from everyone, three times, 30-200 ms                       omission
``halves``        it and its neighbour cut off from the other half                    omission
``crash``         crash (memory lost, journal kept), restart 20-80 ms later, x3       crash-rec.
``torn``          crash while an fsync is slow, with torn writes on its disk          crash-rec.
``pause``         frozen 30-150 ms (SIGSTOP, a GC pause): events wait, then all run   timing
``skew``          its clock offset by up to 0.5 s and drifting up to 2000 ppm         timing
``grey``          deaf for 20-100 ms while heartbeating; the exchange also rejects    byzantine-
                  new orders (``throttled``) for a while                              lite
``slow-disk``     every fsync takes 5-20 ms                                           timing
``combined``      three of the above at once, chosen by the seed                      all
================  ==================================================================  ==========

The same names drive live runs (:mod:`.live`), where the kinds a real machine can do (kill -9,
SIGSTOP, proxy delay, proxy cut) are done for real.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from labsupport.sim import MS, LogNormal, Simulation

from .component import Context
from .errors import ResilienceConfigError

__all__ = ["FAULTS", "COMPONENTS", "inject", "parse_faults", "parse_components"]

COMPONENTS = ("feed", "strategy", "oms", "exchange", "dropcopy")
_RING = {c: COMPONENTS[(i + 1) % len(COMPONENTS)] for i, c in enumerate(COMPONENTS)}


def _links(sim: Simulation, target: str, **params) -> str:
    for other in sim.hosts:
        if other != target:
            sim.net.set_link(target, other, **params)
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _windows(rng: random.Random, start: int, end: int, n: int, lo: int, hi: int):
    """``n`` fault windows ``(t, duration)``, one in each n-th of the fault window, so they
    never overlap (a crash of a node already down would be no fault at all)."""
    slot = (end - start) // n
    for i in range(n):
        d = rng.randrange(lo, max(lo + 1, min(hi, slot // 2)))
        yield start + i * slot + rng.randrange(0, slot - d), d


def _loss(sim, ctx, target, rng, start, end, note):
    sim.at(start, lambda: note("loss", _links(sim, target, loss=0.2)))


def _delay(sim, ctx, target, rng, start, end, note):
    sim.at(start, lambda: note("delay", _links(sim, target, latency=LogNormal(3 * MS, 0.8),
                                               jitter_ns=2 * MS, reorder=0.2)))


def _duplicate(sim, ctx, target, rng, start, end, note):
    sim.at(start, lambda: note("duplicate", _links(sim, target, duplicate=0.3)))


def _partition(sim, ctx, target, rng, start, end, note):
    for t, d in _windows(rng, start, end, 3, 30 * MS, 200 * MS):
        sim.at(t, lambda d=d: (sim.net.isolate(target), note("partition", f"{d // MS} ms")))
        sim.at(t + d, lambda: (sim.net.heal(target), note("heal", target)))


def _halves(sim, ctx, target, rng, start, end, note):
    side = [target, _RING[target]]
    rest = [n for n in sim.hosts if n not in side and n != "kill"]
    for t, d in _windows(rng, start, end, 3, 30 * MS, 200 * MS):
        sim.at(t, lambda d=d: (sim.net.partition(side, rest),
                               note("halves", f"{'+'.join(side)} | {'+'.join(rest)} {d // MS} ms")))
        sim.at(t + d, lambda: (sim.net.heal(), note("heal", "all")))


def _crash(sim, ctx, target, rng, start, end, note):
    for t, d in _windows(rng, start, end, 3, 20 * MS, 80 * MS):
        sim.at(t, lambda d=d: note("crash", f"{target}, lost/torn={sim.crash(target)}, "
                                            f"restart in {d // MS} ms"))
        sim.at(t + d, lambda: (sim.restart(target), note("restart", target)))


def _torn(sim, ctx, target, rng, start, end, note):
    ctx.fsync_ns[target] = 2 * MS
    _crash(sim, ctx, target, rng, start, end, note)


def _for_a_while(sim, table: dict[str, int], who: str, windows, note, name: str,
                 what: str) -> None:
    """At each window's start, set ``table[who]`` to its end (a pause, deafness, throttling)."""
    for t, d in windows:
        def begin(d=d):
            table[who] = sim.now_ns + d
            note(name, f"{what} {d // MS} ms")
        sim.at(t, begin)


def _pause(sim, ctx, target, rng, start, end, note):
    _for_a_while(sim, ctx.paused_until, target, _windows(rng, start, end, 3, 30 * MS, 150 * MS),
                 note, "pause", target)


def _skew(sim, ctx, target, rng, start, end, note):
    offset = rng.choice((-1, 1)) * rng.randrange(50 * MS, 500 * MS)
    drift = rng.choice((-1, 1)) * rng.uniform(100, 2000)
    ctx.skew[target] = (offset, drift)
    note("skew", f"{target} offset {offset // MS} ms, drift {drift:.0f} ppm")


def _grey(sim, ctx, target, rng, start, end, note):
    _for_a_while(sim, ctx.silent_until, target, _windows(rng, start, end, 2, 20 * MS, 100 * MS),
                 note, "grey", f"{target} deaf")
    _for_a_while(sim, ctx.reject_until, "exchange", _windows(rng, start, end, 1, 20 * MS,
                                                             100 * MS),
                 note, "grey", "exchange rejects new orders")


def _slow_disk(sim, ctx, target, rng, start, end, note):
    ctx.fsync_ns[target] = rng.randrange(5 * MS, 20 * MS)
    note("slow-disk", f"{target} fsync {ctx.fsync_ns[target] // MS} ms")


Nemesis = Callable[..., None]
_SINGLE: dict[str, Nemesis] = {
    "loss": _loss, "delay": _delay, "duplicate": _duplicate, "partition": _partition,
    "halves": _halves, "crash": _crash, "torn": _torn, "pause": _pause, "skew": _skew,
    "grey": _grey, "slow-disk": _slow_disk,
}
FAULTS = (*_SINGLE, "combined")


def inject(sim: Simulation, ctx: Context, fault: str, target: str, start_ns: int,
           end_ns: int) -> None:
    """Schedule ``fault`` against ``target`` between ``start_ns`` and ``end_ns``."""
    rng = sim.stream(f"nemesis/{fault}/{target}")

    def note(name: str, detail: str) -> None:
        ctx.history.fault(sim.now_ns, name, detail)

    if fault == "none":
        return
    if fault == "combined":
        for name in rng.sample(sorted(_SINGLE), 3):
            _SINGLE[name](sim, ctx, target, rng, start_ns, end_ns, note)
        return
    _SINGLE[fault](sim, ctx, target, rng, start_ns, end_ns, note)


def _parse(text: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    if text == "all":
        return known
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for n in names:
        if n not in known and not (what == "fault" and n == "none"):
            raise ResilienceConfigError(f"unknown {what} {n!r} (known: {', '.join(known)})")
    if not names:
        raise ResilienceConfigError(f"no {what} given (known: {', '.join(known)}, or all)")
    return names


def parse_faults(text: str) -> tuple[str, ...]:
    return _parse(text, FAULTS, "fault")


def parse_components(text: str) -> tuple[str, ...]:
    return _parse(text, COMPONENTS, "component")
