"""A Jepsen-style checker: invariants over a run's recorded history and final states.

Jepsen (Kingsbury) checks a distributed system by recording what clients observed and asking
afterwards whether any correct system could have produced it. Here the "clients" are the
components and the questions are the workflow's safety properties, each a function of the
:class:`~.history.History`:

=====================  ========================================================================
invariant              holds when
=====================  ========================================================================
``state-machine``      the OMS never received a report its order state machine forbids
``unique-order``       no client order id became two orders at the exchange
``fills-once``         every exchange fill of the desk is in the OMS exactly once, and in the
                       drop copy, and neither has a fill the exchange never made
``positions-agree``    the OMS's, the exchange's and the drop copy's final positions are equal
``orders-resolved``    every order the exchange acknowledged is terminal on both sides with the
                       same state and quantity, or open on both sides; the OMS has no working
                       order the exchange does not
``kill-respected``     no desk order was accepted after the exchange acknowledged the kill
``risk-limits``        no accepted order exceeded the max order quantity, and the position at
                       the exchange never exceeded the max position
=====================  ========================================================================

A violation carries the ids it is about; :func:`excerpt` keeps the shortest stretch of history
that mentions them (plus the faults and restarts in that stretch) and :func:`explain` prints it
with the seed, the fault schedule and the command that replays the run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from .history import Event, History
from .orders import FILLED, TERMINAL, WORKING

__all__ = ["INVARIANTS", "Violation", "check", "excerpt", "explain", "kill_latencies_ns"]

INVARIANTS = ("state-machine", "unique-order", "fills-once", "positions-agree", "orders-resolved",
              "kill-respected", "risk-limits")


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    message: str
    keys: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "message": self.message, "keys": list(self.keys)}


def check(h: History) -> list[Violation]:
    """Every violation in the history, in the order of :data:`INVARIANTS`."""
    ex, oms, dc = h.finals["exchange"], h.finals["oms"], h.finals["dropcopy"]
    out = [Violation("state-machine", f"order {e.fields[0]}: the OMS was told {e.fields[1]} -> "
                     f"{e.fields[2]}", (e.fields[0],)) for e in h.of("oms", "illegal")]
    out += _unique(ex)
    out += _fills(ex, oms, dc)
    out += _positions(ex, oms, dc)
    out += _resolved(ex, oms)
    out += _kill(h)
    out += _risk(h)
    return out


def _unique(ex) -> list[Violation]:
    per_client = Counter(cid for cid, _status, _cum in ex["orders"].values())
    return [Violation("unique-order", f"client order id {cid} is {n} orders at the exchange",
                      (cid,)) for cid, n in per_client.items() if n > 1]


def _fills(ex, oms, dc) -> list[Violation]:
    out = []
    by_exec = {f[0]: f[1] for f in ex["fills"]}
    seen = Counter(oms["fills"])
    for exec_id, cid in by_exec.items():
        if seen[exec_id] != 1:
            out.append(Violation("fills-once", f"exchange fill {exec_id} of {cid} is in the OMS "
                                 f"{seen[exec_id]} times", (cid, exec_id)))
    for exec_id in sorted(set(seen) - set(by_exec)):
        out.append(Violation("fills-once", f"the OMS has fill {exec_id}, which the exchange "
                             "never made", (exec_id,)))
    missing = sorted(set(by_exec) - set(dc["fills"]))
    if missing:
        out.append(Violation("fills-once", f"the drop copy lacks {len(missing)} fills, first "
                             f"{missing[0]} of {by_exec[missing[0]]}",
                             (by_exec[missing[0]], missing[0])))
    return out


def _positions(ex, oms, dc) -> list[Violation]:
    p = (oms["position"], ex["position"], dc["position"])
    if len(set(p)) == 1:
        return []
    return [Violation("positions-agree", f"final positions differ: OMS {p[0]}, exchange {p[1]}, "
                      f"drop copy {p[2]}")]


def _resolved(ex, oms) -> list[Violation]:
    out = []
    mine = oms["orders"]
    at_exchange = {}
    for cid, status, cum in ex["orders"].values():
        at_exchange[cid] = (status, cum)
    for cid, (status, cum) in at_exchange.items():
        ours = mine.get(cid)
        if ours is None:
            out.append(Violation("orders-resolved", f"the exchange has order {cid} ({status}, "
                                 f"{cum} filled) that the OMS does not know", (cid,)))
            continue
        state, ours_cum = ours
        agree = (state == status) if status in TERMINAL else (state in WORKING)
        if not agree or cum != ours_cum:
            out.append(Violation("orders-resolved", f"order {cid}: exchange {status} {cum} "
                                 f"filled, OMS {state} {ours_cum} filled", (cid,)))
    for cid, (state, _cum) in mine.items():
        if cid not in at_exchange and (state in WORKING or state == FILLED):
            out.append(Violation("orders-resolved", f"the OMS has order {cid} {state}, which "
                                 "the exchange never accepted", (cid,)))
    return out


def _kill(h: History) -> list[Violation]:
    kills = h.of("exchange", "kill")
    if not kills:
        return []
    t = kills[0].t_ns
    return [Violation("kill-respected", f"order {e.fields[0]} accepted {(e.t_ns - t) / 1e6:.3f} "
                      "ms after the kill", (e.fields[0],))
            for e in h.of("exchange", "accept") if e.t_ns > t]


def _risk(h: History) -> list[Violation]:
    max_qty, max_pos = h.meta.get("limits", (1 << 62, 1 << 62))
    out = [Violation("risk-limits", f"order {e.fields[0]} of {e.fields[3]} exceeds "
                     f"max_order_qty {max_qty}", (e.fields[0],))
           for e in h.of("exchange", "accept") if e.fields[3] > max_qty]
    for e in h.of("exchange", "fill"):
        if abs(e.fields[-1]) > max_pos:
            out.append(Violation("risk-limits", f"position {e.fields[-1]} after fill "
                                 f"{e.fields[0]} exceeds max_position {max_pos}", (e.fields[1],)))
            break
    return out


def excerpt(h: History, v: Violation, limit: int = 16) -> list[Event]:
    """The shortest stretch of history that shows ``v``: every event naming one of its ids, from
    the first to the last, with the faults and restarts that happened in between."""
    keys = {k for k in v.keys if isinstance(k, str)}  # client order ids: unambiguous
    hits = [i for i, e in enumerate(h.events) if not keys.isdisjoint(e.fields)]
    if not hits:
        return [e for e in h.events if e.component == "nemesis"][:limit]
    hit = set(hits)
    chosen = [e for i, e in enumerate(h.events[hits[0]:hits[-1] + 1], hits[0])
              if i in hit or e.component == "nemesis" or e.kind == "restart"]
    return chosen[:limit]


def explain(h: History, v: Violation) -> str:
    """What a failing run prints: the invariant, the seed, the faults, the excerpt, the replay."""
    lines = [f"VIOLATION {v.invariant}: {v.message}",
             f"  seed {h.meta.get('seed')}, fault {h.meta.get('fault')} on "
             f"{h.meta.get('component')}, sabotage {h.meta.get('sabotage') or 'none'}",
             "  fault schedule:"]
    lines += [f"    {t / 1e6:10.3f} ms  {name:<10} {detail}" for t, name, detail in h.faults] \
        or ["    (none)"]
    lines.append("  history excerpt:")
    lines += ["    " + e.show() for e in excerpt(h, v)]
    lines.append(f"  replay: {h.meta.get('replay')}")
    return "\n".join(lines)


def kill_latencies_ns(h: History) -> list[int]:
    """Trigger to last cancel: the kill switch's trigger time to the exchange's mass cancel."""
    triggers = h.of("kill", "trigger")
    kills = h.of("exchange", "kill")
    if not triggers or not kills:
        return []
    return [kills[0].t_ns - triggers[0].t_ns]
