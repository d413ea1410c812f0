"""Where the time goes: per-hop latency from the stamps every order message carries.

Each order message collects ``[hop, monotonic ns]`` stamps on its way: ``gateway_in`` (the
gateway parsed the FIX message), ``risk_in``/``risk_out``, ``match_in``/``match_out``, and the
gateway notes the time it wrote the acknowledgement. ``CLOCK_MONOTONIC`` is one clock for every
process of a machine, so differences across processes are meaningful (across machines they
would need Lab 15's clock synchronisation). :func:`hop_breakdown` turns one message's stamps
into hop durations; :func:`breakdown_table` summarises many acknowledgements as percentiles
per hop, the table the notebook plots.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["breakdown_table", "hop_breakdown", "HOP_NAMES"]

HOP_NAMES = {"gateway_in->risk_in": "gateway -> risk (bus)", "risk_in->risk_out": "risk checks",
             "risk_out->match_in": "risk -> matching (bus)", "match_in->match_out": "matching",
             "match_out->ack": "matching -> gateway, report"}


def hop_breakdown(stamps: list[list]) -> dict[str, int]:
    """``{"a->b": t_b - t_a}`` for each consecutive pair of ``[name, ns]`` stamps."""
    return {f"{a[0]}->{b[0]}": b[1] - a[1] for a, b in zip(stamps, stamps[1:])}


def breakdown_table(acks: Iterable[tuple[list, int]]) -> dict[str, dict[str, float]]:
    """Percentiles (microseconds) of each hop over acknowledgements ``(stamps, ack_ns)``,
    plus ``total`` (gateway in to acknowledgement written)."""
    per: dict[str, list[int]] = {}
    for stamps, ack in acks:
        if not stamps:
            continue
        for hop, ns in hop_breakdown([*stamps, ["ack", ack]]).items():
            per.setdefault(hop, []).append(ns)
        per.setdefault("total", []).append(ack - stamps[0][1])
    out = {}
    for hop, values in per.items():
        a = np.asarray(values, dtype=np.float64) / 1000.0
        out[HOP_NAMES.get(hop, hop)] = {"n": int(a.size), "p50_us": round(float(np.percentile(a, 50)), 1),
                                        "p99_us": round(float(np.percentile(a, 99)), 1)}
    return out
