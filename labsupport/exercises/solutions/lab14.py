"""Reference solutions of notebook 14's exercises (CI checks that they pass)."""

from collections import Counter

_EDGES = {
    "pending-new": {"new", "rejected"},
    "new": {"partially-filled", "filled", "pending-cancel", "cancelled"},
    "partially-filled": {"partially-filled", "filled", "pending-cancel", "cancelled"},
    "pending-cancel": {"pending-cancel", "new", "partially-filled", "filled", "cancelled"},
    "filled": set(), "cancelled": set(), "rejected": set(),
}


def _step(state, new):
    if new not in _EDGES[state]:
        raise ValueError(f"illegal transition {state} -> {new}")
    return new


def apply_status(state, status):
    if state in ("filled", "cancelled", "rejected"):
        if status != state:
            raise ValueError(f"illegal transition {state} -> {status}")
        return state
    if status == "rejected":
        return _step(state, "rejected")
    if state == "pending-new":
        state = _step(state, "new")
    if status in ("filled", "cancelled"):
        return _step(state, status)
    if status == "partially-filled" and state == "new":
        return _step(state, status)
    return state


class InOrderReceiver:
    def __init__(self):
        self.next = 1
        self.held = {}

    def receive(self, seq, payload):
        if seq < self.next or seq in self.held:
            return [], None
        if seq > self.next:
            self.held[seq] = payload
            return [], (self.next, seq - 1)
        out = [payload]
        self.next += 1
        while self.next in self.held:
            out.append(self.held.pop(self.next))
            self.next += 1
        return out, None

    def expect(self, next_seq):
        if self.held:
            return self.next, min(self.held) - 1
        return (self.next, next_seq - 1) if next_seq > self.next else None


def retry_delay(attempt, rng):
    if attempt + 1 >= 6:
        return None
    ceiling = min(200_000_000, 10_000_000 * 2 ** attempt)
    return ceiling // 2 + int(rng.random() * (ceiling - ceiling // 2))


def fills_not_once(exchange_fills, oms_fills):
    seen = Counter(oms_fills)
    bad = {e for e in exchange_fills if seen[e] != 1} | (set(seen) - set(exchange_fills))
    return sorted(bad)
