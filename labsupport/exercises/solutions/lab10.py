"""Reference solutions of the Lab 10 exercises."""

from __future__ import annotations


def seq_action(expected: int, received: int, poss_dup: bool) -> str:
    if received == expected:
        return "process"
    if received > expected:
        return "resend"
    return "ignore" if poss_dup else "logout"


def after_snapshot(snapshot_seq: int, seqs: list[int]) -> list[int] | None:
    fresh = [s for s in seqs if s > snapshot_seq]
    wanted = list(range(snapshot_seq + 1, snapshot_seq + 1 + len(fresh)))
    return fresh if fresh == wanted else None


def hops(stamps: list[list]) -> dict[str, int]:
    return {f"{a[0]}->{b[0]}": b[1] - a[1] for a, b in zip(stamps, stamps[1:])}
