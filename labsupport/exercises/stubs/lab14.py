"""Your solutions to notebook 14's exercises. Check them with `python -m labsupport check 14`
(or `check("14.1", apply_status)` in the notebook)."""

import random  # noqa: F401 (for your code)


def apply_status(state, status):
    """14.1: the order's state after the exchange reports ``status`` (new, partially-filled,
    filled, cancelled, rejected), moving only along legal edges: pending-new goes through new
    first; a report that would go backwards (new after a fill) or that only says "a fill" while a
    cancel is pending changes nothing; rejected is legal only from pending-new; nothing leaves
    filled, cancelled or rejected (raise an error). As it is: believes every report."""
    return status


class InOrderReceiver:
    """14.2: ``receive(seq, payload)`` returns ``(payloads delivered now, in order, each once;
    (begin, end) to ask for again, or None)``: hold what is beyond a gap, drop duplicates.
    ``expect(next_seq)`` (a heartbeat said the sender's next number is ``next_seq``) returns
    the range still missing, or None. As it is: delivers whatever arrives."""

    def receive(self, seq, payload):
        return [payload], None

    def expect(self, next_seq):
        return None


def retry_delay(attempt, rng):
    """14.3: nanoseconds to wait after send number ``attempt`` (0-based) before the next: uniform
    in [ceiling / 2, ceiling] with ceiling = min(200 ms, 10 ms x 2 ** attempt); None once six
    sends were made (attempt 5 and later). As it is: 10 ms for ever."""
    return 10_000_000


def fills_not_once(exchange_fills, oms_fills):
    """14.4: the sorted execution ids not in the OMS exactly once: missing, doubled, or never
    made by the exchange. As it is: a checker that cannot fail."""
    return []
