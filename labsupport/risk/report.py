"""The engine's outputs as files: decisions, alerts, final metrics and the metrics timeline.

What ``python -m labsupport.risk run`` writes into its output directory:

==============  ===========================================================================
decisions.csv   ``seq,order_id,decision,reason``: one row per order, ``accept`` or
                ``reject`` (reason empty on accept; see :data:`.checks.REASONS`)
alerts.csv      ``seq,account,metric,level,value,limit``: every alert state change
metrics.csv     the final state, one row per account seen, by name (header
                :data:`.positions.METRICS_HEADER`)
timeline.csv    ``seq,ts_ns,`` + the metrics columns: every account a fill or mark changed,
                after that event (what the notebook plots)
==============  ===========================================================================

Money is exact decimal text (rounded half-even to 8 places only where a value is finer, a
VaR interpolation or a margin); ``var_ewma`` has 8 decimals; ``halted`` is 0 or 1. The whole
input is read and checked before any file is written, so a malformed row leaves no partial
output behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .alerts import ALERT_HEADER
from .engine import DECISION_HEADER, RiskEngine
from .events import Event, read_events_file
from .limits import LimitsFile, load_limits
from .positions import METRICS_HEADER

__all__ = ["TIMELINE_HEADER", "RunOutput", "run", "run_files"]

TIMELINE_HEADER = "seq,ts_ns," + METRICS_HEADER


@dataclass
class RunOutput:
    """The rows of the four files (no headers), and the engine that made them."""

    engine: RiskEngine
    decisions: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[str]:
        return [a.row() for a in self.engine.alerts]

    @property
    def metrics(self) -> list[str]:
        return [m.row() for m in self.engine.all_metrics()]

    def write(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, header, rows in (("decisions.csv", DECISION_HEADER, self.decisions),
                                   ("alerts.csv", ALERT_HEADER, self.alerts),
                                   ("metrics.csv", METRICS_HEADER, self.metrics),
                                   ("timeline.csv", TIMELINE_HEADER, self.timeline)):
            with open(out_dir / name, "w", encoding="utf-8", newline="") as f:
                f.write(header + "\n")
                for row in rows:
                    f.write(row + "\n")

    def counts(self) -> dict[str, int]:
        accepted = sum(1 for r in self.decisions if ",accept," in r)
        return {"events": self.engine.events, "orders": len(self.decisions),
                "accepted": accepted, "rejected": len(self.decisions) - accepted,
                "alerts": len(self.engine.alerts), "accounts": len(self.engine.accounts),
                "unknown_fills": self.engine.unknown_fills}


def run(events: Iterable[Event], limits: LimitsFile | str = "", *,
        timeline: bool = True) -> RunOutput:
    """Feed every event to a fresh engine and collect the rows of the four files."""
    engine = RiskEngine(limits, clock=lambda: 0)
    out = RunOutput(engine)
    decisions, rows = out.decisions, out.timeline
    for ev in events:
        d = engine.process(ev)
        if d is not None:
            decisions.append(d.row())
        elif timeline and engine.touched:
            head = f"{ev.seq},{ev.ts_ns},"
            for name in engine.touched:
                rows.append(head + engine.accounts[name].metrics().row())
    return out


def run_files(events_path: str | Path, limits_path: str | Path, out_dir: str | Path
              ) -> dict[str, int]:
    """The ``run`` command: limits and the whole event file are read before anything is
    written. Raises :class:`~.events.EventError`, :class:`~.limits.LimitsError` or OSError."""
    limits = load_limits(limits_path)
    out = run(list(read_events_file(events_path)), limits)
    out.write(Path(out_dir))
    return out.counts()
