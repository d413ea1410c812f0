"""Reference solutions of notebook 05's exercises (CI checks that they pass)."""

import bisect
import hashlib

NS = 1_000_000_000


class Gcra:
    def __init__(self, rate_per_s, burst):
        self.interval_ns = round(NS / rate_per_s)
        self.tolerance_ns = burst * self.interval_ns
        self.tat_ns = None

    def allow(self, now_s):
        now = round(now_s * NS)
        tat = now if self.tat_ns is None or self.tat_ns < now else self.tat_ns
        if tat - now > self.tolerance_ns:
            return False
        self.tat_ns = tat + self.interval_ns
        return True


def _h(data):
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class Ring:
    def __init__(self, names, vnodes=160):
        pairs = sorted((_h(f"{n}#{v}".encode()), n) for n in names for v in range(vnodes))
        self.points = [p for p, _ in pairs]
        self.owners = [n for _, n in pairs]

    def owner(self, key, available=None):
        i = bisect.bisect_left(self.points, _h(key))
        n = len(self.points)
        for step in range(n):
            name = self.owners[(i + step) % n]
            if available is None or name in available:
                return name
        return None


def ttl(route_ttl_s, cache_control):
    if not cache_control:
        return route_ttl_s
    directives = {}
    for part in cache_control.decode("latin-1").lower().split(","):
        name, _, value = part.strip().partition("=")
        directives[name] = value.strip('"')
    if {"no-store", "private", "no-cache"} & directives.keys():
        return 0.0
    for name in ("s-maxage", "max-age"):
        if name in directives:
            value = directives[name]
            return float(value) if value.isdigit() else 0.0
    return route_ttl_s
