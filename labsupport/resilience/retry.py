"""Bounded retries with exponential backoff and jitter, as a pure function of a seed.

AWS's "Exponential Backoff and Jitter" (Brooker, 2015) and gRPC's connection backoff: the n-th
retry waits a random time below ``min(cap, base * factor**n)``, so many
clients that failed together do not retry together ("equal jitter": the wait is uniform in
the upper half of the ceiling, so a retry never fires at once), and after ``max_attempts`` sends the caller
gives up and falls back to something else (here: asking the exchange for the order's status).
The random stream is injected: in simulation it is the node's own seeded stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    base_ns: int = 10_000_000
    factor: float = 2.0
    cap_ns: int = 200_000_000
    max_attempts: int = 6

    def delay_ns(self, attempt: int, rng: random.Random) -> int | None:
        """How long to wait after send number ``attempt`` (0-based) before the next one, or
        None when the attempts are used up."""
        if attempt + 1 >= self.max_attempts:
            return None
        ceiling = min(self.cap_ns, int(self.base_ns * self.factor ** attempt))
        return ceiling // 2 + int(rng.random() * (ceiling - ceiling // 2))
