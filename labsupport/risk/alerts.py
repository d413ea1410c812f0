"""Limit alerts with hysteresis: a state per (account, metric) that escalates, then clears.

A risk desk watches each account's drawdown, historical VaR, margin utilization and gross
exposure against their limits. Raising an alert every time a value crosses a line would flap
(a value hovering at 80 % of its limit would alert on every tick), so each (account, metric)
pair has a state that only escalates until the value has clearly come back:

::

                  >= 80 %                >= 100 %
        none ------------------> warn -----------------> breach
         ^ |                      |                        |
         | +------- >= 100 % -----|----------------------->+   (a jump past 100 %: breach only)
         |        < 70 %          |        < 70 %          |
         +--------- clear --------+<-------- clear --------+

A value falling back between 70 % and 100 % emits nothing: warn stays warn, breach stays
breach. Each transition is one :class:`Alert`, in event order.

Theory of operation: the engine reduces a value to its *zone* against the limit (0: below
70 %, 1: 70-80 %, 2: 80-100 %, 3: at or over 100 %) by integer cross-multiplication (no
division, no float: a value exactly at 80 % is a warn on every machine), and the transition is
one lookup in :data:`TRANSITIONS`. The engine keeps each account's four states in a list
on the account (:attr:`~.positions.AccountRisk.alert_state`), indexed like :data:`METRICS`.
A drawdown breach is what turns on the kill switch; that
is the engine's rule, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALERT_HEADER", "METRICS", "NONE", "WARN", "BREACH", "TRANSITIONS", "Alert",
           "transition", "zone"]

METRICS = ("drawdown", "var_hist", "margin_utilization", "gross_exposure")
ALERT_HEADER = "seq,account,metric,level,value,limit"
NONE, WARN, BREACH = 0, 1, 2

# TRANSITIONS[state][zone] = (new state, level emitted or None)
TRANSITIONS: tuple[tuple[tuple[int, str | None], ...], ...] = (
    ((NONE, None), (NONE, None), (WARN, "warn"), (BREACH, "breach")),  # from none
    ((NONE, "clear"), (WARN, None), (WARN, None), (BREACH, "breach")),  # from warn
    ((NONE, "clear"), (BREACH, None), (BREACH, None), (BREACH, None)),  # from breach
)


def zone(a: int, b: int) -> int:
    """Where the ratio ``a / b`` (b > 0) falls: 0 below 0.7, 1 below 0.8, 2 below 1, 3 at or
    over 1. Integers in, so exactly 80 % is zone 2 and exactly 100 % is zone 3."""
    a10 = 10 * a
    if a10 >= 10 * b:
        return 3
    if a10 >= 8 * b:
        return 2
    if a10 >= 7 * b:
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class Alert:
    """One state change of one (account, metric): ``level`` is warn, breach or clear; value
    and limit are exact decimal text in the metric's unit (currency, or a ratio)."""

    seq: int
    ts_ns: int
    account: str
    metric: str
    level: str
    value: str
    limit: str

    def row(self) -> str:
        return f"{self.seq},{self.account},{self.metric},{self.level},{self.value},{self.limit}"


def transition(state: int, z: int) -> tuple[int, str | None]:
    """One step of the hysteresis: (new state, level to emit or None)."""
    return TRANSITIONS[state][z]
