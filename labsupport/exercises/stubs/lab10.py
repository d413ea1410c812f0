"""Lab 10 exercises: edit these, then run ``python -m labsupport check 10``.

Each function below is checked against the exchange's own code
(``labsupport/exercises/lab10.py``), which prints one PASS/FAIL line per case.
"""

from __future__ import annotations


# 10.1 The MsgSeqNum rule.
# A FIX session expects MsgSeqNum `expected` and receives `received` (PossDupFlag 43=Y when
# `poss_dup`). Return "process" (it is the expected one), "resend" (too high: messages were
# lost, ask for them), "ignore" (too low but a possible duplicate) or "logout" (too low, no
# PossDupFlag: the session cannot continue).
def seq_action(expected: int, received: int, poss_dup: bool) -> str:
    return "process"  # trusts every number


# 10.2 Applying updates after a snapshot.
# A subscriber took a snapshot that includes every update up to `snapshot_seq`, and has
# buffered updates numbered `seqs` (in arrival order). Return the numbers to apply, in order,
# or None if a number is missing after the snapshot (then it needs a new snapshot).
def after_snapshot(snapshot_seq: int, seqs: list[int]) -> list[int] | None:
    raise NotImplementedError


# 10.3 Per-hop latency.
# `stamps` is a message's list of [hop name, time in ns] in the order the hops happened.
# Return {"a->b": time at b - time at a} for each consecutive pair.
def hops(stamps: list[list]) -> dict[str, int]:
    raise NotImplementedError
