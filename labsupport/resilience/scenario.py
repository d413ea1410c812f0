"""One seeded run of the whole workflow on the simulator, and a fault matrix of many runs.

A run (FoundationDB's simulation test in miniature): build the six components on
:class:`labsupport.sim.Simulation`, let the strategy trade for ``trade_ns`` while a nemesis
attacks one component inside the fault window, then heal everything (links restored, crashed
components restarted, pauses lifted) and let the system settle for ``settle_ns`` so that
recovery can finish; record each component's final state and check the history. The run is a
pure function of :class:`RunSpec`: the same spec gives the same history, event for event
(:meth:`History.digest`), which is what makes a printed seed a bug report.

A matrix spreads ``runs`` over every (fault, component) cell, run ``i`` taking seed
``seed + i`` and cell ``i % cells``, so the replay of run ``i`` is ``--runs 1 --seed seed+i``
with that cell's fault and component.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from labsupport.sim import MS, US, Fixed, LogNormal, Simulation

from .checker import Violation, check, explain, kill_latencies_ns
from .component import Context, Limits
from .edge import DropCopy, Feed, Strategy
from .errors import ResilienceConfigError
from .exchange import Exchange
from .history import History
from .killswitch import KillSwitch
from .nemesis import COMPONENTS, inject
from .oms import Oms

__all__ = ["RunSpec", "RunResult", "SABOTAGE", "run", "run_matrix", "cells", "NODES",
           "replay_command", "summary_rows", "kill_latencies"]

SABOTAGE = ("no-idempotency", "no-journal", "ack-before-journal", "no-resend", "no-reconcile")
NODES = {"exchange": Exchange, "feed": Feed, "strategy": Strategy, "oms": Oms,
         "dropcopy": DropCopy, "kill": KillSwitch}
FINAL = ("exchange", "oms", "dropcopy")
KILL_LINE = LogNormal(80 * US, 0.4)  # a cross-connect of its own, not the OMS's network path


@dataclass(frozen=True)
class RunSpec:
    """Everything a run depends on."""

    seed: int = 0
    fault: str = "none"
    component: str = "oms"
    sabotage: str | None = None
    trade_ns: int = 700 * MS
    settle_ns: int = 500 * MS
    limits: Limits = field(default_factory=Limits)
    settings: tuple[tuple[str, Any], ...] = ()  # e.g. (("kill_at_ns", 500 * MS),)

    def __post_init__(self) -> None:
        if self.sabotage is not None and self.sabotage not in SABOTAGE:
            raise ResilienceConfigError(f"unknown sabotage {self.sabotage!r} "
                                        f"(known: {', '.join(SABOTAGE)})")
        if self.trade_ns < 400 * MS or self.settle_ns < 200 * MS:
            raise ResilienceConfigError("a run trades at least 400 ms and settles at least 200 ms "
                                        f"(trade_ns={self.trade_ns}, settle_ns={self.settle_ns})")
        if self.component not in COMPONENTS:
            raise ResilienceConfigError(f"unknown component {self.component!r} "
                                        f"(known: {', '.join(COMPONENTS)})")


@dataclass
class RunResult:
    spec: RunSpec
    history: History
    violations: list[Violation]
    sim: Simulation
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def explain(self) -> str:
        return "\n\n".join(explain(self.history, v) for v in self.violations)


def replay_command(spec: RunSpec) -> str:
    sab = f" --sabotage {spec.sabotage}" if spec.sabotage else ""
    return (f"python -m labsupport.resilience simulate --runs 1 --seed {spec.seed} "
            f"--faults {spec.fault} --components {spec.component}{sab} --out replay-{spec.seed}")


def run(spec: RunSpec, *, trace: bool = False,
        setup: Callable[[Simulation, Context], None] | None = None) -> RunResult:
    """Run one seeded scenario and check it; ``setup(sim, ctx)`` may schedule more (a test's
    own partition, say) before the run starts."""
    sim = Simulation(spec.seed, trace=trace)
    history = History(meta={"seed": spec.seed, "fault": spec.fault, "component": spec.component,
                            "sabotage": spec.sabotage, "replay": replay_command(spec),
                            "limits": (spec.limits.max_order_qty, spec.limits.max_position)})
    settings = {"trade_until_ns": spec.trade_ns, **dict(spec.settings)}
    ctx = Context(history, frozenset([spec.sabotage] if spec.sabotage else []), spec.limits,
                  observer_ns=lambda: sim.now_ns, defer=lambda t, fn: sim.at(t, fn),
                  alive=lambda node: sim.node(node.name) is node, settings=settings)
    torn = spec.fault in ("torn", "combined")
    for name, cls in NODES.items():
        sim.add_node(name, lambda cls=cls: cls(ctx), unsynced="random",
                     torn_writes=torn and name == spec.component)
    sim.net.set_default(latency=Fixed(500 * US))
    sim.net.set_link("kill", "exchange", latency=KILL_LINE)  # the switch's own line
    inject(sim, ctx, spec.fault, spec.component, 100 * MS, spec.trade_ns - 100 * MS)
    if setup is not None:
        setup(sim, ctx)
    sim.at(spec.trade_ns, _heal, sim, ctx)
    sim.run(until_ns=spec.trade_ns + spec.settle_ns)
    for name in FINAL:
        history.finals[name] = sim.node(name).final()  # type: ignore[union-attr]
    return RunResult(spec, history, check(history), sim)


def _heal(sim: Simulation, ctx: Context) -> None:
    ctx.history.fault(sim.now_ns, "heal", "every fault lifted, every component up")
    sim.net.heal()
    for a in sim.hosts:
        for b in sim.hosts:
            if a < b:
                sim.net.reset_link(a, b)
    sim.net.set_link("kill", "exchange", latency=KILL_LINE)
    for name, host in sim.hosts.items():
        if not host.up:
            sim.restart(name)
    ctx.paused_until.clear()
    ctx.silent_until.clear()
    ctx.reject_until.clear()
    ctx.fsync_ns.clear()


def cells(faults: Iterable[str], components: Iterable[str]) -> list[tuple[str, str]]:
    return [(f, c) for f in faults for c in components]


def run_matrix(runs: int, seed: int, faults: Iterable[str], components: Iterable[str] = COMPONENTS,
               sabotage: str | None = None, base: RunSpec | None = None
               ) -> Iterator[RunResult]:
    """Yield ``runs`` results spread over the (fault, component) cells."""
    grid = cells(faults, components)
    base = base or RunSpec()
    for i in range(runs):
        fault, component = grid[i % len(grid)]
        yield run(replace(base, seed=seed + i, fault=fault, component=component,
                          sabotage=sabotage))


def summary_rows(results: Iterable[RunResult]) -> dict[tuple[str, str], list[int]]:
    """``(fault, component) -> [runs, violating runs]``."""
    rows: dict[tuple[str, str], list[int]] = {}
    for r in results:
        row = rows.setdefault((r.spec.fault, r.spec.component), [0, 0])
        row[0] += 1
        row[1] += bool(r.violations)
    return rows


def kill_latencies(seeds: Iterable[int], fault: str = "partition", component: str = "oms",
                   kill_at_ns: int = 300 * MS) -> list[int]:
    """Trigger-to-last-cancel of a manual kill at ``kill_at_ns`` in each seeded run, while
    ``fault`` hits ``component`` (the kill switch's own line is not attacked)."""
    out = []
    for seed in seeds:
        r = run(RunSpec(seed=seed, fault=fault, component=component,
                        settings=(("kill_at_ns", kill_at_ns),)))
        out += kill_latencies_ns(r.history)
    return out
