"""The gateway's counters, rendered in the Prometheus text exposition format (version 0.0.4).

Served at ``/__gateway/metrics``: requests by route, status and upstream; a latency histogram
with cumulative ``le`` buckets; requests in flight; ejections; cache hits and misses; requests
refused by the rate limiter; retries. Plain dicts of counters: one increment per event, and
the text is built only when scraped.
"""

from __future__ import annotations

import bisect
from collections import Counter

__all__ = ["BUCKETS_S", "Metrics"]

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, int, str]] = Counter()
        self.buckets = [0] * (len(BUCKETS_S) + 1)
        self.latency_sum_s = 0.0
        self.in_flight = 0
        self.counters: Counter[str] = Counter()  # cache_hits, rate_limited, retries, ...

    def observe(self, route: str, status: int, upstream: str, latency_s: float) -> None:
        self.requests[(route, status, upstream)] += 1
        self.buckets[bisect.bisect_left(BUCKETS_S, latency_s)] += 1
        self.latency_sum_s += latency_s

    def count(self, status: int) -> int:
        """Requests answered with ``status``, all routes."""
        return sum(n for (_, s, _), n in self.requests.items() if s == status)

    def render(self, ejections: int = 0) -> str:
        out = ["# HELP gateway_requests_total Requests answered, by route, status and upstream.",
               "# TYPE gateway_requests_total counter"]
        for (route, status, upstream), n in sorted(self.requests.items()):
            out.append(f'gateway_requests_total{{route="{route}",status="{status}",'
                       f'upstream="{upstream}"}} {n}')
        out += ["# HELP gateway_request_duration_seconds Time from request to response head.",
                "# TYPE gateway_request_duration_seconds histogram"]
        total = 0
        for le, n in zip((*BUCKETS_S, float("inf")), self.buckets, strict=True):
            total += n
            label = "+Inf" if le == float("inf") else f"{le:g}"
            out.append(f'gateway_request_duration_seconds_bucket{{le="{label}"}} {total}')
        out.append(f"gateway_request_duration_seconds_sum {self.latency_sum_s:.6f}")
        out.append(f"gateway_request_duration_seconds_count {total}")
        gauges = {"gateway_in_flight": self.in_flight, "gateway_ejections_total": ejections}
        for name in ("cache_hits", "cache_misses", "rate_limited", "retries", "retries_denied",
                     "coalesced"):
            gauges[f"gateway_{name}_total"] = self.counters[name]
        for name, value in gauges.items():
            kind = "gauge" if name == "gateway_in_flight" else "counter"
            out += [f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(out) + "\n"
