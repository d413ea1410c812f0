"""Whether a backend server may take requests: active checks, passive ejection, retry budget.

Mirrors Envoy's health checking and outlier detection (nginx's ``max_fails``/``fail_timeout``
are the passive half), as sans-IO state with an injected clock.

Theory of operation
-------------------
Each server has two independent verdicts; it is *available* when both say yes:

* **active** (``record_check``): a prober asks ``health_path`` every interval; ``threshold``
  consecutive failures mark it down, ``threshold`` consecutive successes mark it up again.
  Without a health path the active verdict is always up.
* **passive**, a circuit breaker fed by real traffic (``record_success``/``record_failure``)::

      closed --eject_after consecutive failures--> open (ejected)
        ^                                            | eject_s passes
        |<-- the trial request succeeds -- half-open (one trial request in flight)
                                               | it fails: open again, eject time doubled
                                               v (capped at 8 x eject_s)

  A failure is a refused or reset connection, a timeout, a malformed response or a 5xx
  answer. Open means ejected: the balancer never sees the server. Half-open admits one
  request at a time, so a dead server costs one request per ejection period, not a storm.

``RetryBudget`` bounds retries to a fraction of requests (Finagle's and Envoy's retry budget):
every request deposits ``ratio`` of a token, every retry spends one, and ``min_per_s`` tokens
a second are always available so a quiet service can still retry. Without it, a backend that
slows down receives ``1 + retries`` times its load exactly when it can least take it: the
retry storm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "RetryBudget", "ServerState"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(slots=True, eq=False)
class ServerState:
    """One backend server of a pool: address, load and health (see the module docstring)."""

    host: str
    port: int
    eject_after: int = 5
    eject_s: float = 5.0
    threshold: int = 2
    inflight: int = 0
    active_up: bool = True
    breaker: str = CLOSED
    failures: int = 0  # consecutive, real traffic
    open_until_s: float = 0.0
    open_for_s: float = 0.0
    trial_inflight: bool = False
    check_streak: int = 0  # consecutive active results contrary to active_up
    ejections: int = 0
    requests: int = 0
    name: str = field(default="")

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.host}:{self.port}"

    # -- may it take a request now? ------------------------------------------------------
    def available(self, now_s: float) -> bool:
        if not self.active_up:
            return False
        if self.breaker is CLOSED:
            return True
        if self.breaker is OPEN:
            if now_s < self.open_until_s:
                return False
            self.breaker = HALF_OPEN
        return not self.trial_inflight

    def begin(self) -> None:
        """A request is sent to this server (call after ``available`` said yes)."""
        self.inflight += 1
        self.requests += 1
        if self.breaker is HALF_OPEN:
            self.trial_inflight = True

    def end(self) -> None:
        self.inflight -= 1

    # -- passive results -----------------------------------------------------------------
    def record_success(self) -> None:
        self.failures = 0
        if self.breaker is not CLOSED:
            self.breaker = CLOSED
            self.open_for_s = 0.0
        self.trial_inflight = False

    def record_failure(self, now_s: float) -> None:
        self.failures += 1
        if self.breaker is HALF_OPEN:
            self._open(now_s, min(self.open_for_s * 2, 8 * self.eject_s))
        elif self.breaker is CLOSED and self.failures >= self.eject_after:
            self._open(now_s, self.eject_s)
        self.trial_inflight = False

    def _open(self, now_s: float, for_s: float) -> None:
        self.breaker = OPEN
        self.open_for_s = for_s
        self.open_until_s = now_s + for_s
        self.ejections += 1

    # -- active results ------------------------------------------------------------------
    def record_check(self, ok: bool) -> None:
        """One active health check result; ``threshold`` in a row flip the verdict."""
        if ok == self.active_up:
            self.check_streak = 0
            return
        self.check_streak += 1
        if self.check_streak >= self.threshold:
            self.active_up = ok
            self.check_streak = 0
            if ok:  # a server the prober sees back gets a fresh start
                self.breaker = CLOSED
                self.failures = 0
                self.trial_inflight = False


class RetryBudget:
    """Tokens for retries: ``ratio`` per request, ``min_per_s`` a second, at most ``cap``."""

    def __init__(self, ratio: float = 0.2, min_per_s: float = 10.0, cap: float = 100.0,
                 now_s: float = 0.0) -> None:
        self.ratio = ratio
        self.min_per_s = min_per_s
        self.cap = cap
        self.tokens = min(cap, min_per_s)
        self.last_s = now_s
        self.spent = 0
        self.denied = 0

    def deposit(self, now_s: float) -> None:
        """A request arrived."""
        elapsed = max(0.0, now_s - self.last_s)
        self.last_s = now_s
        self.tokens = min(self.cap, self.tokens + self.ratio + elapsed * self.min_per_s)

    def try_spend(self) -> bool:
        """A retry is wanted: True (and one token spent) when the budget allows it."""
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.spent += 1
            return True
        self.denied += 1
        return False
