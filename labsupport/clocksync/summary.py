"""What a run comes to: convergence time, the residual true offset after it, the RTS 25 verdict.

MiFID II RTS 25 (Commission Delegated Regulation (EU) 2017/574, table 2) asks a high-frequency
trading venue's members to keep business clocks within 100 µs of UTC with 1 µs granularity; the
master here stands for UTC, so the verdict is whether every true offset after convergence is
within 100 µs. Convergence is the first exchange after which the true offset never again
leaves ``converge_ns`` (1 µs); a run that never settles is summarised over its second half.
The second half's percentiles are given as well, as the steady state (after convergence still
includes the servo settling from 1 µs down to its noise floor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Summary", "summarize", "percentile", "RTS25_NS"]

RTS25_NS = 100_000


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0-100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


@dataclass(frozen=True, slots=True)
class Summary:
    rows: int
    converged_s: float | None
    p50_ns: float
    p99_ns: float
    max_ns: float
    within_rts25: bool
    steady_p50_ns: float
    steady_p99_ns: float

    def lines(self) -> list[str]:
        conv = (f"converged in {self.converged_s:.3f} s" if self.converged_s is not None
                else "did not converge to within 1 us (statistics over the second half)")
        verdict = "PASS" if self.within_rts25 else "FAIL"
        return [f"exchanges: {self.rows}", conv,
                f"|true offset| after convergence: p50 {self.p50_ns:.0f} ns, "
                f"p99 {self.p99_ns:.0f} ns, max {self.max_ns:.0f} ns",
                f"|true offset| in the second half (steady state): p50 {self.steady_p50_ns:.0f} ns,"
                f" p99 {self.steady_p99_ns:.0f} ns",
                f"MiFID II RTS 25 (within 100 us of the reference): {verdict}"]


def summarize(t_s: Sequence[float], true_offset_ns: Sequence[float], *,
              converge_ns: float = 1_000.0) -> Summary:
    """Summarise one slave's rows (times and true offsets, in order)."""
    n = len(t_s)
    last_bad = max((i for i in range(n) if abs(true_offset_ns[i]) > converge_ns), default=-1)
    if 0 <= last_bad < n - 1 or (last_bad == -1 and n):
        start, converged = last_bad + 1, t_s[last_bad + 1]
    else:
        start, converged = n // 2, None
    tail = sorted(abs(x) for x in true_offset_ns[start:])
    mx = tail[-1] if tail else float("nan")
    half = t_s[-1] / 2 if n else 0.0
    steady = sorted(abs(x) for t, x in zip(t_s, true_offset_ns) if t > half)
    return Summary(n, converged, percentile(tail, 50), percentile(tail, 99), mx,
                   bool(tail) and mx <= RTS25_NS, percentile(steady, 50), percentile(steady, 99))
